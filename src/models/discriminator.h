// BigGAN-256 projection discriminator (wide): DBlocks 3→ch (128²), ch→2ch (64²) + Attention(2ch) as
// `blocks.1.1`, 2ch→4ch, 4ch→8ch, 8ch→8ch, 8ch→16ch (each halving), 16ch→16ch (no down); the first block without
// preactivation. h = Σ_{H,W} relu(h); out = linear(h) + Σ_C embed(c) ⊙ h, with `linear` SNLinear(16ch → 1) and
// `embed` SNEmbedding(n_classes, 16ch).
#pragma once

#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/blocks.h"
#include "models/config.h"

namespace bigcolor {

class Discriminator : public Module {
 public:
  explicit Discriminator(const BigGANConfig& config);
  Tensor forward(const Tensor& x, const Tensor& classes);  // x (B, 3, 256, 256) in [-1, 1], classes (B) I32 -> (B, 1)
  Tensor backward(const Tensor& d_out, bool need_d_x = true);  // returns d_x (the gradient reaching the image)

  std::vector<std::unique_ptr<DBlock>> blocks;
  std::unique_ptr<Attention> attention;  // after blocks[attention_block]
  std::int64_t attention_block = -1;
  SNLinear linear;
  SNEmbedding embed;

 private:
  struct Saved {
    Tensor relu_out, pooled, embedded;  // relu(h) (B, C, h, w); Σ_{H,W} (B, C); embed(c) (B, C)
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
