// Golden tests: every CPU op, forward and backward, against PyTorch's float32 results stored in tests/golden/
// (written by tools/make_golden_ops.py; see its header for the file layout and how to regenerate).
//
// For every file and every case: outputs are allocated with the reference shapes and poisoned (NaN), activation
// gradients are poisoned (they overwrite), parameter gradients start at zero (they accumulate), and everything is
// compared with test::check_close at the project's float32 bar, normalized error <= 1e-5. The backward is fed the
// reference's saved tensors (forward output, batch-norm statistics), so a backward failure is the backward's.
// A missing file, case setting or tensor is a failure, a file with fewer cases than were generated is a failure,
// and so is a stored tensor that no check read.
#include <doctest/doctest.h>

#include <cstddef>
#include <exception>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tensor/error.h"
#include "test_util.h"

namespace {

using bigcolor::Tensor;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-5;  // the project's bar for a float32 op: never widen it

class Golden {
 public:
  explicit Golden(const std::string& family)
      : family_(family), file_(bigcolor::load_safetensors(test::golden_path(family + ".safetensors"))) {}

  const std::string& family() const { return family_; }

  // Case names: every tensor key up to its last '.'.
  std::vector<std::string> cases() const {
    std::set<std::string> names;
    for (const auto& [key, tensor] : file_.tensors) {
      const auto dot = key.rfind('.');
      if (dot == std::string::npos || dot == 0) throw bigcolor::Error(family_ + ": key without a case: " + key);
      names.insert(key.substr(0, dot));
    }
    return {names.begin(), names.end()};
  }

  // The stored tensor `<c>.<name>`; an Error if it is missing.
  const Tensor& t(const std::string& c, const std::string& name) const {
    const std::string key = c + "." + name;
    if (!file_.contains(key)) throw bigcolor::Error(family_ + ".safetensors: missing tensor " + key);
    used_.insert(key);
    return file_.at(key);
  }

  std::string meta(const std::string& c, const std::string& name) const {
    const auto it = file_.metadata.find(c + "." + name);
    if (it == file_.metadata.end()) throw bigcolor::Error(family_ + ".safetensors: missing metadata " + c + "." + name);
    return it->second;
  }
  int meta_int(const std::string& c, const std::string& name) const {
    const std::string value = meta(c, name);
    std::size_t used = 0;
    const int result = std::stoi(value, &used);
    if (used != value.size()) throw bigcolor::Error(family_ + ": bad integer " + c + "." + name + " = " + value);
    return result;
  }
  float meta_float(const std::string& c, const std::string& name) const {
    const std::string value = meta(c, name);
    std::size_t used = 0;
    const float result = std::stof(value, &used);
    if (used != value.size()) throw bigcolor::Error(family_ + ": bad number " + c + "." + name + " = " + value);
    return result;
  }
  bool meta_bool(const std::string& c, const std::string& name) const {
    const std::string value = meta(c, name);
    if (value == "1" || value == "true" || value == "True") return true;
    if (value == "0" || value == "false" || value == "False") return false;
    throw bigcolor::Error(family_ + ": bad flag " + c + "." + name + " = " + value);
  }

  std::string what(const std::string& c, const std::string& name) const { return family_ + "/" + c + "/" + name; }

  // Compares `out` with the stored `<c>.<name>`.
  void check(const Tensor& out, const std::string& c, const std::string& name, const std::string& note = "") const {
    test::check_close(out, t(c, name), kTolerance, what(c, name) + note);
  }

