// The reduced-precision routes (ops_lowp.h). Arguments were checked by the callers in ops.cpp / ops_fused.cpp.
#include "kernels/ops_lowp.h"

#include <atomic>

#include "kernels/cpu/dnnl_engine.h"
#include "kernels/op_checks.h"
#include "kernels/ops.h"

namespace bigcolor::ops::lowp {

namespace {

std::atomic<bool> force_emulation{false};
thread_local const char* engine_used = "none";

// The native bf16 engine takes this call: a CPU tensor, bf16, and a CPU that runs bf16 natively.
bool native(Device device) {
  const bool yes = device == Device::CPU && compute_precision() == Precision::BF16 && !force_emulation.load() &&
                   cpu::dnnl_engine::bf16_native();
  engine_used = yes ? "native" : "emulated";
  return yes;
}

// An F32 copy of `t` rounded to the thread's format (undefined stays undefined).
Tensor rounded(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor r = Tensor::empty(t.shape(), DType::F32, t.device());
  ops::round_to(r, t, operand_dtype(compute_precision()));
  return r;
}

}  // namespace

const char* last_engine() { return engine_used; }
void set_force_emulation(bool force) { force_emulation.store(force); }

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  if (native(in.device())) return cpu::dnnl_engine::conv2d_forward(out, in, weight, bias, padding, false);
  BIGCOLOR_DISPATCH(in.device(), conv2d_forward(out, rounded(in), rounded(weight), bias, padding));
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  if (native(in.device()))
    return cpu::dnnl_engine::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding, false);
  // d_bias sums d_out itself, never rounded: bias gradients are not a matrix product.
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), conv2d_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight, padding));
  if (!d_in.defined() && !d_weight.defined()) return;
  BIGCOLOR_DISPATCH(in.device(), conv2d_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in),
                                                 rounded(weight), padding));
}

void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  if (native(in.device())) return cpu::dnnl_engine::conv2d_forward(out, in, weight, bias, 1, true);
  BIGCOLOR_DISPATCH(in.device(), upconv3x3_forward(out, rounded(in), rounded(weight), bias));
}

void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight) {
  if (native(in.device()))
    return cpu::dnnl_engine::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, 1, true);
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), upconv3x3_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight));
  if (!d_in.defined() && !d_weight.defined()) return;
  BIGCOLOR_DISPATCH(in.device(),
                    upconv3x3_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in), rounded(weight)));
}

// The linear layers, batched matmuls and the attention core are a small share of BigColor's time (the linear
// layers act on (B, 148) vectors; attention runs once, at 64×64 for a 256² photo), so they take the emulated route
// on every device.
void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(in.device(), linear_forward(out, rounded(in), rounded(weight), bias));
}

void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight) {
  engine_used = "emulated";
  if (d_bias.defined()) BIGCOLOR_DISPATCH(in.device(), linear_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight));
  if (!d_in.defined() && !d_weight.defined()) return;
  BIGCOLOR_DISPATCH(in.device(),
                    linear_backward(d_in, d_weight, Tensor{}, rounded(d_out), rounded(in), rounded(weight)));
}

void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(a.device(), bmm_forward(out, rounded(a), rounded(b), trans_a, trans_b));
}

void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b) {
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(a.device(), bmm_backward(d_a, d_b, rounded(d_out), rounded(a), rounded(b), trans_a, trans_b));
}

// θ, φ and g rounded; the softmax, its log-sum-exp and the probabilities P stay F32 (autocast keeps softmax in
// F32 too; P·g then reads F32 P against rounded g).
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(theta.device(), attention_forward(out, lse, rounded(theta), rounded(phi), rounded(g)));
}

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse) {
  engine_used = "emulated";
  BIGCOLOR_DISPATCH(theta.device(), attention_backward(d_theta, d_phi, d_g, rounded(d_out), rounded(theta),
                                                       rounded(phi), rounded(g), out, lse));
}

}  // namespace bigcolor::ops::lowp
