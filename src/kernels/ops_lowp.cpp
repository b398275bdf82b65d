// The reduced-precision routes (ops_lowp.h). Arguments were checked by the callers in ops.cpp / ops_fused.cpp.
#include "kernels/ops_lowp.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/dnnl_engine.h"
#include "kernels/op_checks.h"
#include "kernels/ops.h"
#ifdef BIGCOLOR_WITH_CUDA
#include "kernels/cuda/lowp_engine.h"
#endif

namespace bigcolor::ops::lowp {

namespace {

// BIGCOLOR_LOWP_ENGINE=emulated in the environment forces the emulated engine everywhere (a way around a native
// engine that misbehaves on some machine; the emulated one is the reference).
bool emulation_from_environment() {
  const char* v = std::getenv("BIGCOLOR_LOWP_ENGINE");
  return v != nullptr && std::strcmp(v, "emulated") == 0;
}

std::atomic<bool> force_emulation{emulation_from_environment()};
thread_local const char* engine_used = "none";

// The native engine computes `precision` on `device`: bf16 on a CPU that runs it natively (oneDNN), or bf16 / fp16
// on a GPU with tensor cores for the format (kernels/cuda/lowp_engine.h).
bool native_for(Device device, Precision precision) {
  if (precision == Precision::FP32 || force_emulation.load()) return false;
  if (device == Device::CPU) return precision == Precision::BF16 && cpu::dnnl_engine::bf16_native();
#ifdef BIGCOLOR_WITH_CUDA
  return cuda::lowp::native_available(operand_dtype(precision));
#else
  return false;
#endif
}

// The native engine takes this call (the thread's precision on `device`).
bool native(Device device) {
  const bool yes = native_for(device, compute_precision());
  engine_used = yes ? "native" : "emulated";
  return yes;
}

[[maybe_unused]] DType format() { return operand_dtype(compute_precision()); }

// An F32 copy of `t` rounded to the thread's format (undefined stays undefined).
Tensor rounded(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor r = Tensor::empty(t.shape(), DType::F32, t.device());
  ops::round_to(r, t, operand_dtype(compute_precision()));
  return r;
}

}  // namespace

const char* last_engine() { return engine_used; }

std::string engine_description(Device device, Precision precision) {
  if (precision == Precision::FP32) return "fp32";
  if (!native_for(device, precision)) return "emulated";
  if (device == Device::CPU) return std::string("oneDNN ") + cpu::dnnl_engine::isa_name();
  return "cuDNN, cuBLAS and the attention kernel on tensor cores";
}
void set_force_emulation(bool force) { force_emulation.store(force); }

// On the GPU the native engine needs the CUDA backend's header, which a CPU-only build lacks: NATIVE_CUDA(call)
// runs cuda::lowp::call there and is never reached in a CPU-only build (native() is false for a GPU tensor).
#ifdef BIGCOLOR_WITH_CUDA
#define NATIVE_CUDA(call) cuda::lowp::call
#else
#define NATIVE_CUDA(call) ::bigcolor::detail::throw_error("reduced precision: no CUDA backend in this build")
#endif

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  if (native(in.device())) {
    if (in.device() == Device::CPU) return cpu::dnnl_engine::conv2d_forward(out, in, weight, bias, padding, false);
    return NATIVE_CUDA(conv_forward(out, in, weight, bias, padding, false, format()));
  }
  BIGCOLOR_DISPATCH(in.device(), conv2d_forward(out, rounded(in), rounded(weight), bias, padding));
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  const bool use_native = native(in.device());
  if (use_native && in.device() == Device::CPU)
    return cpu::dnnl_engine::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding, false);
  // d_bias sums d_out itself, never rounded: bias gradients are not a matrix product.
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), conv2d_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight, padding));
  if (!d_in.defined() && !d_weight.defined()) return;
  if (use_native) return NATIVE_CUDA(conv_backward(d_in, d_weight, d_out, in, weight, padding, false, format()));
  BIGCOLOR_DISPATCH(in.device(), conv2d_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in),
                                                 rounded(weight), padding));
}

void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  if (native(in.device())) {
    if (in.device() == Device::CPU) return cpu::dnnl_engine::conv2d_forward(out, in, weight, bias, 1, true);
    return NATIVE_CUDA(conv_forward(out, in, weight, bias, 1, true, format()));
  }
  BIGCOLOR_DISPATCH(in.device(), upconv3x3_forward(out, rounded(in), rounded(weight), bias));
}

