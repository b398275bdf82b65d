// EncoderF_Res ('adabatch', relu, avg pool, residual): res1 1→ch (no down), res2 ch→2ch, res3 2ch→4ch,
// res4 4ch→8ch, res5 8ch→8ch (each down 2×). x (B, 1, H, W) -> (B, 8ch, H/16, W/16); every block is conditioned on
// the class embedding c (B, 128); dropout 0.2 after res1..res4 in training.
#pragma once

#include <array>
#include <memory>
#include <utility>

#include "layers/blocks.h"
#include "models/config.h"

namespace bigcolor {

class Encoder : public Module {
 public:
  explicit Encoder(const ColorizerConfig& config);
  Tensor forward(const Tensor& x, const Tensor& c);
  struct Gradients {
    Tensor d_x;  // (B, 1, H, W) (undefined unless asked)
    Tensor d_c;  // (B, 128)
  };
  Gradients backward(const Tensor& d_out, bool need_d_x = false);
  void set_rng(Rng* rng);  // the dropout masks' source in training
  // Dropout masks for the next forward only (res1..res4 in order; each the block output's shape, entries 0 or
  // 1/(1−p)), in place of drawing them: parity tests with masks recorded from PyTorch. Cleared by that forward.
  void set_next_dropout_masks(std::array<Tensor, 4> masks) { next_masks_ = std::move(masks); }

  std::array<std::unique_ptr<ResConvBlock>, 5> res;  // res1..res5

 private:
  std::array<Tensor, 4> next_masks_;
};

}  // namespace bigcolor
