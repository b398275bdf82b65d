#include "models/encoder.h"

#include <string>

#include "layers/functional.h"

namespace bigcolor {

Encoder::Encoder(const ColorizerConfig& config) {
  const std::int64_t ch = config.encoder_ch, c_dim = config.biggan.shared_dim;
  const std::int64_t in[5] = {1, ch, 2 * ch, 4 * ch, 8 * ch};
  const std::int64_t out[5] = {ch, 2 * ch, 4 * ch, 8 * ch, 8 * ch};
  for (int i = 0; i < 5; ++i) {
    const float dropout = i < 4 ? config.encoder_dropout : 0.0f;  // res5 has no dropout
    res[static_cast<std::size_t>(i)] = std::make_unique<ResConvBlock>(in[i], out[i], /*downsample=*/i > 0, dropout, c_dim);
    add_child("res" + std::to_string(i + 1), *res[static_cast<std::size_t>(i)]);
  }
}

void Encoder::set_rng(Rng* rng) {
  for (auto& block : res) block->set_rng(rng);
}

Tensor Encoder::forward(const Tensor& x, const Tensor& c) {
  Tensor h = x;
  for (std::size_t i = 0; i < res.size(); ++i) h = res[i]->forward(h, c, i < 4 ? next_masks_[i] : Tensor{});
  next_masks_ = {};
  return h;
}

Encoder::Gradients Encoder::backward(const Tensor& d_out, bool need_d_x) {
  Gradients g;
  Tensor d = d_out;
  for (int i = 4; i >= 0; --i) {
    ResConvBlock::Gradients block = res[static_cast<std::size_t>(i)]->backward(d);
    gradients_ready(*res[static_cast<std::size_t>(i)]);
    d = block.d_x;
    if (g.d_c.defined())
      fn::add_into(g.d_c, block.d_c);
    else
      g.d_c = block.d_c;
  }
  if (need_d_x) g.d_x = d;
  return g;
}

}  // namespace bigcolor