void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight) {
  const bool use_native = native(in.device());
  if (use_native && in.device() == Device::CPU)
    return cpu::dnnl_engine::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, 1, true);
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), upconv3x3_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight));
  if (!d_in.defined() && !d_weight.defined()) return;
  if (use_native) return NATIVE_CUDA(conv_backward(d_in, d_weight, d_out, in, weight, 1, true, format()));
  BIGCOLOR_DISPATCH(in.device(),
                    upconv3x3_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in), rounded(weight)));
}

// The linear layers and batched matmuls are a small share of BigColor's time (the linear layers act on (B, 148)
// vectors; the bmm ops serve the classifiers), so on the CPU they take the emulated route; on the GPU cuBLAS runs
// them on the tensor cores.
namespace {
bool native_gpu(Device device) {
  if (device == Device::CUDA) return native(device);
  engine_used = "emulated";
  return false;
}
}  // namespace

void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  if (native_gpu(in.device())) return NATIVE_CUDA(linear_forward(out, in, weight, bias, format()));
  BIGCOLOR_DISPATCH(in.device(), linear_forward(out, rounded(in), rounded(weight), bias));
}

void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight) {
  const bool use_native = native_gpu(in.device());
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), linear_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight));
  if (!d_in.defined() && !d_weight.defined()) return;
  if (use_native) return NATIVE_CUDA(linear_backward(d_in, d_weight, d_out, in, weight, format()));
  BIGCOLOR_DISPATCH(in.device(),
                    linear_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in), rounded(weight)));
}

void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  if (native_gpu(a.device())) return NATIVE_CUDA(bmm_forward(out, a, b, trans_a, trans_b, format()));
  BIGCOLOR_DISPATCH(a.device(), bmm_forward(out, rounded(a), rounded(b), trans_a, trans_b));
}

void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b) {
  if (native_gpu(a.device())) return NATIVE_CUDA(bmm_backward(d_a, d_b, d_out, a, b, trans_a, trans_b, format()));
  BIGCOLOR_DISPATCH(a.device(), bmm_backward(d_a, d_b, rounded(d_out), rounded(a), rounded(b), trans_a, trans_b));
}

#undef NATIVE_CUDA

// Emulated: θ, φ and g rounded; the softmax, its log-sum-exp and the probabilities P stay F32 (autocast keeps
// softmax in F32 too; P·g then reads F32 P against rounded g). Native, the forward only (what colorize runs; at a
// 768×1024 photo's 49,152 × 12,288 scores the CPU's FP32 kernel took a third of the bf16 colorize): the same with P
// rounded to the format for the second product, on a CPU with bf16 through oneDNN, on a GPU with the tensor-core
// kernel (attention_tc.cu; Ck up to 256). The backward: native on the GPU (attention_backward_tc.cu: its products
// through cuBLAS on the tensor cores, P and dS rounded to the format between them), emulated on the CPU (no oneDNN
// route for it yet).
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  // Empty inner sizes (Ck, M or Cv = 0) are left to the FP32 kernel, which defines them.
  const bool sized = theta.dim(1) > 0 && phi.dim(2) > 0 && g.dim(1) > 0;
  if (sized && native(theta.device())) {
    if (theta.device() == Device::CPU) return cpu::dnnl_engine::attention_forward(out, lse, theta, phi, g);
#ifdef BIGCOLOR_WITH_CUDA
    if (cuda::lowp::attention_forward_supported(theta.dim(1)))
      return cuda::lowp::attention_forward(out, lse, theta, phi, g, format());
#endif
  }
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(theta.device(), attention_forward(out, lse, rounded(theta), rounded(phi), rounded(g)));
}

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse) {
#ifdef BIGCOLOR_WITH_CUDA
  // Empty sizes are left to the FP32 kernel, as in the forward.
  const bool sized = theta.dim(0) > 0 && theta.dim(1) > 0 && theta.dim(2) > 0 && phi.dim(2) > 0 && g.dim(1) > 0;
  if (sized && theta.device() == Device::CUDA && native(theta.device()))
    return cuda::lowp::attention_backward(d_theta, d_phi, d_g, d_out, theta, phi, g, out, lse, format());
#endif
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(theta.device(), attention_backward(d_theta, d_phi, d_g, rounded(d_out), rounded(theta),
                                                       rounded(phi), rounded(g), out, lse));
}

}  // namespace bigcolor::ops::lowp
