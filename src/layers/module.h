// Module: what every layer and model shares. One walk over parameters and buffers with their official PyTorch
// names serves checkpoint loading and saving, the optimizer, EMA and gradient zeroing (no second list anywhere).
//
// Orders, as PyTorch's:
// - parameters(): a module's own parameters in registration order, then each child's, depth first
//   (so Attention's `gamma` comes before `theta.weight`);
// - state(): a module's own parameters, then its own buffers, then each child's state (state_dict order).
//
// Layers keep what their backward needs from the last forward (like autograd's saved tensors) while gradients are
// enabled; with set_grad_enabled(false) (inference) they keep nothing, so activation memory can be freed at once.
// Each module instance is used once per forward/backward pair: backward() consumes the saved state (see
// SavedForBackward below, the one place that rule is written).
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace bigcolor {

// A trainable (or frozen) tensor and its gradient (same shape and device, zeroed by zero_grad(), accumulated by
// backward passes). The gradient exists exactly while the module's gradients are enabled and the parameter is
// trainable: inference (set_grad_enabled(false)) frees it, so a model for colorizing holds its weights once, not
// twice; a frozen parameter (GBlock's in1/in2, the VGG of the perceptual loss) never has one, and the backward
// passes skip its gradient while still computing the input's.
struct Parameter {
  Tensor value;
  Tensor grad;
  bool trainable = true;  // false: loaded and saved, never updated (GBlock's unused in1/in2)
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  struct NamedParameter {
    std::string name;
    Parameter* parameter;
  };
  struct NamedTensor {
    std::string name;
    Tensor tensor;
    bool is_buffer;
  };
  // Parameters in PyTorch's parameters() order, with full dotted names ("res1.conv_1.weight").
  std::vector<NamedParameter> parameters(const std::string& prefix = "");
  // Parameters and buffers in state_dict order.
  std::vector<NamedTensor> state(const std::string& prefix = "");

  void set_training(bool training);  // recursive; training updates running statistics, u0/sv0, uses dropout
  bool training() const { return training_; }
  // Recursive. false: forward keeps nothing for a backward, and parameter gradients are freed; true: they are
  // allocated again (zeroed) where missing.
  void set_grad_enabled(bool enabled);
  bool grad_enabled() const { return grad_enabled_; }
  void zero_grad();                  // recursive
  // Recursive. false: backward passes compute only the gradients reaching their inputs and skip (do not compute)
  // every parameter gradient, whose tensors stay allocated and untouched; for a module that a loss only passes a
  // gradient through (the discriminator in the EG step). Prefer the scoped NoParameterGradients below.
  void set_parameter_gradients(bool enabled);
  bool parameter_gradients() const { return parameter_gradients_; }
  // Recursive: every parameter becomes non-trainable and loses its gradient. Forward still keeps what backward
  // needs (while gradients are enabled), so gradients flow through the module to its input (a loss network).
  void freeze();
  // Recursive. true: the weights and buffers will not change until set_weights_fixed(false) (a loaded model that
  // only colorizes: the library's Model): layers compute once what depends on the weights alone (spectral norm's
  // W/σ in eval mode, the reason a 256² forward spent 7% of its time in the power iteration) and mark it immutable,
  // so engines may keep converted copies (the bf16 weights of kernels/cpu/dnnl_engine.h: converted once, not per
  // call). Loading, editing or moving weights, or training, needs set_weights_fixed(false) first.
  void set_weights_fixed(bool fixed);
  bool weights_fixed() const { return weights_fixed_; }
  void to(Device device);            // moves parameters, gradients and buffers (recursive)
  Device device() const { return device_; }

  // Called by this module's backward with each child whose parameter gradients are final for this backward pass
  // (the models: Discriminator, Generator, Encoder, block by block), so that data-parallel training can start their
  // all-reduce while the backward goes on (train/process_group.h). Empty (the default): nothing is called.
  void set_gradients_ready_hook(std::function<void(Module&)> hook) { gradients_ready_hook_ = std::move(hook); }

 protected:
  // This module's own part of set_weights_fixed (children are handled by the walk).
  virtual void on_weights_fixed(bool fixed) { (void)fixed; }
  // Registration, in the order PyTorch's module registers them. Returned references stay valid.
  Parameter& add_parameter(const std::string& name, const Shape& shape, bool trainable = true);
  Tensor& add_buffer(const std::string& name, const Shape& shape);
  void add_child(const std::string& name, Module& child);
  // Where a backward accumulates p's gradient: p.grad, or an undefined tensor ("not wanted": the ops skip it)
  // while parameter gradients are off or for a frozen parameter (which has none). nullptr (no bias): undefined.
  const Tensor& grad_of(const Parameter& p) const;
  const Tensor& grad_of(const Parameter* p) const;
  void gradients_ready(Module& child) const {
    if (gradients_ready_hook_) gradients_ready_hook_(child);
  }

 private:
  struct OwnParameter {
    std::string name;
    Parameter parameter;
  };
  struct OwnBuffer {
    std::string name;
    Tensor tensor;
  };
  std::deque<OwnParameter> parameters_;  // deque: references handed out stay valid as more are added
  std::deque<OwnBuffer> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
  bool weights_fixed_ = false;
  bool grad_enabled_ = true;
  bool parameter_gradients_ = true;
  Device device_ = Device::CPU;
  std::function<void(Module&)> gradients_ready_hook_;
};

// Scoped "no parameter gradients" for one module and its children: while it lives, their backward passes compute
// only input gradients (Module::set_parameter_gradients(false)); on leaving the scope, exceptions included, the
// module gets back the setting it had.
class NoParameterGradients {
 public:
  explicit NoParameterGradients(Module& module) : module_(module), was_(module.parameter_gradients()) {
    module_.set_parameter_gradients(false);
  }
  ~NoParameterGradients() { module_.set_parameter_gradients(was_); }
  NoParameterGradients(const NoParameterGradients&) = delete;
  NoParameterGradients& operator=(const NoParameterGradients&) = delete;

 private:
  Module& module_;
  bool was_;
};

// What one layer's backward needs from its forward, kept in one place: the layer declares a struct of it (State)
// and holds a SavedForBackward<State>. The rule, written only here: forward saves only while the layer's gradients
// are enabled (otherwise it keeps nothing and drops what an earlier forward kept); backward takes the state out, so
// it is freed when that backward returns, and a second backward without a new forward is an error.
template <class State>
class SavedForBackward {
 public:
  void save(const Module& owner, State state) {
    if (owner.grad_enabled())
      state_ = std::move(state);
    else
      state_.reset();
  }
  // The saved state, moved out; throws naming `layer` when there is none.
  State take(const char* layer) {
    BIGCOLOR_CHECK(state_.has_value(), layer,
                   ": backward without a saved forward (gradients disabled, or backward called twice)");
    State state = std::move(*state_);
    state_.reset();
    return state;
  }

 private:
  std::optional<State> state_;
};

}  // namespace bigcolor
