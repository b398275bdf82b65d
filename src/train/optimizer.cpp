#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor::train {

namespace {

// Copies `tensors.at(key)` into `dst` (any device), checking presence and shape.
void copy_checked(const Tensor& dst, const std::map<std::string, Tensor>& tensors, const std::string& key,
                  const std::string& source) {
  const auto it = tensors.find(key);
  BIGCOLOR_CHECK(it != tensors.end(), source, ": '", key, "' is missing");
  BIGCOLOR_CHECK(it->second.shape() == dst.shape() && it->second.dtype() == DType::F32, source, ": '", key,
                 "' has shape ", shape_string(it->second.shape()), ", expected ", shape_string(dst.shape()));
  dst.copy_from(it->second);
}

}  // namespace

Adam::Adam(std::vector<Module::NamedParameter> parameters, AdamOptions options) : options_(options) {
  for (const Module::NamedParameter& p : parameters) {
    const Tensor& v = p.parameter->value;
    slots_.push_back({p.name, p.parameter, Tensor::zeros(v.shape(), DType::F32, v.device()),
                      Tensor::zeros(v.shape(), DType::F32, v.device())});
  }
}

void Adam::step() {
  ++steps_;
  // torch: bias corrections and the step size in Python floats (double), handed to the kernels as float.
  const double t = static_cast<double>(steps_);
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
  const auto step_size = static_cast<float>(options_.lr / bias_correction1);
  const auto bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  for (Slot& s : slots_) {
    BIGCOLOR_CHECK(s.parameter->grad.defined(), "Adam: parameter '", s.name, "' has no gradient");
    ops::adam_update(s.parameter->value, s.exp_avg, s.exp_avg_sq, s.parameter->grad,
                     static_cast<float>(options_.beta1), static_cast<float>(options_.beta2),
                     static_cast<float>(options_.eps), step_size, bc2_sqrt);
  }
}

std::map<std::string, Tensor> Adam::state() const {
  std::map<std::string, Tensor> out;
  for (const Slot& s : slots_) {
    out[s.name + ".exp_avg"] = s.exp_avg;
    out[s.name + ".exp_avg_sq"] = s.exp_avg_sq;
  }
  return out;
}

void Adam::set_state(const std::map<std::string, Tensor>& tensors, std::int64_t steps, const std::string& source) {
  BIGCOLOR_CHECK(steps >= 0, source, ": negative optimizer step count ", steps);
  for (Slot& s : slots_) {  // check everything before changing anything
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
      const auto it = tensors.find(s.name + suffix);
      BIGCOLOR_CHECK(it != tensors.end(), source, ": '", s.name, suffix, "' is missing");
      BIGCOLOR_CHECK(it->second.shape() == s.exp_avg.shape(), source, ": '", s.name, suffix, "' has shape ",
                     shape_string(it->second.shape()), ", expected ", shape_string(s.exp_avg.shape()));
    }
  }
  for (Slot& s : slots_) {
    copy_checked(s.exp_avg, tensors, s.name + ".exp_avg", source);
    copy_checked(s.exp_avg_sq, tensors, s.name + ".exp_avg_sq", source);
  }
  steps_ = steps;
}

void Adam::to(Device device) {
  for (Slot& s : slots_) {
    if (s.exp_avg.device() != device) s.exp_avg = s.exp_avg.to(device);
    if (s.exp_avg_sq.device() != device) s.exp_avg_sq = s.exp_avg_sq.to(device);
  }
}

Ema::Ema(std::vector<Module::NamedParameter> parameters, double decay)
    : parameters_(std::move(parameters)), decay_(decay) {
  BIGCOLOR_CHECK(decay >= 0.0 && decay <= 1.0, "EMA decay ", decay, " must lie in [0, 1]");
  for (const Module::NamedParameter& p : parameters_) {
    const bool inserted = shadows_.emplace(p.name, p.parameter->value.clone()).second;
    BIGCOLOR_CHECK(inserted, "EMA: parameter '", p.name, "' is listed twice");
  }
}

void Ema::update() {
  ++num_updates_;
  const double t = static_cast<double>(num_updates_);
  const double decay = std::min(decay_, (1.0 + t) / (10.0 + t));
  const auto one_minus_decay = static_cast<float>(1.0 - decay);
  for (const Module::NamedParameter& p : parameters_) ops::ema_update(shadows_.at(p.name), p.parameter->value, one_minus_decay);
}

void Ema::set_state(const std::map<std::string, Tensor>& shadows, std::int64_t num_updates,
                    const std::string& source) {
  BIGCOLOR_CHECK(num_updates >= 0, source, ": negative EMA update count ", num_updates);
  for (const Module::NamedParameter& p : parameters_) {
    const auto it = shadows.find(p.name);
    BIGCOLOR_CHECK(it != shadows.end(), source, ": EMA shadow of '", p.name, "' is missing");
    BIGCOLOR_CHECK(it->second.shape() == p.parameter->value.shape(), source, ": EMA shadow of '", p.name,
                   "' has shape ", shape_string(it->second.shape()), ", expected ",
                   shape_string(p.parameter->value.shape()));
  }
  for (const Module::NamedParameter& p : parameters_) copy_checked(shadows_.at(p.name), shadows, p.name, source);
  num_updates_ = num_updates;
}

void Ema::swap_into_parameters() {
  for (const Module::NamedParameter& p : parameters_) std::swap(p.parameter->value, shadows_.at(p.name));
}

void Ema::to(Device device) {
  for (auto& [name, shadow] : shadows_)
    if (shadow.device() != device) shadow = shadow.to(device);
}

}  // namespace bigcolor::train
