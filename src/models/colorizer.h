// The colorizer EG: f = E(x_gray, shared(c)); out = G.forward_from(z, shared(c), id_mid_layer = 2, f).
// forward_with_c takes the class embedding directly (class mixing, --c-scale/--c-bias).
// parameters() order: E's, then G's (the order of torch_ema's shadow_params list).
#pragma once

#include "models/encoder.h"
#include "models/generator.h"

namespace bigcolor {

class Colorizer : public Module {
 public:
  explicit Colorizer(const ColorizerConfig& config);
  // x_gray (B, 1, H, W) in [0, 1] (H, W multiples of 16), classes (B) I32, z (B, 119) -> (B, 3, H, W) in [-1, 1].
  Tensor forward(const Tensor& x_gray, const Tensor& classes, const Tensor& z);
  Tensor forward_with_c(const Tensor& x_gray, const Tensor& c_embed, const Tensor& z);

  struct Gradients {
    Tensor d_c_embed;  // (B, shared_dim): when forward() ran, already pushed into G.shared.weight.grad
    Tensor d_z;        // (B, 119)
  };
  Gradients backward(const Tensor& d_out);

  const ColorizerConfig& config() const { return config_; }

  // Inference on `device`: gradients disabled and freed, and only what forward() uses moved there — the encoder,
  // G.shared and G from block id_mid_layer on. G.linear and blocks 0..id_mid_layer-1 (about 62M of the full model's
  // parameters) stay on the CPU: they are loaded and saved, never computed with.
  void place_for_inference(Device device);

  Encoder E;
  Generator G;

 private:
  ColorizerConfig config_;
  struct Saved {
    bool embedded_here;  // forward() looked the classes up in G.shared
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
