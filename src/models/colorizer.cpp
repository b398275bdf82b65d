#include "models/colorizer.h"

#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor {

Colorizer::Colorizer(const ColorizerConfig& config) : E(config), G(config.biggan), config_(config) {
  BIGCOLOR_CHECK(8 * config.encoder_ch == G.block_in_channels(config.id_mid_layer), "Colorizer: the encoder's ",
                 8 * config.encoder_ch, " output channels do not match generator block ", config.id_mid_layer,
                 "'s ", G.block_in_channels(config.id_mid_layer), " input channels");
  add_child("E", E);
  add_child("G", G);
}

Tensor Colorizer::forward(const Tensor& x_gray, const Tensor& classes, const Tensor& z) {
  Tensor out = forward_with_c(x_gray, G.shared.forward(classes), z);
  saved_.save(*this, {true});
  return out;
}

Tensor Colorizer::forward_with_c(const Tensor& x_gray, const Tensor& c_embed, const Tensor& z) {
  BIGCOLOR_CHECK(x_gray.ndim() == 4 && x_gray.dim(1) == 1 && x_gray.dim(2) % 16 == 0 && x_gray.dim(3) % 16 == 0,
                 "Colorizer: input ", x_gray.describe(), " must be (B, 1, H, W) with H and W multiples of 16");
  saved_.save(*this, {false});
  const Tensor features = E.forward(x_gray, c_embed);
  return G.forward_from(z, c_embed, config_.id_mid_layer, features);
}

void Colorizer::place_for_inference(Device device) {
  set_training(false);
  set_grad_enabled(false);
  E.to(device);
  G.shared.to(device);
  for (std::size_t i = static_cast<std::size_t>(config_.id_mid_layer); i < G.blocks.size(); ++i) G.blocks[i]->to(device);
  if (G.attention) G.attention->to(device);
  G.output_bn.to(device);
  G.output_conv.to(device);
}

Colorizer::Gradients Colorizer::backward(const Tensor& d_out) {
  const Saved s = saved_.take("Colorizer");
  const Generator::Gradients g = G.backward(d_out);
  const Encoder::Gradients e = E.backward(g.d_h);
  Gradients out;
  out.d_c_embed = fn::add(g.d_y, e.d_c);  // the embedding feeds both E and G
  out.d_z = g.d_z;
  if (s.embedded_here) G.shared.backward(out.d_c_embed);
  return out;
}

}  // namespace bigcolor
