#include "layers/norms.h"

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor {

ConditionalNorm::ConditionalNorm(std::int64_t channels, float eps, float momentum, bool relu)
    : stored_mean(add_buffer("stored_mean", {channels})),
      stored_var(add_buffer("stored_var", {channels})),
      eps_(eps),
      momentum_(momentum),
      relu_(relu) {
  stored_var.fill(1.0f);
}

Tensor ConditionalNorm::forward(const Tensor& x, const Tensor& y) {
  const Device d = x.device();
  const Tensor linear_gain = gain_linear(y);  // (B, C)
  Tensor gain = Tensor::empty(linear_gain.shape(), DType::F32, d);
  ops::add_forward(gain, linear_gain, Tensor::full(linear_gain.shape(), 1.0f, d));  // 1 + gain(y)
  const Tensor bias = bias_linear(y);
  Tensor out = Tensor::empty(x.shape(), DType::F32, d);
  Tensor saved_mean = Tensor::empty({x.dim(1)}, DType::F32, d), saved_invstd = Tensor::empty({x.dim(1)}, DType::F32, d);
  ops::ccbn_forward(out, saved_mean, saved_invstd, stored_mean, stored_var, x, gain, bias, training(), momentum_, eps_,
                    relu_);
  saved_.save(*this, {x, gain, out, saved_mean, saved_invstd});
  return out;
}

ConditionalNorm::Gradients ConditionalNorm::backward(const Tensor& d_out) {
  const Saved s = saved_.take("class-conditional norm");
  const Device d = s.x.device();
  Gradients g;
  g.d_x = Tensor::empty(s.x.shape(), DType::F32, d);
  Tensor d_gain = Tensor::empty(s.gain.shape(), DType::F32, d), d_bias = Tensor::empty(s.gain.shape(), DType::F32, d);
  ops::ccbn_backward(g.d_x, d_gain, d_bias, d_out, s.x, s.gain, s.out, s.mean, s.invstd, training(), relu_);
  const Tensor d_y_gain = gain_linear_backward(d_gain);  // the "1 +" passes the gradient through unchanged
  const Tensor d_y_bias = bias_linear_backward(d_bias);
  g.d_y = Tensor::empty(d_y_gain.shape(), DType::F32, d);
  ops::add_forward(g.d_y, d_y_gain, d_y_bias);
  return g;
}

CCBN::CCBN(std::int64_t channels, std::int64_t in_features, float bn_eps, float sn_eps, bool relu)
    : ConditionalNorm(channels, bn_eps, 0.1f, relu),
      gain(in_features, channels, false, sn_eps),
      bias(in_features, channels, false, sn_eps) {
  add_child("gain", gain);
  add_child("bias", bias);
}

ClassConditionNorm::ClassConditionNorm(std::int64_t channels, std::int64_t in_features, float eps, bool relu)
    : ConditionalNorm(channels, eps, 0.1f, relu), gain(in_features, channels, false), bias(in_features, channels, false) {
  add_child("gain", gain);
  add_child("bias", bias);
}

BatchNorm::BatchNorm(std::int64_t channels, float eps, float momentum, bool relu)
    : gain(add_parameter("gain", {channels})),
      bias(add_parameter("bias", {channels})),
      stored_mean(add_buffer("stored_mean", {channels})),
      stored_var(add_buffer("stored_var", {channels})),
      eps_(eps),
      momentum_(momentum),
      relu_(relu) {
  gain.value.fill(1.0f);
  stored_var.fill(1.0f);
}

Tensor BatchNorm::forward(const Tensor& x) {
  const Device d = x.device();
  Tensor out = Tensor::empty(x.shape(), DType::F32, d);
  Tensor saved_mean = Tensor::empty({x.dim(1)}, DType::F32, d), saved_invstd = Tensor::empty({x.dim(1)}, DType::F32, d);
  ops::batchnorm_forward(out, saved_mean, saved_invstd, stored_mean, stored_var, x, gain.value, bias.value,
                         training(), momentum_, eps_);
  if (relu_) ops::relu_forward(out, out);
  saved_.save(*this, {x, out, saved_mean, saved_invstd});
  return out;
}

Tensor BatchNorm::backward(const Tensor& d_out) {
  const Saved s = saved_.take("BatchNorm");
  Tensor d_norm = d_out;
  if (relu_) {
    d_norm = Tensor::empty(d_out.shape(), DType::F32, d_out.device());
    ops::relu_backward(d_norm, d_out, s.out);
  }
  Tensor d_x = Tensor::empty(s.x.shape(), DType::F32, s.x.device());
  ops::batchnorm_backward(d_x, grad_of(gain), grad_of(bias), d_norm, s.x, gain.value, s.mean, s.invstd, training());
  return d_x;
}

}  // namespace bigcolor
