#include "models/discriminator.h"

#include <string>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {
constexpr int kBlocks = 7;
constexpr std::int64_t kInMultiplier[kBlocks] = {0, 1, 2, 4, 8, 8, 16};  // block 0 takes the 3 image channels
constexpr std::int64_t kOutMultiplier[kBlocks] = {1, 2, 4, 8, 8, 16, 16};
constexpr std::int64_t kOutResolution[kBlocks] = {128, 64, 32, 16, 8, 4, 4};
}  // namespace

Discriminator::Discriminator(const BigGANConfig& config)
    : linear(kOutMultiplier[kBlocks - 1] * config.D_ch, 1, true, config.SN_eps),
      embed(config.n_classes, kOutMultiplier[kBlocks - 1] * config.D_ch, config.SN_eps) {
  BIGCOLOR_CHECK(config.resolution == 256, "Discriminator: only the 256x256 BigGAN architecture is supported");
  for (int i = 0; i < kBlocks; ++i) {
    const std::int64_t in = i == 0 ? 3 : kInMultiplier[i] * config.D_ch;
    blocks.push_back(std::make_unique<DBlock>(in, kOutMultiplier[i] * config.D_ch, /*preactivation=*/i > 0,
                                              /*downsample=*/i < kBlocks - 1, config.SN_eps));
    add_child("blocks." + std::to_string(i) + ".0", *blocks.back());
    if (config.D_attn == kOutResolution[i] && attention_block < 0) {
      attention = std::make_unique<Attention>(kOutMultiplier[i] * config.D_ch, config.SN_eps);
      attention_block = i;
      add_child("blocks." + std::to_string(i) + ".1", *attention);
    }
  }
  add_child("linear", linear);
  add_child("embed", embed);
}

Tensor Discriminator::forward(const Tensor& x, const Tensor& classes) {
  BIGCOLOR_CHECK(x.ndim() == 4 && x.dim(1) == 3, "Discriminator: input ", x.describe(), " must be (B, 3, H, W)");
  Tensor h = x;
  for (int i = 0; i < kBlocks; ++i) {
    h = blocks[static_cast<std::size_t>(i)]->forward(h);
    if (i == attention_block) h = attention->forward(h);
  }
  const Tensor relu_out = fn::relu(h);
  Tensor pooled = Tensor::empty({h.dim(0), h.dim(1)}, DType::F32, h.device());  // Σ over H, W
  ops::sum_forward(pooled, relu_out);
  const Tensor embedded = embed.forward(classes);
  Tensor projection = Tensor::empty({h.dim(0)}, DType::F32, h.device());  // Σ_C embed(c) ⊙ h
  ops::sum_forward(projection, fn::mul(embedded, pooled));
  const Tensor out = fn::add(linear.forward(pooled), projection.reshape({h.dim(0), 1}));
  saved_.save(*this, {relu_out, pooled, embedded});
  return out;
}

Tensor Discriminator::backward(const Tensor& d_out, bool need_d_x) {
  const Saved s = saved_.take("Discriminator");
  // d_out (B, 1) reaches both terms; broadcast it over the channels for the projection's product.
  Tensor d_broadcast = fn::empty_like(s.pooled);
  ops::sum_backward(d_broadcast, d_out.reshape({d_out.dim(0)}));
  embed.backward(fn::mul(d_broadcast, s.pooled));
  gradients_ready(embed);
  Tensor d_pooled = linear.backward(d_out);
  gradients_ready(linear);
  fn::add_into(d_pooled, fn::mul(d_broadcast, s.embedded));
  Tensor d_h = fn::empty_like(s.relu_out);
  ops::sum_backward(d_h, d_pooled);
  d_h = fn::relu_backward(d_h, s.relu_out);
  for (int i = kBlocks - 1; i >= 0; --i) {
    if (i == attention_block) {
      d_h = attention->backward(d_h);
      gradients_ready(*attention);
    }
    d_h = blocks[static_cast<std::size_t>(i)]->backward(d_h, i > 0 || need_d_x);
    gradients_ready(*blocks[static_cast<std::size_t>(i)]);
  }
  return d_h;
}

}  // namespace bigcolor
