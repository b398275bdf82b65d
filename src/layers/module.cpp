#include "layers/module.h"

#include "tensor/error.h"

namespace bigcolor {

Parameter& Module::add_parameter(const std::string& name, const Shape& shape, bool trainable) {
  parameters_.push_back({name, Parameter{Tensor::zeros(shape, DType::F32, device_),
                                         grad_enabled_ && trainable ? Tensor::zeros(shape, DType::F32, device_)
                                                                    : Tensor{},
                                         trainable}});
  return parameters_.back().parameter;
}

Tensor& Module::add_buffer(const std::string& name, const Shape& shape) {
  buffers_.push_back({name, Tensor::zeros(shape, DType::F32, device_)});
  return buffers_.back().tensor;
}

void Module::add_child(const std::string& name, Module& child) { children_.emplace_back(name, &child); }

std::vector<Module::NamedParameter> Module::parameters(const std::string& prefix) {
  std::vector<NamedParameter> out;
  for (OwnParameter& p : parameters_) out.push_back({prefix + p.name, &p.parameter});
  for (auto& [name, child] : children_) {
    std::vector<NamedParameter> sub = child->parameters(prefix + name + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Module::NamedTensor> Module::state(const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (OwnParameter& p : parameters_) out.push_back({prefix + p.name, p.parameter.value, false});
  for (OwnBuffer& b : buffers_) out.push_back({prefix + b.name, b.tensor, true});
  for (auto& [name, child] : children_) {
    std::vector<NamedTensor> sub = child->state(prefix + name + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void Module::set_training(bool training) {
  training_ = training;
  for (auto& child : children_) child.second->set_training(training);
}

void Module::set_weights_fixed(bool fixed) {
  weights_fixed_ = fixed;
  on_weights_fixed(fixed);
  for (auto& child : children_) child.second->set_weights_fixed(fixed);
}

void Module::set_grad_enabled(bool enabled) {
  grad_enabled_ = enabled;
  for (OwnParameter& p : parameters_) {
    Parameter& q = p.parameter;
    if (!enabled || !q.trainable)
      q.grad = Tensor{};
    else if (!q.grad.defined())
      q.grad = Tensor::zeros(q.value.shape(), DType::F32, q.value.device());
  }
  for (auto& child : children_) child.second->set_grad_enabled(enabled);
}

void Module::set_parameter_gradients(bool enabled) {
  parameter_gradients_ = enabled;
  for (auto& child : children_) child.second->set_parameter_gradients(enabled);
}

const Tensor& Module::grad_of(const Parameter& p) const {
  static const Tensor none;
  return parameter_gradients_ ? p.grad : none;
}

const Tensor& Module::grad_of(const Parameter* p) const {
  static const Tensor none;
  return p ? grad_of(*p) : none;
}

void Module::freeze() {
  for (OwnParameter& p : parameters_) {
    p.parameter.trainable = false;
    p.parameter.grad = Tensor{};
  }
  for (auto& child : children_) child.second->freeze();
}

void Module::zero_grad() {
  for (OwnParameter& p : parameters_)
    if (p.parameter.grad.defined()) p.parameter.grad.zero();
  for (auto& child : children_) child.second->zero_grad();
}

void Module::to(Device device) {
  device_ = device;
  for (OwnParameter& p : parameters_) {
    if (p.parameter.value.device() == device) continue;
    p.parameter.value = p.parameter.value.to(device);
    if (p.parameter.grad.defined()) p.parameter.grad = p.parameter.grad.to(device);
  }
  for (OwnBuffer& b : buffers_)
    if (b.tensor.device() != device) b.tensor = b.tensor.to(device);
  for (auto& child : children_) child.second->to(device);
}

}  // namespace bigcolor
