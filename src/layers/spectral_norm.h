// Spectral normalization of one weight (BigGAN's SN layers: SNLinear, SNConv2d, SNEmbedding in linear_conv.h):
// the power-iteration state lives in the owning layer's buffers `u0` and `sv0`, so it is saved and loaded with the
// layer's state dict; this class holds only references to them and what a backward needs from its forward.
#pragma once

#include "layers/module.h"

namespace bigcolor {

// One power-iteration step per forward and the W/σ backward, for the layer that owns `weight`, `u0` and `sv0`.
class SpectralNorm {
 public:
  SpectralNorm(Parameter& weight, Tensor& u0, Tensor& sv0, float eps) : weight_(weight), u0_(u0), sv0_(sv0), eps_(eps) {}
  // W/σ with W = weight viewed as (out, rest); the result has the weight's shape.
  Tensor forward(bool training, bool keep_for_backward);
  // weight.grad += the gradient through W/σ, given d_weight_sn (weight's shape), the gradient of W/σ.
  void backward(const Tensor& d_weight_sn);
  void discard();  // drops what the last forward kept, when no weight gradient is wanted

 private:
  Parameter& weight_;
  Tensor& u0_;   // (1, out)
  Tensor& sv0_;  // (1)
  float eps_;
  Tensor sigma_, u_new_, v_;  // from the last forward, for the backward: (1), (out), (rest)
};

}  // namespace bigcolor