  // Runs `run` on every case (an exception fails that case and moves on), checks the case count, then checks that
  // every stored tensor was read by some check.
  void for_each_case(std::size_t min_cases, const std::function<void(const std::string&)>& run) const {
    const auto names = cases();
    const std::string count_message = family_ + ".safetensors holds " + std::to_string(names.size()) +
                                      " cases, expected at least " + std::to_string(min_cases) +
                                      " (regenerate with tools/make_golden_ops.py)";
    CHECK_MESSAGE(names.size() >= min_cases, count_message);
    std::set<std::string> failed;
    for (const auto& c : names) {
      INFO("golden case ", family_, "/", c);
      try {
        run(c);
      } catch (const std::exception& e) {
        failed.insert(c);
        const std::string message = family_ + "/" + c + ": exception: " + e.what();
        FAIL_CHECK(message);
      }
    }
    for (const auto& [key, tensor] : file_.tensors) {
      if (failed.count(key.substr(0, key.rfind('.'))) != 0) continue;  // already failed: no second report
      const std::string message = family_ + ".safetensors: tensor " + key + " was never checked";
      CHECK_MESSAGE(used_.count(key) == 1, message);
    }
  }

 private:
  std::string family_;
  bigcolor::SafetensorsFile file_;
  mutable std::set<std::string> used_;
};

// An output or activation gradient with the reference's shape, full of NaN.
Tensor poisoned_like(const Tensor& ref) {
  Tensor t = Tensor::empty(ref.shape());
  test::poison(t);
  return t;
}

// A parameter gradient with the reference's shape, zeroed (parameter gradients accumulate).
Tensor zeros_like(const Tensor& ref) { return Tensor::zeros(ref.shape()); }

}  // namespace

TEST_SUITE("golden") {

TEST_CASE("golden conv2d") {
  const Golden g("conv2d");
  g.for_each_case(12, [&](const std::string& c) {
    const int padding = g.meta_int(c, "padding");
    const bool has_bias = g.meta_bool(c, "has_bias");
    const Tensor& in = g.t(c, "in");
    const Tensor& weight = g.t(c, "weight");
    const Tensor bias = has_bias ? g.t(c, "bias") : Tensor{};
    const Tensor& d_out = g.t(c, "d_out");

    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::conv2d_forward(out, in, weight, bias, padding);
    g.check(out, c, "out");

    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    const Tensor d_weight = zeros_like(g.t(c, "d_weight"));
    const Tensor d_bias = has_bias ? zeros_like(g.t(c, "d_bias")) : Tensor{};
    ops::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding);
    g.check(d_in, c, "d_in");
    g.check(d_weight, c, "d_weight");
    if (has_bias) g.check(d_bias, c, "d_bias");

    // Gradients not wanted: parameters only (a first layer), then the input only (frozen weights).
    const Tensor d_weight2 = zeros_like(d_weight);
    const Tensor d_bias2 = has_bias ? zeros_like(d_bias) : Tensor{};
    ops::conv2d_backward(Tensor{}, d_weight2, d_bias2, d_out, in, weight, padding);
    g.check(d_weight2, c, "d_weight", " (no d_in)");
    if (has_bias) g.check(d_bias2, c, "d_bias", " (no d_in)");
    const Tensor d_in2 = poisoned_like(d_in);
    ops::conv2d_backward(d_in2, Tensor{}, Tensor{}, d_out, in, weight, padding);
    g.check(d_in2, c, "d_in", " (no d_weight, d_bias)");
  });
}

TEST_CASE("golden linear") {
  const Golden g("linear");
  g.for_each_case(5, [&](const std::string& c) {
    const bool has_bias = g.meta_bool(c, "has_bias");
    const Tensor& in = g.t(c, "in");
    const Tensor& weight = g.t(c, "weight");
    const Tensor bias = has_bias ? g.t(c, "bias") : Tensor{};
    const Tensor& d_out = g.t(c, "d_out");

    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::linear_forward(out, in, weight, bias);
    g.check(out, c, "out");

    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    const Tensor d_weight = zeros_like(g.t(c, "d_weight"));
    const Tensor d_bias = has_bias ? zeros_like(g.t(c, "d_bias")) : Tensor{};
    ops::linear_backward(d_in, d_weight, d_bias, d_out, in, weight);
    g.check(d_in, c, "d_in");
    g.check(d_weight, c, "d_weight");
    if (has_bias) g.check(d_bias, c, "d_bias");

    const Tensor d_weight2 = zeros_like(d_weight);
    const Tensor d_bias2 = has_bias ? zeros_like(d_bias) : Tensor{};
    ops::linear_backward(Tensor{}, d_weight2, d_bias2, d_out, in, weight);
    g.check(d_weight2, c, "d_weight", " (no d_in)");
    if (has_bias) g.check(d_bias2, c, "d_bias", " (no d_in)");
    const Tensor d_in2 = poisoned_like(d_in);
    ops::linear_backward(d_in2, Tensor{}, Tensor{}, d_out, in, weight);
    g.check(d_in2, c, "d_in", " (no d_weight, d_bias)");
  });
}

