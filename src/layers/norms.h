// Normalization layers with the official names and semantics (F.batch_norm with momentum 0.1):
// - CCBN (`ccbn`, generator): gain = 1 + SNLinear(y), bias = SNLinear(y) (no bias terms); children `gain`, `bias`;
//   buffers `stored_mean`, `stored_var`.
// - ClassConditionNorm (encoder, 'adabatch'): the same with plain Linear(no bias) layers of the class embedding.
// - BatchNorm (`bn`, the generator's output layer): learned per-channel `gain` and `bias` parameters.
// Optionally each fuses the ReLU that follows it in the blocks (relu = true); PyTorch's modules have none, so the
// default is false.
#pragma once

#include <utility>

#include "layers/linear_conv.h"

namespace bigcolor {

// What the class-conditional norms share; the two subclasses differ only in their gain/bias layers.
class ConditionalNorm : public Module {
 public:
  struct Gradients {
    Tensor d_x;  // (B, C, H, W)
    Tensor d_y;  // (B, in_features)
  };
  // x (B, C, H, W), y (B, in_features).
  Tensor forward(const Tensor& x, const Tensor& y);
  Gradients backward(const Tensor& d_out);

  Tensor& stored_mean;
  Tensor& stored_var;

 protected:
  ConditionalNorm(std::int64_t channels, float eps, float momentum, bool relu);
  // The subclass's gain/bias layers: (B, in) -> (B, C), and their backward (returns d_y contributions).
  virtual Tensor gain_linear(const Tensor& y) = 0;
  virtual Tensor bias_linear(const Tensor& y) = 0;
  virtual Tensor gain_linear_backward(const Tensor& d) = 0;
  virtual Tensor bias_linear_backward(const Tensor& d) = 0;

 private:
  float eps_, momentum_;
  bool relu_;
  struct Saved {
    Tensor x, gain, out, mean, invstd;  // the batch mean and 1/std the forward used
  };
  SavedForBackward<Saved> saved_;
};

class CCBN : public ConditionalNorm {
 public:
  CCBN(std::int64_t channels, std::int64_t in_features, float bn_eps, float sn_eps, bool relu = false);
  SNLinear gain;
  SNLinear bias;

 private:
  Tensor gain_linear(const Tensor& y) override { return gain.forward(y); }
  Tensor bias_linear(const Tensor& y) override { return bias.forward(y); }
  Tensor gain_linear_backward(const Tensor& d) override { return gain.backward(d); }
  Tensor bias_linear_backward(const Tensor& d) override { return bias.backward(d); }
};

class ClassConditionNorm : public ConditionalNorm {
 public:
  ClassConditionNorm(std::int64_t channels, std::int64_t in_features, float eps = 1e-5f, bool relu = false);
  Linear gain;
  Linear bias;

 private:
  Tensor gain_linear(const Tensor& y) override { return gain.forward(y); }
  Tensor bias_linear(const Tensor& y) override { return bias.forward(y); }
  Tensor gain_linear_backward(const Tensor& d) override { return gain.backward(d); }
  Tensor bias_linear_backward(const Tensor& d) override { return bias.backward(d); }
};

class BatchNorm : public Module {
 public:
  BatchNorm(std::int64_t channels, float eps = 1e-5f, float momentum = 0.1f, bool relu = false);
  Tensor forward(const Tensor& x);
  Tensor backward(const Tensor& d_out);  // returns d_x; accumulates gain.grad, bias.grad
  Parameter& gain;
  Parameter& bias;
  Tensor& stored_mean;
  Tensor& stored_var;

 private:
  float eps_, momentum_;
  bool relu_;
  struct Saved {
    Tensor x, out, mean, invstd;
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
