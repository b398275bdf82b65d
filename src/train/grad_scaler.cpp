#include "train/grad_scaler.h"

#include <cmath>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor::train {

GradScaler::GradScaler(bool enabled, GradScalerOptions options)
    : enabled_(enabled), options_(options), scale_(options.init_scale) {}

bool GradScaler::unscale_and_check(const std::vector<Tensor>& grads) {
  if (!enabled_) return true;
  const float inverse = static_cast<float>(1.0 / scale_);
  bool finite = true;
  for (const Tensor& g : grads) {
    if (!g.defined() || g.numel() == 0) continue;
    ops::scale_forward(g, g, inverse);
    // A sum is Inf or NaN when any term is (a finite sum overflowing would need gradients near 3e38).
    Tensor total = Tensor::empty({1}, DType::F32, g.device());
    ops::sum_forward(total, g);
    if (!std::isfinite(fn::item(total))) finite = false;
  }
  if (!finite) {
    found_inf_ = true;
    ++skipped_steps_;
  }
  return finite;
}

void GradScaler::update() {
  if (!enabled_) return;
  if (found_inf_) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  found_inf_ = false;
}

void GradScaler::set_state(const State& state) {
  BIGCOLOR_CHECK(state.scale > 0 && std::isfinite(state.scale), "grad scaler: scale ", state.scale,
                 " is not a positive finite number");
  scale_ = state.scale;
  growth_tracker_ = state.growth_tracker;
  skipped_steps_ = state.skipped_steps;
  found_inf_ = false;
}

}  // namespace bigcolor::train
