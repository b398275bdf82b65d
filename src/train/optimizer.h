// The optimizers of BigColor's training: torch.optim.Adam (no weight decay, no amsgrad) and torch_ema 0.3's
// ExponentialMovingAverage, over parameters named as in the models' state dicts. Both keep their state on the
// parameters' device; `state()` lists it under stable names for checkpoints.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "layers/module.h"

namespace bigcolor::train {

struct AdamOptions {
  double lr = 1e-4;
  double beta1 = 0.0;  // BigColor's (0, 0.999), as BigGAN's
  double beta2 = 0.999;
  double eps = 1e-8;
};

class Adam {
 public:
  // `parameters`: the ones this optimizer updates (each must have a gradient when step() runs).
  Adam(std::vector<Module::NamedParameter> parameters, AdamOptions options);
  // One update of every parameter from its gradient (torch's step with step count t = steps() + 1).
  void step();
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const AdamOptions& options() const { return options_; }
  std::int64_t steps() const { return steps_; }

  // Checkpoint state: "<name>.exp_avg" and "<name>.exp_avg_sq" per parameter; set_state copies them back (shapes
  // checked, an Error names the first missing or misshapen key).
  std::map<std::string, Tensor> state() const;
  void set_state(const std::map<std::string, Tensor>& tensors, std::int64_t steps, const std::string& source);
  void to(Device device);

 private:
  struct Slot {
    std::string name;
    Parameter* parameter;
    Tensor exp_avg, exp_avg_sq;
  };
  std::vector<Slot> slots_;
  AdamOptions options_;
  std::int64_t steps_ = 0;
};

// torch_ema 0.3: shadow copies of the parameters, updated after each optimizer step with
// decay_t = min(decay, (1 + t) / (10 + t)) for the t-th update (t from 1): shadow −= (1 − decay_t)·(shadow − param).
class Ema {
 public:
  Ema(std::vector<Module::NamedParameter> parameters, double decay);
  void update();
  std::int64_t num_updates() const { return num_updates_; }
  double decay() const { return decay_; }

  // The shadows, by parameter name (checkpoints; exporting the EMA weights).
  const std::map<std::string, Tensor>& shadows() const { return shadows_; }
  void set_state(const std::map<std::string, Tensor>& shadows, std::int64_t num_updates, const std::string& source);
  // Swaps every parameter's value with its shadow (call twice to swap back): the model then computes with the
  // EMA weights (samples, export) at no extra memory.
  void swap_into_parameters();
  void to(Device device);

 private:
  std::vector<Module::NamedParameter> parameters_;
  std::map<std::string, Tensor> shadows_;
  double decay_;
  std::int64_t num_updates_ = 0;
};

}  // namespace bigcolor::train
