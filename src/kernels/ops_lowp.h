// Internal to src/kernels: the reduced-precision routes of the autocast ops. The checked dispatchers (ops.cpp,
// ops_fused.cpp) call these after their checks when the thread's precision (kernels/precision.h) is not FP32.
//
// What "computing in bf16/fp16" means here (torch.autocast's lists, with one difference): the operands of the
// matrix products (activations, weights and, in the backward, the incoming gradient) are rounded to the format and
// multiplied with F32 accumulation; bias, outputs and gradients stay F32 tensors, as every op's. (Autocast also
// stores the outputs in the format; keeping them F32 spares every other op a conversion and costs no accuracy.)
// Two engines give the same numbers up to the order of the F32 sums (and, for cuDNN, one rounding of the result):
//   native:   bf16 convolutions and the attention core's forward on the CPU through oneDNN (AMX /
//             AVX512-BF16), cpu/dnnl_engine.h; on the GPU (bf16 from compute capability 8.0, fp16 from 7.0) the
//             convolutions through cuDNN, linear / bmm through cuBLAS, the attention core's forward in
//             bigcolor's WMMA kernel and its backward's products through cuBLAS, on the tensor cores,
//             cuda/lowp_engine.h;
//   emulated: the operands rounded to the format in F32 copies (ops::round_to), then the FP32 kernel: every other
//             case (fp16 on the CPU, a CPU without native bf16, a build without oneDNN, linear and bmm on the CPU,
//             the attention core's backward on the CPU), and every case under BIGCOLOR_LOWP_ENGINE=emulated.
#pragma once

#include <string>

#include "kernels/precision.h"
#include "tensor/tensor.h"

namespace bigcolor::ops::lowp {

// The thread's precision is not FP32.
inline bool active() { return compute_precision() != Precision::FP32; }

// A convolution over one input channel (B, 1, H, W) stays FP32 in every precision: in BigColor it is the encoder's
// first convolution, which reads the gray photo itself. Its reduction is at most kh·kw = 9 products, which neither
// tensor cores nor AMX speed up (it is memory-bound), and rounding the photo's values and those few weights to the
// format is where most of a reduced-precision colorize's error came from: on the bundled model of the time (width
// 16, a real photo) bf16's normalized error of the network output was 1.19e-2 with it in bf16 and 4.2e-3 with it in
// FP32, fp16's 1.5e-3 and 4.7e-4 (the 1×1 shortcut over the same channel changed nothing either way). Autocast would
// run it in the format; this is the one measured departure from its lists.
inline bool conv_stays_fp32(const Tensor& in) { return in.ndim() == 4 && in.dim(1) == 1; }

// Which engine ran the last call of this thread ("native" or "emulated"), for tests and benchmarks.
const char* last_engine();
// What computes the convolutions of `precision` on `device`, for people: "fp32" (no reduced precision),
// "oneDNN <isa>", "cuDNN, cuBLAS and the attention kernel on tensor cores" or "emulated".
std::string engine_description(Device device, Precision precision);
// Forces the emulated engine on this process (the tests compare both engines; the benchmarks measure both).
void set_force_emulation(bool force);

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding);
void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding);
void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias);
void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight);
void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias);
void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight);
void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b);
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g);
void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse);

}  // namespace bigcolor::ops::lowp
