#include "layers/linear_conv.h"

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {
Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype(), t.device()); }
const Tensor& value_or_empty(const Parameter* p) {
  static const Tensor none;
  return p ? p->value : none;
}
}  // namespace

// ---- linear -------------------------------------------------------------------------------------------------------

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool has_bias)
    : weight(add_parameter("weight", {out_features, in_features})) {
  if (has_bias) bias = &add_parameter("bias", {out_features});
}

Tensor Linear::forward(const Tensor& x) {
  Tensor out = Tensor::empty({x.dim(0), weight.value.dim(0)}, DType::F32, x.device());
  ops::linear_forward(out, x, weight.value, value_or_empty(bias));
  saved_.save(*this, {x});
  return out;
}

Tensor Linear::backward(const Tensor& d_out, bool need_d_in) {
  const Saved s = saved_.take("Linear");
  Tensor d_in = need_d_in ? empty_like(s.x) : Tensor{};
  ops::linear_backward(d_in, grad_of(weight), grad_of(bias), d_out, s.x, weight.value);
  return d_in;
}

SNLinear::SNLinear(std::int64_t in_features, std::int64_t out_features, bool has_bias, float eps)
    : weight(add_parameter("weight", {out_features, in_features})),
      u0(add_buffer("u0", {1, out_features})),
      sv0(add_buffer("sv0", {1})),
      sn_(weight, u0, sv0, eps) {
  if (has_bias) bias = &add_parameter("bias", {out_features});
}

Tensor SNLinear::forward(const Tensor& x) {
  SpectralNorm::Result sn = sn_.forward(training());
  Tensor out = Tensor::empty({x.dim(0), weight.value.dim(0)}, DType::F32, x.device());
  ops::linear_forward(out, x, sn.weight_sn, value_or_empty(bias));
  saved_.save(*this, {x, sn.weight_sn, sn.saved});
  return out;
}

Tensor SNLinear::backward(const Tensor& d_out, bool need_d_in) {
  const Saved s = saved_.take("SNLinear");
  Tensor d_in = need_d_in ? empty_like(s.x) : Tensor{};
  // No weight gradient wanted (frozen, or parameter gradients off): only d_in is computed.
  const Tensor& d_weight = grad_of(weight);
  Tensor d_weight_sn = d_weight.defined() ? zeros_like(weight.value) : Tensor{};
  ops::linear_backward(d_in, d_weight_sn, grad_of(bias), d_out, s.x, s.weight_sn);
  if (d_weight_sn.defined()) sn_.backward(d_weight, d_weight_sn, s.sn);
  return d_in;
}

// ---- convolution --------------------------------------------------------------------------------------------------

namespace {
// out (B, Cout, H', W') for a stride-1 convolution, or (B, Cout, 2H, 2W) when upsampling first.
Tensor conv_output(const Tensor& x, const Tensor& weight, int padding, bool upsampled) {
  if (upsampled) return Tensor::empty({x.dim(0), weight.dim(0), 2 * x.dim(2), 2 * x.dim(3)}, DType::F32, x.device());
  return Tensor::empty({x.dim(0), weight.dim(0), x.dim(2) + 2 * padding - weight.dim(2) + 1,
                        x.dim(3) + 2 * padding - weight.dim(3) + 1},
                       DType::F32, x.device());
}

void check_upsampled_geometry(const Tensor& weight, int padding, const char* layer) {
  BIGCOLOR_CHECK(weight.dim(2) == 3 && weight.dim(3) == 3 && padding == 1, layer,
                 ": forward_upsampled needs a 3x3 kernel with padding 1");
}

Tensor conv_apply(const Tensor& x, const Tensor& weight, const Tensor& bias, int padding, bool upsampled) {
  Tensor out = conv_output(x, weight, padding, upsampled);
  if (upsampled)
    ops::upconv3x3_forward(out, x, weight, bias);
  else
    ops::conv2d_forward(out, x, weight, bias, padding);
  return out;
}

void conv_apply_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                         const Tensor& x, const Tensor& weight, int padding, bool upsampled) {
  if (upsampled)
    ops::upconv3x3_backward(d_in, d_weight, d_bias, d_out, x, weight);
  else
    ops::conv2d_backward(d_in, d_weight, d_bias, d_out, x, weight, padding);
}
}  // namespace

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel_size, int padding, bool has_bias)
    : weight(add_parameter("weight", {out_channels, in_channels, kernel_size, kernel_size})), padding_(padding) {
  if (has_bias) bias = &add_parameter("bias", {out_channels});
}

