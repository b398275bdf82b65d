#include "layers/blocks.h"

#include <vector>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor {

UnusedInstanceNorm::UnusedInstanceNorm(std::int64_t channels)
    : weight(add_parameter("weight", {channels}, false)), bias(add_parameter("bias", {channels}, false)) {
  weight.value.fill(1.0f);
}

// ---- GBlock -------------------------------------------------------------------------------------------------------

GBlock::GBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t y_dim, float bn_eps, float sn_eps)
    : conv1(in_channels, out_channels, 3, 1, true, sn_eps),
      conv2(out_channels, out_channels, 3, 1, true, sn_eps),
      conv_sc(in_channels, out_channels, 1, 0, true, sn_eps),
      bn1(in_channels, y_dim, bn_eps, sn_eps, /*relu=*/true),
      bn2(out_channels, y_dim, bn_eps, sn_eps, /*relu=*/true),
      in1(in_channels),
      in2(out_channels) {
  add_child("conv1", conv1);
  add_child("conv2", conv2);
  add_child("conv_sc", conv_sc);
  add_child("bn1", bn1);
  add_child("bn2", bn2);
  add_child("in1", in1);
  add_child("in2", in2);
}

Tensor GBlock::forward(const Tensor& x, const Tensor& y) {
  Tensor h = bn1.forward(x, y);        // relu(bn1(x, y))        (B, Cin, H, W)
  h = conv1.forward_upsampled(h);      // conv1(up(h))           (B, Cout, 2H, 2W)
  h = bn2.forward(h, y);               // relu(bn2(h, y))
  h = conv2.forward(h);
  return fn::add(h, fn::upsample2x(conv_sc.forward(x)));  // + conv_sc(up(x)) = up(conv_sc(x))
}

GBlock::Gradients GBlock::backward(const Tensor& d_out) {
  Gradients g;
  g.d_x = conv_sc.backward(fn::upsample2x_backward(d_out));
  const ConditionalNorm::Gradients g2 = bn2.backward(conv2.backward(d_out));
  const ConditionalNorm::Gradients g1 = bn1.backward(conv1.backward(g2.d_x));
  fn::add_into(g.d_x, g1.d_x);
  g.d_y = fn::add(g1.d_y, g2.d_y);
  return g;
}

// ---- DBlock -------------------------------------------------------------------------------------------------------

DBlock::DBlock(std::int64_t in_channels, std::int64_t out_channels, bool preactivation, bool downsample, float sn_eps)
    : conv1(in_channels, out_channels, 3, 1, true, sn_eps),
      conv2(out_channels, out_channels, 3, 1, true, sn_eps),
      preactivation_(preactivation),
      downsample_(downsample) {
  add_child("conv1", conv1);
  add_child("conv2", conv2);
  if (in_channels != out_channels || downsample) {
    conv_sc = std::make_unique<SNConv2d>(in_channels, out_channels, 1, 0, true, sn_eps);
    add_child("conv_sc", *conv_sc);
  }
}

Tensor DBlock::forward(const Tensor& x) {
  const Tensor h0 = preactivation_ ? fn::relu(x) : x;  // out of place: the shortcut needs the original x
  const Tensor h1 = fn::relu(conv1.forward(h0));
  Tensor h = conv2.forward(h1);
  const Shape h2_shape = h.shape();
  if (downsample_) h = fn::avgpool2x2(h);
  Tensor shortcut = x;
  if (preactivation_) {
    if (conv_sc) shortcut = conv_sc->forward(shortcut);
    if (downsample_) shortcut = fn::avgpool2x2(shortcut);
  } else {
    if (downsample_) shortcut = fn::avgpool2x2(shortcut);
    if (conv_sc) shortcut = conv_sc->forward(shortcut);
  }
  saved_.save(*this, {x, h0, h1, h2_shape});
  return fn::add(h, shortcut);
}