TEST_CASE("golden embedding") {
  const Golden g("embedding");
  g.for_each_case(4, [&](const std::string& c) {
    const Tensor& table = g.t(c, "table");
    const Tensor& indices = g.t(c, "indices");
    if (indices.dtype() != bigcolor::DType::I32) throw bigcolor::Error("embedding: " + c + ".indices is not I32");

    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::embedding_forward(out, table, indices);
    g.check(out, c, "out");

    const Tensor d_table = zeros_like(g.t(c, "d_table"));
    ops::embedding_backward(d_table, g.t(c, "d_out"), indices);
    g.check(d_table, c, "d_table");
  });
}

TEST_CASE("golden bmm") {
  const Golden g("bmm");
  g.for_each_case(12, [&](const std::string& c) {
    const bool trans_a = g.meta_bool(c, "trans_a");
    const bool trans_b = g.meta_bool(c, "trans_b");
    const Tensor& a = g.t(c, "a");
    const Tensor& b = g.t(c, "b");
    const Tensor& d_out = g.t(c, "d_out");

    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::bmm_forward(out, a, b, trans_a, trans_b);
    g.check(out, c, "out");

    const Tensor d_a = poisoned_like(g.t(c, "d_a"));
    const Tensor d_b = poisoned_like(g.t(c, "d_b"));
    ops::bmm_backward(d_a, d_b, d_out, a, b, trans_a, trans_b);
    g.check(d_a, c, "d_a");
    g.check(d_b, c, "d_b");

    const Tensor d_a2 = poisoned_like(d_a);
    ops::bmm_backward(d_a2, Tensor{}, d_out, a, b, trans_a, trans_b);
    g.check(d_a2, c, "d_a", " (no d_b)");
    const Tensor d_b2 = poisoned_like(d_b);
    ops::bmm_backward(Tensor{}, d_b2, d_out, a, b, trans_a, trans_b);
    g.check(d_b2, c, "d_b", " (no d_a)");
  });
}

TEST_CASE("golden softmax") {
  const Golden g("softmax");
  g.for_each_case(6, [&](const std::string& c) {
    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::softmax_forward(out, g.t(c, "in"));
    g.check(out, c, "out");

    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    ops::softmax_backward(d_in, g.t(c, "d_out"), g.t(c, "out"));
    g.check(d_in, c, "d_in");
  });
}

TEST_CASE("golden activations") {
  const Golden g("activations");
  g.for_each_case(6, [&](const std::string& c) {
    const std::string op = g.meta(c, "op");
    using Fwd = void (*)(const Tensor&, const Tensor&);
    using Bwd = void (*)(const Tensor&, const Tensor&, const Tensor&);
    Fwd forward = nullptr;
    Bwd backward = nullptr;
    if (op == "relu") {
      forward = ops::relu_forward;
      backward = ops::relu_backward;
    } else if (op == "tanh") {
      forward = ops::tanh_forward;
      backward = ops::tanh_backward;
    } else {
      throw bigcolor::Error("activations.safetensors: unknown op '" + op + "' in case " + c);
    }
    const Tensor& in = g.t(c, "in");

    const Tensor out = poisoned_like(g.t(c, "out"));
    forward(out, in);
    g.check(out, c, "out");
    const Tensor in_place = in.clone();  // the contract allows out to alias in
    forward(in_place, in_place);
    g.check(in_place, c, "out", " (in place)");

    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    backward(d_in, g.t(c, "d_out"), g.t(c, "out"));
    g.check(d_in, c, "d_in");
  });
}

