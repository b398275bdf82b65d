// Dynamic loss scaling for fp16 training, as PyTorch's torch.cuda.amp.GradScaler with its defaults (the official
// train.py runs under autocast with one GradScaler for the D and the EG steps):
//   the losses' gradients are multiplied by scale() before the backward passes (so small fp16 operands do not
//   flush to zero); before each optimizer step the gradients are divided by it again and checked: any Inf or NaN
//   skips that step (counted), and update(), once per training iteration, halves the scale after an iteration that
//   found one, else doubles it after growth_interval clean iterations in a row.
// Disabled (FP32 and bf16 training, which PyTorch runs without a scaler): scale() is 1 and nothing is checked.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor::train {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(bool enabled, GradScalerOptions options = {});

  bool enabled() const { return enabled_; }
  float scale() const { return enabled_ ? static_cast<float>(scale_) : 1.0f; }

  // Divides every gradient by the scale in place (multiplying by 1/scale, exact for a power of two) and returns
  // whether all of them are finite; a false is remembered for update() and counted as a skipped step.
  // Disabled: true, nothing touched.
  bool unscale_and_check(const std::vector<Tensor>& grads);
  // The end of an iteration: back-off or growth (see above).
  void update();

  struct State {
    double scale = 65536.0;
    std::int64_t growth_tracker = 0;  // clean iterations in a row since the last change
    std::int64_t skipped_steps = 0;   // optimizer steps skipped for Inf/NaN gradients, over the whole run
  };
  State state() const { return {scale_, growth_tracker_, skipped_steps_}; }
  void set_state(const State& state);
  std::int64_t skipped_steps() const { return skipped_steps_; }

 private:
  bool enabled_;
  GradScalerOptions options_;
  double scale_;
  std::int64_t growth_tracker_ = 0;
  std::int64_t skipped_steps_ = 0;
  bool found_inf_ = false;  // in this iteration
};

}  // namespace bigcolor::train
