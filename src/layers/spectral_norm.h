// Spectral normalization of one weight (BigGAN's SN layers: SNLinear, SNConv2d, SNEmbedding in linear_conv.h):
// the power-iteration state lives in the owning layer's buffers `u0` and `sv0`, so it is saved and loaded with the
// layer's state dict; this class holds only references to them. What a backward needs from its forward is
// returned by forward() and kept in the owning layer's saved state.
#pragma once

#include <optional>

#include "layers/module.h"

namespace bigcolor {

// One power-iteration step per forward and the W/σ backward, for the layer that owns `weight`, `u0` and `sv0`.
class SpectralNorm {
 public:
  struct Saved {
    Tensor sigma, u_new, v;  // (1), (out), (rest)
  };
  struct Result {
    Tensor weight_sn;  // W/σ, the weight's shape
    Saved saved;       // for backward()
  };
  SpectralNorm(Parameter& weight, Tensor& u0, Tensor& sv0, float eps) : weight_(weight), u0_(u0), sv0_(sv0), eps_(eps) {}
  // W/σ with W = weight viewed as (out, rest).
  Result forward(bool training);
  // Fixed weights (Module::set_weights_fixed): W/σ of the first eval forward after set_fixed(true) is kept, marked
  // immutable, and returned by every forward(false) until set_fixed(false); a forward(true) (training) drops it.
  // Kept on first use, so layers a model never runs (the generator's unused blocks) keep no copy.
  void set_fixed(bool fixed);
  // d_weight += the gradient through W/σ, given d_weight_sn (weight's shape), the gradient of W/σ, and what the
  // forward saved.
  void backward(const Tensor& d_weight, const Tensor& d_weight_sn, const Saved& saved);

 private:
  Parameter& weight_;
  Tensor& u0_;   // (1, out)
  Tensor& sv0_;  // (1)
  float eps_;
  std::optional<Result> fixed_;
  bool fixing_ = false;
};

}  // namespace bigcolor
