// The native bf16 / fp16 engine of the CUDA backend (ops_lowp.h routes to it): the autocast ops' operands are
// converted to the format once per call (weights marked immutable once per process, kept by storage id), the
// products run on the tensor cores with FP32 accumulation, and the results land in the ops' F32 tensors.
//   linear, bmm:       cublasGemmStridedBatchedEx, A and B in the format, C in F32 (CUBLAS_COMPUTE_32F): the same
//                      numbers as the emulated engine up to the order of the F32 sums;
//   conv2d, upconv3x3: cuDNN with x, w and y in the format (its bf16/fp16 configurations have no F32 output), so
//                      the forward result and the data/filter gradients are rounded to the format once before they
//                      are widened to F32 (as under torch.autocast, where they are bf16/fp16 tensors). The upconv's
//                      nearest ×2 upsampling is done while converting its input, and its data gradient is summed
//                      over each 2×2 block from the format back into F32.
//   attention core:    the forward on tensor cores (attention_tc.cu, WMMA: θᵀφ and g·Pᵀ with operands in the
//                      format, FP32 accumulation and softmax, P rounded to the format for the second product, as
//                      the CPU's native engine); the backward's five products through cuBLAS over blocks of queries
//                      (attention_backward_tc.cu), P and dS rounded to the format between them.
// Bias terms are added in F32; bias gradients are not products and stay on the FP32 path (ops_lowp). Shapes as in ops.h; every
// tensor argument is F32 on the GPU unless it says otherwise. `format` is DType::BF16 or DType::F16.
#pragma once

#include "tensor/tensor.h"

namespace bigcolor::cuda {

// cuDNN primitives on same-format tensors (conv2d.cu): stride 1, `padding` on every side. Results overwrite.
void cudnn_conv_forward(const Tensor& y, const Tensor& x, const Tensor& w, int padding);
void cudnn_conv_backward_data(const Tensor& dx, const Tensor& dy, const Tensor& w, int padding);
void cudnn_conv_backward_filter(const Tensor& dw, const Tensor& x, const Tensor& dy, int padding);
// out (B, C, H, W) F32 += bias (C), when bias is defined.
void add_conv_bias(const Tensor& out, const Tensor& bias);

namespace lowp {

// This GPU has tensor cores for `format` (bf16: compute capability 8.0 or later; fp16: 7.0 or later).
bool native_available(DType format);

// `t` (F32, on the GPU) converted to `format`: a new tensor, or for an immutable tensor (a fixed weight) the copy
// made on its first use, kept until its storage is freed.
Tensor in_format(const Tensor& t, DType format);

// Forward results overwrite `out`; bias (F32) is added in F32 when defined.
void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, DType format);
// d_in overwrites, d_weight accumulates; either may be undefined.
void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_out, const Tensor& in,
                     const Tensor& weight, DType format);
void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, DType format);
void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b, DType format);
// conv2d (upsample = false) or upconv3x3 (upsample = true: nearest ×2, then a 3×3 convolution, padding 1).
void conv_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding,
                  bool upsample, DType format);
// d_in overwrites, d_weight accumulates; either may be undefined.
void conv_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_out, const Tensor& in,
                   const Tensor& weight, int padding, bool upsample, DType format);

// The attention core's forward (shapes as ops::attention_forward; Ck, M and Cv at least 1) for Ck up to 256,
// which attention_forward_supported tells.
bool attention_forward_supported(std::int64_t ck);
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g,
                       DType format);
// Its backward (attention_backward_tc.cu; every size with B, N, Ck, M and Cv at least 1): d_theta, d_phi and d_g
// overwrite, each may be undefined; `out` and `lse` are the forward's.
void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out, const Tensor& lse,
                        DType format);

}  // namespace lowp
}  // namespace bigcolor::cuda
