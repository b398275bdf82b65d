#include "layers/attention.h"

#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor {

Attention::Attention(std::int64_t channels, float sn_eps)
    : gamma(add_parameter("gamma", {})),
      theta(channels, channels / 8, 1, 0, false, sn_eps),
      phi(channels, channels / 8, 1, 0, false, sn_eps),
      g(channels, channels / 2, 1, 0, false, sn_eps),
      o(channels / 2, channels, 1, 0, false, sn_eps),
      channels_(channels) {
  BIGCOLOR_CHECK(channels >= 8 && channels % 8 == 0, "Attention: ", channels,
                 " channels; SA-GAN attention needs a positive multiple of 8 (theta and phi have channels/8)");
  add_child("theta", theta);
  add_child("phi", phi);
  add_child("g", g);
  add_child("o", o);
}

Tensor Attention::forward(const Tensor& x) {
  BIGCOLOR_CHECK(x.ndim() == 4 && x.dim(1) == channels_ && x.dim(2) % 2 == 0 && x.dim(3) % 2 == 0,
                 "Attention(", channels_, "): input ", x.describe(), " must be (B, ", channels_,
                 ", H, W) with even H and W");
  const std::int64_t b = x.dim(0), n = x.dim(2) * x.dim(3), m = n / 4;
  const Tensor theta_out = theta.forward(x).reshape({b, channels_ / 8, n});
  const Tensor phi_full = phi.forward(x);
  const Tensor phi_pooled = fn::maxpool2x2(phi_full).reshape({b, channels_ / 8, m});
  const Tensor g_full = g.forward(x);
  const Tensor g_pooled = fn::maxpool2x2(g_full).reshape({b, channels_ / 2, m});
  Tensor attn = Tensor::empty({b, channels_ / 2, n}, DType::F32, x.device());
  Tensor lse = Tensor::empty({b, n}, DType::F32, x.device());
  ops::attention_forward(attn, lse, theta_out, phi_pooled, g_pooled);
  const Tensor o_out = o.forward(attn.reshape({b, channels_ / 2, x.dim(2), x.dim(3)}));
  const float gamma_now = fn::item(gamma.value);
  const Tensor out = fn::add(fn::scale(o_out, gamma_now), x);
  saved_.save(*this, {gamma_now, phi_full, g_full, theta_out, phi_pooled, g_pooled, attn, lse, o_out});
  return out;
}

Tensor Attention::backward(const Tensor& d_out) {
  const Saved s = saved_.take("Attention");
  const std::int64_t b = d_out.dim(0), h = d_out.dim(2), w = d_out.dim(3);
  // d gamma += Σ d_out ⊙ o(attn)   (gamma has shape (): viewed as (1) to add into; nothing when frozen)
  if (const Tensor& d_gamma_total = grad_of(gamma); d_gamma_total.defined()) {
    Tensor d_gamma = Tensor::empty({1}, DType::F32, d_out.device());
    ops::sum_forward(d_gamma, fn::mul(d_out, s.o_out));
    fn::add_into(d_gamma_total.reshape({1}), d_gamma);
  }

  const Tensor d_attn = o.backward(fn::scale(d_out, s.gamma)).reshape(s.attn.shape());
  Tensor d_theta = fn::empty_like(s.theta), d_phi = fn::empty_like(s.phi), d_g = fn::empty_like(s.g);
  ops::attention_backward(d_theta, d_phi, d_g, d_attn, s.theta, s.phi, s.g, s.attn, s.lse);

  Tensor d_x = d_out.clone();  // the residual branch
  const Shape pooled_phi = {b, channels_ / 8, h / 2, w / 2}, pooled_g = {b, channels_ / 2, h / 2, w / 2};
  fn::add_into(d_x, g.backward(fn::maxpool2x2_backward(d_g.reshape(pooled_g), s.g_full)));
  fn::add_into(d_x, phi.backward(fn::maxpool2x2_backward(d_phi.reshape(pooled_phi), s.phi_full)));
  fn::add_into(d_x, theta.backward(d_theta.reshape({b, channels_ / 8, h, w})));
  return d_x;
}

}  // namespace bigcolor