TEST_CASE("golden elementwise") {
  const Golden g("elementwise");
  g.for_each_case(10, [&](const std::string& c) {
    const std::string op = g.meta(c, "op");
    const Tensor& d_out = g.t(c, "d_out");
    const Tensor out = poisoned_like(g.t(c, "out"));
    if (op == "add" || op == "mul") {
      const Tensor& a = g.t(c, "a");
      const Tensor& b = g.t(c, "b");
      const Tensor d_a = poisoned_like(g.t(c, "d_a"));
      const Tensor d_b = poisoned_like(g.t(c, "d_b"));
      if (op == "add") {
        ops::add_forward(out, a, b);
        ops::add_backward(d_a, d_b, d_out);
      } else {
        ops::mul_forward(out, a, b);
        ops::mul_backward(d_a, d_b, d_out, a, b);
      }
      g.check(out, c, "out");
      g.check(d_a, c, "d_a");
      g.check(d_b, c, "d_b");
      if (op == "mul") {
        const Tensor d_a2 = poisoned_like(d_a);
        ops::mul_backward(d_a2, Tensor{}, d_out, a, b);
        g.check(d_a2, c, "d_a", " (no d_b)");
        const Tensor d_b2 = poisoned_like(d_b);
        ops::mul_backward(Tensor{}, d_b2, d_out, a, b);
        g.check(d_b2, c, "d_b", " (no d_a)");
      }
    } else if (op == "scale") {
      const float factor = g.meta_float(c, "factor");
      ops::scale_forward(out, g.t(c, "in"), factor);
      g.check(out, c, "out");
      const Tensor d_in = poisoned_like(g.t(c, "d_in"));
      ops::scale_backward(d_in, d_out, factor);
      g.check(d_in, c, "d_in");
    } else {
      throw bigcolor::Error("elementwise.safetensors: unknown op '" + op + "' in case " + c);
    }
  });
}

TEST_CASE("golden upsample") {
  const Golden g("upsample");
  g.for_each_case(3, [&](const std::string& c) {
    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::upsample_nearest2x_forward(out, g.t(c, "in"));
    g.check(out, c, "out");
    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    ops::upsample_nearest2x_backward(d_in, g.t(c, "d_out"));
    g.check(d_in, c, "d_in");
  });
}

TEST_CASE("golden pooling") {
  const Golden g("pooling");
  g.for_each_case(9, [&](const std::string& c) {
    const std::string op = g.meta(c, "op");
    const Tensor& in = g.t(c, "in");
    const Tensor out = poisoned_like(g.t(c, "out"));
    const Tensor d_in = poisoned_like(g.t(c, "d_in"));  // the dropped odd row/column must be written (zeros)
    if (op == "avg") {
      ops::avgpool2x2_forward(out, in);
      ops::avgpool2x2_backward(d_in, g.t(c, "d_out"));
    } else if (op == "max") {
      ops::maxpool2x2_forward(out, in);
      ops::maxpool2x2_backward(d_in, g.t(c, "d_out"), in);
    } else {
      throw bigcolor::Error("pooling.safetensors: unknown op '" + op + "' in case " + c);
    }
    g.check(out, c, "out");
    g.check(d_in, c, "d_in");
  });
}