Tensor DBlock::backward(const Tensor& d_out, bool need_d_in) {
  const Saved s = saved_.take("DBlock");
  // Main path.
  const Tensor d_h2 = downsample_ ? fn::avgpool2x2_backward(d_out, s.h2_shape) : d_out;
  const Tensor d_h1 = fn::relu_backward(conv2.backward(d_h2), s.h1_relu);
  const Tensor d_h0 = conv1.backward(d_h1, need_d_in);
  // Shortcut path, in reverse order of its forward.
  Tensor d_sc = d_out;
  const Shape x_shape = s.x.shape();
  if (preactivation_) {
    if (downsample_) d_sc = fn::avgpool2x2_backward(d_sc, conv_sc ? Shape{x_shape[0], d_out.dim(1), x_shape[2], x_shape[3]} : x_shape);
    if (conv_sc) d_sc = conv_sc->backward(d_sc, need_d_in);
  } else {
    if (conv_sc) d_sc = conv_sc->backward(d_sc, need_d_in);
    if (downsample_ && need_d_in) d_sc = fn::avgpool2x2_backward(d_sc, x_shape);
  }
  Tensor d_x;
  if (need_d_in) {
    d_x = preactivation_ ? fn::relu_backward(d_h0, s.h0) : d_h0;
    fn::add_into(d_x, d_sc);
  }
  return d_x;
}

// ---- ResConvBlock -------------------------------------------------------------------------------------------------

ResConvBlock::ResConvBlock(std::int64_t in_channels, std::int64_t out_channels, bool downsample, float dropout,
                           std::int64_t c_dim)
    : conv(in_channels, out_channels, 1, 0, true),
      conv_1(in_channels, out_channels, 3, 1, true),
      conv_2(out_channels, out_channels, 3, 1, true),
      normalize_1(in_channels, c_dim, 1e-5f, /*relu=*/true),
      normalize_2(out_channels, c_dim, 1e-5f, /*relu=*/true),
      downsample_(downsample),
      dropout_(dropout) {
  BIGCOLOR_CHECK(dropout >= 0.0f && dropout < 1.0f, "ResConvBlock: dropout ", dropout, " outside [0, 1)");
  add_child("conv", conv);
  add_child("conv_1", conv_1);
  add_child("conv_2", conv_2);
  add_child("normalize_1", normalize_1);
  add_child("normalize_2", normalize_2);
}

Tensor ResConvBlock::forward(const Tensor& x, const Tensor& c, const Tensor& dropout_mask) {
  Tensor h = normalize_1.forward(x, c);  // relu(normalize_1(x, c))
  const Shape h_shape = h.shape();
  if (downsample_) h = fn::avgpool2x2(h);
  h = conv_2.forward(normalize_2.forward(conv_1.forward(h), c));
  const Tensor main = conv.forward(downsample_ ? fn::avgpool2x2(x) : x);
  Tensor out = fn::add(main, h);
  Tensor mask;
  if (training() && dropout_ > 0.0f) {
    mask = dropout_mask;
    if (!mask.defined()) {
      BIGCOLOR_CHECK(rng_ != nullptr, "ResConvBlock: dropout in training needs an Rng (set_rng) or a mask");
      std::vector<float> values(static_cast<std::size_t>(out.numel()));
      const float keep_scale = 1.0f / (1.0f - dropout_);
      for (float& v : values) v = rng_->uniform() < dropout_ ? 0.0f : keep_scale;  // drop with probability p
      mask = Tensor::from_vector(values, out.shape(), out.device());
    }
    BIGCOLOR_CHECK(mask.shape() == out.shape(), "ResConvBlock: dropout mask ", mask.describe(), " for output ",
                   out.describe());
    out = fn::mul(out, mask);
  }
  saved_.save(*this, {x.shape(), h_shape, mask});
  return out;
}

ResConvBlock::Gradients ResConvBlock::backward(const Tensor& d_out) {
  const Saved s = saved_.take("ResConvBlock");
  const Tensor d_sum = s.mask.defined() ? fn::mul(d_out, s.mask) : d_out;
  Gradients g;
  // Main path: conv(avgpool(x)).
  g.d_x = conv.backward(d_sum);
  if (downsample_) g.d_x = fn::avgpool2x2_backward(g.d_x, s.x_shape);
  // Residual path, in reverse.
  const ConditionalNorm::Gradients g2 = normalize_2.backward(conv_2.backward(d_sum));
  Tensor d_h = conv_1.backward(g2.d_x);
  if (downsample_) d_h = fn::avgpool2x2_backward(d_h, s.h_shape);
  const ConditionalNorm::Gradients g1 = normalize_1.backward(d_h);
  fn::add_into(g.d_x, g1.d_x);
  g.d_c = fn::add(g1.d_y, g2.d_y);
  return g;
}

}  // namespace bigcolor
