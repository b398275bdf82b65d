// SA-GAN self-attention as BigGAN uses it (`Attention(ch)`): 1×1 SN convolutions theta (ch→ch/8), phi (ch→ch/8),
// g (ch→ch/2), o (ch/2→ch), all without bias; phi and g are 2×2 max-pooled; out = gamma · o(attn) + x with
// attn = g · softmax(θᵀφ)ᵀ computed by the fused attention kernel (the (N, N/4) matrix is never stored).
// parameters() order: gamma, then theta, phi, g, o (PyTorch lists own parameters before children's).
#pragma once

#include "layers/linear_conv.h"

namespace bigcolor {

class Attention : public Module {
 public:
  Attention(std::int64_t channels, float sn_eps);
  Tensor forward(const Tensor& x);         // x (B, C, H, W), H and W even
  Tensor backward(const Tensor& d_out);    // returns d_x

  Parameter& gamma;  // shape (): a scalar, 0 at initialization
  SNConv2d theta, phi, g, o;

 private:
  std::int64_t channels_;
  struct Saved {
    float gamma;              // the gamma the forward used
    Tensor phi_full, g_full;  // (B, C/8, H, W), (B, C/2, H, W): for the max-pool backward
    Tensor theta, phi, g;     // (B, C/8, N), (B, C/8, N/4), (B, C/2, N/4)
    Tensor attn, lse, o_out;  // (B, C/2, N), (B, N), (B, C, H, W)
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