Tensor Conv2d::forward(const Tensor& x) {
  saved_.save(*this, {x, false});
  return conv_apply(x, weight.value, value_or_empty(bias), padding_, false);
}

Tensor Conv2d::forward_upsampled(const Tensor& x) {
  check_upsampled_geometry(weight.value, padding_, "Conv2d");
  saved_.save(*this, {x, true});
  return conv_apply(x, weight.value, value_or_empty(bias), padding_, true);
}

Tensor Conv2d::backward(const Tensor& d_out, bool need_d_in) {
  const Saved s = saved_.take("Conv2d");
  Tensor d_in = need_d_in ? empty_like(s.x) : Tensor{};
  conv_apply_backward(d_in, grad_of(weight), grad_of(bias), d_out, s.x, weight.value, padding_, s.upsampled);
  return d_in;
}

SNConv2d::SNConv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel_size, int padding, bool has_bias,
                   float eps)
    : weight(add_parameter("weight", {out_channels, in_channels, kernel_size, kernel_size})),
      u0(add_buffer("u0", {1, out_channels})),
      sv0(add_buffer("sv0", {1})),
      padding_(padding),
      sn_(weight, u0, sv0, eps) {
  if (has_bias) bias = &add_parameter("bias", {out_channels});
}

Tensor SNConv2d::forward(const Tensor& x) { return forward_as(x, false); }

Tensor SNConv2d::forward_upsampled(const Tensor& x) {
  check_upsampled_geometry(weight.value, padding_, "SNConv2d");
  return forward_as(x, true);
}

Tensor SNConv2d::forward_as(const Tensor& x, bool upsampled) {
  SpectralNorm::Result sn = sn_.forward(training());
  saved_.save(*this, {x, sn.weight_sn, sn.saved, upsampled});
  return conv_apply(x, sn.weight_sn, value_or_empty(bias), padding_, upsampled);
}

Tensor SNConv2d::backward(const Tensor& d_out, bool need_d_in) {
  const Saved s = saved_.take("SNConv2d");
  Tensor d_in = need_d_in ? empty_like(s.x) : Tensor{};
  const Tensor& d_weight = grad_of(weight);
  Tensor d_weight_sn = d_weight.defined() ? zeros_like(weight.value) : Tensor{};  // none: d_in only
  conv_apply_backward(d_in, d_weight_sn, grad_of(bias), d_out, s.x, s.weight_sn, padding_, s.upsampled);
  if (d_weight_sn.defined()) sn_.backward(d_weight, d_weight_sn, s.sn);
  return d_in;
}

// ---- embeddings ---------------------------------------------------------------------------------------------------

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t dim)
    : weight(add_parameter("weight", {num_embeddings, dim})) {}

Tensor Embedding::forward(const Tensor& indices) {
  Tensor out = Tensor::empty({indices.dim(0), weight.value.dim(1)}, DType::F32, weight.value.device());
  ops::embedding_forward(out, weight.value, indices);
  saved_.save(*this, {indices});
  return out;
}

void Embedding::backward(const Tensor& d_out) {
  const Saved s = saved_.take("Embedding");
  // No weight gradient wanted (frozen, or parameter gradients off): an embedding passes nothing to an input.
  if (const Tensor& d_weight = grad_of(weight); d_weight.defined()) ops::embedding_backward(d_weight, d_out, s.indices);
}

SNEmbedding::SNEmbedding(std::int64_t num_embeddings, std::int64_t dim, float eps)
    : weight(add_parameter("weight", {num_embeddings, dim})),
      u0(add_buffer("u0", {1, num_embeddings})),
      sv0(add_buffer("sv0", {1})),
      sn_(weight, u0, sv0, eps) {}

Tensor SNEmbedding::forward(const Tensor& indices) {
  SpectralNorm::Result sn = sn_.forward(training());
  Tensor out = Tensor::empty({indices.dim(0), weight.value.dim(1)}, DType::F32, weight.value.device());
  ops::embedding_forward(out, sn.weight_sn, indices);
  saved_.save(*this, {indices, sn.saved});
  return out;
}

void SNEmbedding::backward(const Tensor& d_out) {
  const Saved s = saved_.take("SNEmbedding");
  const Tensor& d_weight = grad_of(weight);
  if (!d_weight.defined()) return;  // no weight gradient wanted: an embedding passes nothing to an input
  Tensor d_weight_sn = zeros_like(weight.value);
  ops::embedding_backward(d_weight_sn, d_out, s.indices);
  sn_.backward(d_weight, d_weight_sn, s.sn);
}

}  // namespace bigcolor
