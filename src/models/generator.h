// BigGAN-256 generator (DGP's, as BigColor uses it): `shared` Embedding (n_classes, 128); `linear` SNLinear
// (17 -> 16ch·4·4); six upsampling GBlocks 16ch→16ch→8ch→8ch→4ch→2ch→ch (4² → 256²) under `blocks.{i}.0`, with
// self-attention as `blocks.{i}.1` after the block whose output is G_attn² (i = 3 at 64²); `output_layer` =
// BN(ch) (`output_layer.0`), ReLU, SNConv2d 3×3 ch→3 (`output_layer.2`); tanh.
// Hierarchical z: z (B, 119) is split into 7 chunks of 17; block i is conditioned on y_i = cat(y, chunk i+1).
#pragma once

#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/blocks.h"
#include "models/config.h"

namespace bigcolor {

class Generator : public Module {
 public:
  explicit Generator(const BigGANConfig& config);

  // Runs blocks [start_block, 6) on h, then the output layer: the colorizer's entry (start_block 2, h from the
  // encoder), z (B, 119), y (B, shared_dim) the class embedding. Returns (B, 3, H, W) in [-1, 1].
  Tensor forward_from(const Tensor& z, const Tensor& y, std::int64_t start_block, const Tensor& h);
  // The unconditional entry: linear(z chunk 0) reshaped to (B, 16ch, 4, 4), then every block.
  Tensor forward(const Tensor& z, const Tensor& y);

  struct Gradients {
    Tensor d_h;  // gradient of forward_from's h (undefined after forward())
    Tensor d_y;  // (B, shared_dim)
    Tensor d_z;  // (B, 119); the chunks of unused blocks stay zero
  };
  Gradients backward(const Tensor& d_out);

  std::int64_t block_in_channels(std::int64_t block) const;
  std::int64_t block_in_resolution(std::int64_t block) const { return 4ll << block; }

  Embedding shared;
  SNLinear linear;
  std::vector<std::unique_ptr<GBlock>> blocks;
  std::unique_ptr<Attention> attention;  // after blocks[attention_block]
  std::int64_t attention_block = -1;
  BatchNorm output_bn;  // output_layer.0, with the following ReLU fused
  SNConv2d output_conv;  // output_layer.2

 private:
  BigGANConfig config_;
  struct Saved {
    std::int64_t start_block;
    bool from_linear;  // forward() (h from linear) rather than forward_from()
    Tensor out;        // tanh output
  };
  SavedForBackward<Saved> saved_;
  Tensor run(const Tensor& z, const Tensor& y, std::int64_t start_block, const Tensor& h, bool from_linear);
};

}  // namespace bigcolor