TEST_CASE("golden batchnorm") {
  const Golden g("batchnorm");
  g.for_each_case(11, [&](const std::string& c) {
    const bool affine = g.meta_bool(c, "affine");
    const bool training = g.meta_bool(c, "training");
    const float momentum = g.meta_float(c, "momentum");
    const float eps = g.meta_float(c, "eps");
    const Tensor& in = g.t(c, "in");
    const Tensor weight = affine ? g.t(c, "weight") : Tensor{};
    const Tensor bias = affine ? g.t(c, "bias") : Tensor{};

    const Tensor running_mean = g.t(c, "running_mean").clone();
    const Tensor running_var = g.t(c, "running_var").clone();
    const Tensor out = poisoned_like(g.t(c, "out"));
    const Tensor saved_mean = poisoned_like(g.t(c, "saved_mean"));
    const Tensor saved_invstd = poisoned_like(g.t(c, "saved_invstd"));
    ops::batchnorm_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, weight, bias, training,
                           momentum, eps);
    g.check(out, c, "out");
    g.check(saved_mean, c, "saved_mean");
    g.check(saved_invstd, c, "saved_invstd");
    g.check(running_mean, c, "running_mean_after");
    g.check(running_var, c, "running_var_after");
    if (!training) {  // eval leaves the running statistics exactly as they were
      CHECK_MESSAGE(running_mean.to_vector() == g.t(c, "running_mean").to_vector(), g.what(c, "running_mean"),
                    " changed in eval mode");
      CHECK_MESSAGE(running_var.to_vector() == g.t(c, "running_var").to_vector(), g.what(c, "running_var"),
                    " changed in eval mode");
    }

    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    const Tensor d_weight = affine ? zeros_like(g.t(c, "d_weight")) : Tensor{};
    const Tensor d_bias = affine ? zeros_like(g.t(c, "d_bias")) : Tensor{};
    ops::batchnorm_backward(d_in, d_weight, d_bias, g.t(c, "d_out"), in, weight, g.t(c, "saved_mean"),
                            g.t(c, "saved_invstd"), training);
    g.check(d_in, c, "d_in");
    if (affine) {
      g.check(d_weight, c, "d_weight");
      g.check(d_bias, c, "d_bias");
      const Tensor d_weight2 = zeros_like(d_weight);
      const Tensor d_bias2 = zeros_like(d_bias);
      ops::batchnorm_backward(Tensor{}, d_weight2, d_bias2, g.t(c, "d_out"), in, weight, g.t(c, "saved_mean"),
                              g.t(c, "saved_invstd"), training);
      g.check(d_weight2, c, "d_weight", " (no d_in)");
      g.check(d_bias2, c, "d_bias", " (no d_in)");
    }
  });
}

TEST_CASE("golden reduce") {
  const Golden g("reduce");
  g.for_each_case(14, [&](const std::string& c) {
    const std::string op = g.meta(c, "op");
    const Tensor out = poisoned_like(g.t(c, "out"));  // its shape picks the reduced axes
    const Tensor d_in = poisoned_like(g.t(c, "d_in"));
    if (op == "sum") {
      ops::sum_forward(out, g.t(c, "in"));
      ops::sum_backward(d_in, g.t(c, "d_out"));
    } else if (op == "mean") {
      ops::mean_forward(out, g.t(c, "in"));
      ops::mean_backward(d_in, g.t(c, "d_out"));
    } else {
      throw bigcolor::Error("reduce.safetensors: unknown op '" + op + "' in case " + c);
    }
    g.check(out, c, "out");
    g.check(d_in, c, "d_in");
  });
}

TEST_CASE("golden mse") {
  const Golden g("mse");
  g.for_each_case(4, [&](const std::string& c) {
    const Tensor& a = g.t(c, "a");
    const Tensor& b = g.t(c, "b");
    const Tensor& d_out = g.t(c, "d_out");
    const Tensor out = poisoned_like(g.t(c, "out"));
    ops::mse_loss_forward(out, a, b);
    g.check(out, c, "out");

    const Tensor d_a = poisoned_like(g.t(c, "d_a"));
    const Tensor d_b = poisoned_like(g.t(c, "d_b"));
    ops::mse_loss_backward(d_a, d_b, d_out, a, b);
    g.check(d_a, c, "d_a");
    g.check(d_b, c, "d_b");
    const Tensor d_a2 = poisoned_like(d_a);
    ops::mse_loss_backward(d_a2, Tensor{}, d_out, a, b);
    g.check(d_a2, c, "d_a", " (no d_b)");
  });
}

}  // TEST_SUITE("golden")
