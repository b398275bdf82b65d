// Finite-difference gradient checks of every op with a backward, on small shapes on the CPU.
//
// For an op with output `out` and a fixed random R of out's shape, L(x) = Σ out ⊙ R, so ∂L/∂out = R is the d_out
// given to the backward. For each differentiable input x (inputs, weights, biases, tables) and a few random
// directions v (uniform in [-1, 1]) the central difference
//     L(x⁺) − L(x⁻),  x⁺ = fl(x + h·v), x⁻ = fl(x − h·v)
// is compared with ⟨∇ₓL, x⁺ − x⁻⟩ from the backward (using the perturbation actually applied in float32, so the
// rounding of x ± h·v does not count as error); both are printed divided by 2h. L is accumulated in double.
// They must agree to a relative 1e-2 (gradients_agree), which a gradient scaled by 2, by 0 or with its sign flipped
// fails (see the self-test). Since a random direction dilutes an error confined to a few directions, every input of
// up to kFullCheckMaxElements elements is also checked coordinate by coordinate (x ± h·e_j for every j), the whole
// finite-difference gradient against the backward's, normalized error <= 1e-2.
// Inputs stay away from kinks: relu inputs away from 0, max-pool windows without near-ties.
// The contract is checked too: parameter gradients start at a random value and must ACCUMULATE into it (the check
// uses grad − start); activation gradients start as NaN and must be overwritten.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "test_util.h"

namespace {

using bigcolor::Rng;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kRelativeTolerance = 1e-2;
constexpr int kDirections = 3;

// The comparison predicate: finite, not both vanishing (a vacuous check is a failure), and within `tol` relative.
bool gradients_agree(double finite_difference, double analytic, double tol = kRelativeTolerance) {
  if (!std::isfinite(finite_difference) || !std::isfinite(analytic)) return false;
  const double scale = std::max(std::abs(finite_difference), std::abs(analytic));
  if (scale < 1e-30) return false;
  return std::abs(finite_difference - analytic) <= tol * scale;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

struct GradInput {
  std::string name;
  Tensor value;       // perturbed in place; the forward closure holds the same handle
  Tensor grad;        // where the backward writes ∂L/∂value
  bool accumulates;   // a parameter gradient (+=): starts at a random value; else starts as NaN (overwrite)
};

struct OpUnderTest {
  std::string name;
  Tensor out;                                          // written by forward
  std::function<void()> forward;                       // out = f(current values)
  std::function<void(const Tensor& d_out)> backward;  // writes every GradInput::grad
  std::vector<GradInput> inputs;
  double h = 1e-2;
};

// One comparison: a random direction (finite difference vs backward, both per unit h), or, for a small input, the
// whole gradient against central differences along every coordinate (normalized error ‖backward − fd‖ / ‖fd‖).
struct CheckResult {
  std::string what;
  bool full = false;               // the coordinate-wise check of the whole gradient
  double finite_difference = 0.0;  // direction: (L(x⁺) − L(x⁻)) / 2h; full: ‖fd‖
  double analytic = 0.0;           // direction: ⟨∇L, x⁺ − x⁻⟩ / 2h; full: ‖∇L‖
  double error = 0.0;              // relative error
  bool agree = false;
  std::string describe() const {
    std::ostringstream s;
    s << what << (full ? ": ‖finite differences‖ " : ": finite difference ") << finite_difference
      << (full ? ", ‖backward‖ " : ", backward ") << analytic << ", relative error " << error << " (tolerance "
      << kRelativeTolerance << ")";
    return s.str();
  }
};

// The whole-gradient check costs two forwards per element: done for inputs up to this size.
constexpr std::size_t kFullCheckMaxElements = 512;

// Optional hook for the self-test: alters the analytic gradient of input `index` before the comparison.
using Tamper = std::function<void(std::vector<double>& gradient, std::size_t index)>;

std::vector<CheckResult> gradient_checks(OpUnderTest& op, Rng& rng, const Tamper& tamper = {}) {
  const Tensor r = test::random_normal(op.out.shape(), rng);
  const std::vector<float> r_values = r.to_vector();

  op.forward();
  std::vector<std::vector<float>> start(op.inputs.size());
  for (std::size_t i = 0; i < op.inputs.size(); ++i) {
    const GradInput& in = op.inputs[i];
    if (in.accumulates) {
      const Tensor init = test::random_normal(in.grad.shape(), rng);
      in.grad.copy_from(init);
      start[i] = init.to_vector();
    } else {
      test::poison(in.grad);
    }
  }
  op.backward(r);

  std::vector<CheckResult> results;
  for (std::size_t i = 0; i < op.inputs.size(); ++i) {
    const GradInput& in = op.inputs[i];
    const std::vector<float> grad_values = in.grad.to_vector();
    std::vector<double> gradient(grad_values.size());
    for (std::size_t j = 0; j < gradient.size(); ++j) {
      gradient[j] = static_cast<double>(grad_values[j]) - (in.accumulates ? static_cast<double>(start[i][j]) : 0.0);
    }
    if (tamper) tamper(gradient, i);

    const Tensor original = in.value.clone();
    const std::vector<float> x0 = original.to_vector();
    const auto h = static_cast<float>(op.h);
    // L at x0 + delta and x0 − delta; returns L⁺ − L⁻ and ⟨∇L, x⁺ − x⁻⟩ (the perturbation actually applied).
    const auto central = [&](const std::vector<float>& delta, double& difference, double& analytic) {
      std::vector<float> plus(x0.size()), minus(x0.size());
      for (std::size_t j = 0; j < x0.size(); ++j) {
        plus[j] = x0[j] + delta[j];
        minus[j] = x0[j] - delta[j];
      }
      in.value.copy_from(Tensor::from_vector(plus, in.value.shape()));
      op.forward();
      const double loss_plus = dot(op.out.to_vector(), r_values);
      in.value.copy_from(Tensor::from_vector(minus, in.value.shape()));
      op.forward();
      const double loss_minus = dot(op.out.to_vector(), r_values);
      in.value.copy_from(original);
      difference = loss_plus - loss_minus;
      analytic = 0.0;
      for (std::size_t j = 0; j < x0.size(); ++j) {
        if (delta[j] != 0.0f) analytic += gradient[j] * (static_cast<double>(plus[j]) - static_cast<double>(minus[j]));
      }
    };

    for (int k = 0; k < kDirections; ++k) {
      std::vector<float> delta = test::random_uniform(in.value.shape(), rng, -1.0f, 1.0f).to_vector();
      for (float& d : delta) d *= h;
      double difference = 0.0, analytic = 0.0;
      central(delta, difference, analytic);
      CheckResult result;
      result.what = op.name + " d_" + in.name + " direction " + std::to_string(k);
      result.finite_difference = difference / (2.0 * op.h);
      result.analytic = analytic / (2.0 * op.h);
      result.error = std::abs(result.finite_difference - result.analytic) /
                     std::max(std::abs(result.finite_difference), std::abs(result.analytic));
      result.agree = gradients_agree(result.finite_difference, result.analytic);
      results.push_back(result);
    }

    if (x0.size() <= kFullCheckMaxElements) {
      // A random direction dilutes an error confined to a few directions (a batch-norm backward that forgets the
      // statistics path is off by a per-channel rank-2 term: ~2% along a random direction when n = 60); the
      // coordinate-wise check sees the whole gradient.
      double diff2 = 0.0, fd2 = 0.0, an2 = 0.0;
      std::vector<float> delta(x0.size(), 0.0f);
      for (std::size_t j = 0; j < x0.size(); ++j) {
        delta[j] = h;
        double difference = 0.0, analytic = 0.0;
        central(delta, difference, analytic);
        delta[j] = 0.0f;
        diff2 += (difference - analytic) * (difference - analytic);
        fd2 += difference * difference;
        an2 += analytic * analytic;
      }
      CheckResult result;
      result.what = op.name + " d_" + in.name + " every coordinate";
      result.full = true;
      result.finite_difference = std::sqrt(fd2) / (2.0 * op.h);
      result.analytic = std::sqrt(an2) / (2.0 * op.h);
      result.error = fd2 > 0.0 ? std::sqrt(diff2 / fd2) : INFINITY;
      result.agree = std::isfinite(result.error) && std::isfinite(an2) && result.error <= kRelativeTolerance;
      results.push_back(result);
    }
  }
  op.forward();  // leave out consistent with the unperturbed inputs
  return results;
}

void check_gradients(OpUnderTest op, Rng& rng) {
  INFO("gradcheck ", op.name);
  REQUIRE_FALSE(op.inputs.empty());
  const auto results = gradient_checks(op, rng);
  std::size_t expected = 0;
  for (const auto& in : op.inputs) {
    expected += kDirections + (static_cast<std::size_t>(in.value.numel()) <= kFullCheckMaxElements ? 1 : 0);
  }
  CHECK(results.size() == expected);
  for (const auto& result : results) CHECK_MESSAGE(result.agree, result.describe());
}

// A grad buffer shaped like `t`.
Tensor grad_for(const Tensor& t) { return Tensor::empty(t.shape()); }

// Values away from 0 (|x| >= margin), for relu.
Tensor away_from_zero(const Shape& shape, Rng& rng, float margin) {
  std::vector<float> v = test::random_normal(shape, rng).to_vector();
  for (float& x : v) x = (x >= 0.0f ? 1.0f : -1.0f) * (margin + std::abs(x));
  return Tensor::from_vector(v, shape);
}

// Distinct values on a grid of step `gap`, shuffled: no two elements (so no two in a pooling window) are closer
// than `gap`, so perturbations smaller than gap/2 never change a window's argmax.
Tensor distinct_values(const Shape& shape, Rng& rng, float gap) {
  const auto n = static_cast<std::size_t>(bigcolor::shape_numel(shape));
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = gap * (static_cast<float>(i) - 0.5f * static_cast<float>(n));
  for (std::size_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.next_u32() % (i + 1)]);
  return Tensor::from_vector(v, shape);
}

// ---- op builders ------------------------------------------------------------------------------------------------

OpUnderTest conv2d_op(Rng& rng, std::int64_t b, std::int64_t cin, std::int64_t cout, std::int64_t h, std::int64_t w,
                      std::int64_t k, int padding, bool with_bias) {
  const Tensor in = test::random_normal({b, cin, h, w}, rng);
  const Tensor weight = test::random_normal({cout, cin, k, k}, rng);
  const Tensor bias = with_bias ? test::random_normal({cout}, rng) : Tensor{};
  const Tensor out = Tensor::empty({b, cout, h + 2 * padding - k + 1, w + 2 * padding - k + 1});
  OpUnderTest op;
  op.name = "conv2d k" + std::to_string(k) + " p" + std::to_string(padding) + (with_bias ? " bias" : " nobias");
  op.out = out;
  op.h = 0.1;  // linear in each argument: the difference is exact up to rounding
  op.inputs.push_back({"in", in, grad_for(in), false});
  op.inputs.push_back({"weight", weight, grad_for(weight), true});
  if (with_bias) op.inputs.push_back({"bias", bias, grad_for(bias), true});
  const Tensor d_in = op.inputs[0].grad, d_weight = op.inputs[1].grad;
  const Tensor d_bias = with_bias ? op.inputs[2].grad : Tensor{};
  op.forward = [=] { ops::conv2d_forward(out, in, weight, bias, padding); };
  op.backward = [=](const Tensor& d_out) { ops::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding); };
  return op;
}

OpUnderTest linear_op(Rng& rng, std::int64_t b, std::int64_t i, std::int64_t o, bool with_bias) {
  const Tensor in = test::random_normal({b, i}, rng);
  const Tensor weight = test::random_normal({o, i}, rng);
  const Tensor bias = with_bias ? test::random_normal({o}, rng) : Tensor{};
  const Tensor out = Tensor::empty({b, o});
  OpUnderTest op;
  op.name = std::string("linear") + (with_bias ? " bias" : " nobias");
  op.out = out;
  op.h = 0.1;
  op.inputs.push_back({"in", in, grad_for(in), false});
  op.inputs.push_back({"weight", weight, grad_for(weight), true});
  if (with_bias) op.inputs.push_back({"bias", bias, grad_for(bias), true});
  const Tensor d_in = op.inputs[0].grad, d_weight = op.inputs[1].grad;
  const Tensor d_bias = with_bias ? op.inputs[2].grad : Tensor{};
  op.forward = [=] { ops::linear_forward(out, in, weight, bias); };
  op.backward = [=](const Tensor& d_out) { ops::linear_backward(d_in, d_weight, d_bias, d_out, in, weight); };
  return op;
}

OpUnderTest bmm_op(Rng& rng, bool trans_a, bool trans_b) {
  const std::int64_t b = 2, m = 3, k = 4, n = 5;
  const Tensor a = trans_a ? test::random_normal({b, k, m}, rng) : test::random_normal({b, m, k}, rng);
  const Tensor bb = trans_b ? test::random_normal({b, n, k}, rng) : test::random_normal({b, k, n}, rng);
  const Tensor out = Tensor::empty({b, m, n});
  OpUnderTest op;
  op.name = std::string("bmm trans_a=") + (trans_a ? "1" : "0") + " trans_b=" + (trans_b ? "1" : "0");
  op.out = out;
  op.h = 0.1;
  op.inputs.push_back({"a", a, grad_for(a), false});
  op.inputs.push_back({"b", bb, grad_for(bb), false});
  const Tensor d_a = op.inputs[0].grad, d_b = op.inputs[1].grad;
  op.forward = [=] { ops::bmm_forward(out, a, bb, trans_a, trans_b); };
  op.backward = [=](const Tensor& d_out) { ops::bmm_backward(d_a, d_b, d_out, a, bb, trans_a, trans_b); };
  return op;
}

// A one-input op whose backward takes (d_in, d_out, <saved>) with <saved> = out or in or nothing.
enum class Saved { Out, In, Nothing };
OpUnderTest unary_op(const std::string& name, const Tensor& in, const Shape& out_shape,
                     std::function<void(const Tensor&, const Tensor&)> forward,
                     std::function<void(const Tensor&, const Tensor&, const Tensor&)> backward, Saved saved,
                     double h) {
  const Tensor out = Tensor::empty(out_shape);
  OpUnderTest op;
  op.name = name;
  op.out = out;
  op.h = h;
  op.inputs.push_back({"in", in, grad_for(in), false});
  const Tensor d_in = op.inputs[0].grad;
  op.forward = [=] { forward(out, in); };
  op.backward = [=](const Tensor& d_out) {
    backward(d_in, d_out, saved == Saved::Out ? out : saved == Saved::In ? in : Tensor{});
  };
  return op;
}

OpUnderTest batchnorm_op(Rng& rng, const Shape& shape, bool affine, bool training) {
  const std::int64_t c = shape[1];
  Shape channel_shape{c};
  // Per-channel offset and scale so the statistics are not (0, 1).
  std::vector<float> x = test::random_normal(shape, rng).to_vector();
  const std::vector<float> offset = test::random_normal(channel_shape, rng).to_vector();
  const std::vector<float> spread = test::random_uniform(channel_shape, rng, 0.5f, 2.0f).to_vector();
  std::int64_t inner = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  for (std::size_t j = 0; j < x.size(); ++j) {
    const auto ch = static_cast<std::size_t>((static_cast<std::int64_t>(j) / inner) % c);
    x[j] = offset[ch] + spread[ch] * x[j];
  }
  const Tensor in = Tensor::from_vector(x, shape);
  const Tensor weight = affine ? test::random_uniform(channel_shape, rng, 0.5f, 1.5f) : Tensor{};
  const Tensor bias = affine ? test::random_normal(channel_shape, rng) : Tensor{};
  const Tensor running_mean0 = test::random_normal(channel_shape, rng);
  const Tensor running_var0 = test::random_uniform(channel_shape, rng, 0.5f, 2.0f);
  const Tensor running_mean = running_mean0.clone(), running_var = running_var0.clone();
  const Tensor saved_mean = Tensor::empty(channel_shape), saved_invstd = Tensor::empty(channel_shape);
  const Tensor out = Tensor::empty(shape);

  OpUnderTest op;
  op.name = std::string("batchnorm ") + bigcolor::shape_string(shape) + (affine ? " affine" : " noaffine") +
            (training ? " training" : " eval");
  op.out = out;
  op.h = 1e-2;
  op.inputs.push_back({"in", in, grad_for(in), false});
  if (affine) {
    op.inputs.push_back({"weight", weight, grad_for(weight), true});
    op.inputs.push_back({"bias", bias, grad_for(bias), true});
  }
  const Tensor d_in = op.inputs[0].grad;
  const Tensor d_weight = affine ? op.inputs[1].grad : Tensor{};
  const Tensor d_bias = affine ? op.inputs[2].grad : Tensor{};
  op.forward = [=] {
    running_mean.copy_from(running_mean0);  // every evaluation starts from the same running statistics
    running_var.copy_from(running_var0);
    ops::batchnorm_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, weight, bias, training,
                           0.1f, 1e-5f);
  };
  op.backward = [=](const Tensor& d_out) {
    ops::batchnorm_backward(d_in, d_weight, d_bias, d_out, in, weight, saved_mean, saved_invstd, training);
  };
  return op;
}

OpUnderTest binary_op(const std::string& name, const Tensor& a, const Tensor& b, const Shape& out_shape,
                      std::function<void(const Tensor&, const Tensor&, const Tensor&)> forward,
                      std::function<void(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&)>
                          backward,
                      double h) {
  const Tensor out = Tensor::empty(out_shape);
  OpUnderTest op;
  op.name = name;
  op.out = out;
  op.h = h;
  op.inputs.push_back({"a", a, grad_for(a), false});
  op.inputs.push_back({"b", b, grad_for(b), false});
  const Tensor d_a = op.inputs[0].grad, d_b = op.inputs[1].grad;
  op.forward = [=] { forward(out, a, b); };
  op.backward = [=](const Tensor& d_out) { backward(d_a, d_b, d_out, a, b); };
  return op;
}

}  // namespace

TEST_SUITE("gradcheck") {

TEST_CASE("gradcheck self-test: the predicate rejects wrong gradients") {
  CHECK(gradients_agree(1.0, 1.0));
  CHECK(gradients_agree(-3.0, -3.01));
  CHECK(gradients_agree(1e-4, 1.001e-4));
  CHECK_FALSE(gradients_agree(1.0, 2.0));    // scaled by 2
  CHECK_FALSE(gradients_agree(2.0, 1.0));    // halved
  CHECK_FALSE(gradients_agree(1.0, -1.0));   // sign flipped
  CHECK_FALSE(gradients_agree(1.0, 0.0));    // missing
  CHECK_FALSE(gradients_agree(0.0, 0.0));    // vacuous
  CHECK_FALSE(gradients_agree(1.0, 1.05));   // 5% off
  CHECK_FALSE(gradients_agree(1.0, std::nan("")));
  CHECK_FALSE(gradients_agree(std::nan(""), 1.0));
  CHECK_FALSE(gradients_agree(1.0, INFINITY));
}

TEST_CASE("gradcheck self-test: a deliberately wrong backward fails end to end") {
  // The harness itself must detect a gradient scaled by 2 or with its sign flipped, on a nonlinear op (tanh) and
  // on an accumulating parameter gradient (linear's weight).
  const std::vector<std::pair<std::string, double>> tampers = {{"x2", 2.0}, {"negated", -1.0}, {"zeroed", 0.0}};
  for (const auto& [label, factor] : tampers) {
    INFO("tamper ", label);
    {
      Rng rng(101);
      OpUnderTest op = unary_op("tanh", test::random_normal({3, 4}, rng), {3, 4}, ops::tanh_forward,
                                ops::tanh_backward, Saved::Out, 1e-2);
      const auto results = gradient_checks(op, rng, [f = factor](std::vector<double>& g, std::size_t) {
        for (double& x : g) x *= f;
      });
      REQUIRE_FALSE(results.empty());
      for (const auto& r : results) CHECK_MESSAGE(!r.agree, r.what, " passed with a ", label, " gradient");
    }
    {
      Rng rng(102);
      OpUnderTest op = linear_op(rng, 3, 4, 2, true);
      const auto results = gradient_checks(op, rng, [f = factor](std::vector<double>& g, std::size_t index) {
        if (index == 1) {  // weight only
          for (double& x : g) x *= f;
        }
      });
      int wrong_detected = 0;
      for (const auto& r : results) {
        if (r.what.find("d_weight") != std::string::npos) {
          CHECK_MESSAGE(!r.agree, r.what, " passed with a ", label, " gradient");
          ++wrong_detected;
        }
      }
      CHECK(wrong_detected == kDirections + 1);  // every direction and the coordinate-wise check
    }
  }
  // A subtle error: a per-channel constant added to batch norm's d_in (what a backward that forgets part of the
  // statistics path looks like), 20% of the gradient's RMS. Random directions barely see it; the coordinate-wise
  // check must.
  {
    Rng rng(103);
    const Shape shape{3, 2, 4, 5};
    OpUnderTest op = batchnorm_op(rng, shape, true, true);
    const auto results = gradient_checks(op, rng, [&shape](std::vector<double>& g, std::size_t index) {
      if (index != 0) return;
      double sum2 = 0.0;
      for (const double x : g) sum2 += x * x;
      const double rms = std::sqrt(sum2 / static_cast<double>(g.size()));
      const std::int64_t inner = shape[2] * shape[3];
      for (std::size_t j = 0; j < g.size(); ++j) {
        const std::int64_t channel = (static_cast<std::int64_t>(j) / inner) % shape[1];
        g[j] += (channel == 0 ? 0.2 : -0.2) * rms;
      }
    });
    bool full_check_seen = false;
    for (const auto& r : results) {
      if (r.full && r.what.find("d_in") != std::string::npos) {
        full_check_seen = true;
        CHECK_MESSAGE(!r.agree, r.describe(), " passed with a per-channel offset in d_in");
      }
    }
    CHECK(full_check_seen);
  }
  // And the untampered harness passes on the same ops (so the failures above are the tampering's).
  {
    Rng rng(101);
    check_gradients(unary_op("tanh", test::random_normal({3, 4}, rng), {3, 4}, ops::tanh_forward,
                             ops::tanh_backward, Saved::Out, 1e-2),
                    rng);
  }
  {
    Rng rng(102);
    check_gradients(linear_op(rng, 3, 4, 2, true), rng);
  }
}

TEST_CASE("gradcheck conv2d") {
  Rng rng(1);
  check_gradients(conv2d_op(rng, 2, 3, 4, 5, 4, 3, 1, true), rng);
  check_gradients(conv2d_op(rng, 2, 3, 5, 5, 4, 1, 0, false), rng);
  check_gradients(conv2d_op(rng, 1, 2, 3, 5, 4, 5, 2, true), rng);
  check_gradients(conv2d_op(rng, 3, 5, 2, 6, 5, 3, 0, true), rng);
}

TEST_CASE("gradcheck linear") {
  Rng rng(2);
  check_gradients(linear_op(rng, 3, 5, 4, true), rng);
  check_gradients(linear_op(rng, 7, 3, 6, false), rng);
}

TEST_CASE("gradcheck embedding") {
  Rng rng(3);
  const Tensor table = test::random_normal({6, 3}, rng);
  const Tensor indices = Tensor::from_indices({1, 4, 1, 0, 5, 4, 4}, {7});
  const Tensor out = Tensor::empty({7, 3});
  OpUnderTest op;
  op.name = "embedding";
  op.out = out;
  op.h = 0.1;
  op.inputs.push_back({"table", table, grad_for(table), true});
  const Tensor d_table = op.inputs[0].grad;
  op.forward = [=] { ops::embedding_forward(out, table, indices); };
  op.backward = [=](const Tensor& d_out) { ops::embedding_backward(d_table, d_out, indices); };
  check_gradients(op, rng);
}

TEST_CASE("gradcheck bmm") {
  Rng rng(4);
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) check_gradients(bmm_op(rng, trans_a, trans_b), rng);
  }
}

TEST_CASE("gradcheck softmax") {
  Rng rng(5);
  check_gradients(unary_op("softmax (3, 7)", test::random_normal({3, 7}, rng), {3, 7}, ops::softmax_forward,
                           ops::softmax_backward, Saved::Out, 1e-2),
                  rng);
  check_gradients(unary_op("softmax (2, 3, 5)", test::random_normal({2, 3, 5}, rng), {2, 3, 5}, ops::softmax_forward,
                           ops::softmax_backward, Saved::Out, 1e-2),
                  rng);
}

TEST_CASE("gradcheck relu and tanh") {
  Rng rng(6);
  // |x| >= 0.2 and |h·v| <= 0.01: no element crosses the kink at 0.
  check_gradients(unary_op("relu", away_from_zero({3, 5, 4}, rng, 0.2f), {3, 5, 4}, ops::relu_forward,
                           ops::relu_backward, Saved::Out, 1e-2),
                  rng);
  check_gradients(unary_op("tanh", test::random_normal({3, 5, 4}, rng), {3, 5, 4}, ops::tanh_forward,
                           ops::tanh_backward, Saved::Out, 1e-2),
                  rng);
}

TEST_CASE("gradcheck add, mul, scale") {
  Rng rng(7);
  const Shape shape{2, 3, 4};
  check_gradients(binary_op(
                      "add", test::random_normal(shape, rng), test::random_normal(shape, rng), shape, ops::add_forward,
                      [](const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor&, const Tensor&) {
                        ops::add_backward(d_a, d_b, d_out);
                      },
                      0.1),
                  rng);
  check_gradients(binary_op("mul", test::random_normal(shape, rng), test::random_normal(shape, rng), shape,
                            ops::mul_forward, ops::mul_backward, 0.1),
                  rng);
  for (const float factor : {0.5f, -1.75f}) {
    check_gradients(unary_op(
                        "scale " + std::to_string(factor), test::random_normal(shape, rng), shape,
                        [factor](const Tensor& out, const Tensor& in) { ops::scale_forward(out, in, factor); },
                        [factor](const Tensor& d_in, const Tensor& d_out, const Tensor&) {
                          ops::scale_backward(d_in, d_out, factor);
                        },
                        Saved::Nothing, 0.1),
                    rng);
  }
}

TEST_CASE("gradcheck upsample") {
  Rng rng(8);
  check_gradients(unary_op(
                      "upsample_nearest2x", test::random_normal({2, 3, 3, 5}, rng), {2, 3, 6, 10},
                      ops::upsample_nearest2x_forward,
                      [](const Tensor& d_in, const Tensor& d_out, const Tensor&) {
                        ops::upsample_nearest2x_backward(d_in, d_out);
                      },
                      Saved::Nothing, 0.1),
                  rng);
}

TEST_CASE("gradcheck pooling") {
  Rng rng(9);
  check_gradients(unary_op(
                      "avgpool2x2 (2, 3, 5, 7)", test::random_normal({2, 3, 5, 7}, rng), {2, 3, 2, 3},
                      ops::avgpool2x2_forward,
                      [](const Tensor& d_in, const Tensor& d_out, const Tensor&) {
                        ops::avgpool2x2_backward(d_in, d_out);
                      },
                      Saved::Nothing, 0.1),
                  rng);
  // Values at least 0.05 apart and |h·v| <= 0.01: no window's maximum changes under the perturbation.
  check_gradients(unary_op("maxpool2x2 (2, 3, 5, 7)", distinct_values({2, 3, 5, 7}, rng, 0.05f), {2, 3, 2, 3},
                           ops::maxpool2x2_forward, ops::maxpool2x2_backward, Saved::In, 1e-2),
                  rng);
  check_gradients(unary_op("maxpool2x2 (1, 2, 4, 6)", distinct_values({1, 2, 4, 6}, rng, 0.05f), {1, 2, 2, 3},
                           ops::maxpool2x2_forward, ops::maxpool2x2_backward, Saved::In, 1e-2),
                  rng);
}

TEST_CASE("gradcheck batchnorm") {
  Rng rng(10);
  check_gradients(batchnorm_op(rng, {6, 3}, true, true), rng);
  check_gradients(batchnorm_op(rng, {5, 4}, false, true), rng);
  check_gradients(batchnorm_op(rng, {3, 2, 4, 5}, true, true), rng);
  check_gradients(batchnorm_op(rng, {2, 3, 3, 5}, false, true), rng);
  check_gradients(batchnorm_op(rng, {6, 3}, true, false), rng);
  check_gradients(batchnorm_op(rng, {3, 2, 4, 5}, true, false), rng);
}

TEST_CASE("gradcheck sum and mean") {
  Rng rng(11);
  const Shape shape{3, 4, 2, 5};
  for (const Shape& out_shape : {Shape{3, 4}, Shape{3}, Shape{1}}) {
    check_gradients(unary_op(
                        "sum to " + bigcolor::shape_string(out_shape), test::random_normal(shape, rng), out_shape,
                        ops::sum_forward,
                        [](const Tensor& d_in, const Tensor& d_out, const Tensor&) { ops::sum_backward(d_in, d_out); },
                        Saved::Nothing, 0.1),
                    rng);
    check_gradients(unary_op(
                        "mean to " + bigcolor::shape_string(out_shape), test::random_normal(shape, rng), out_shape,
                        ops::mean_forward,
                        [](const Tensor& d_in, const Tensor& d_out, const Tensor&) { ops::mean_backward(d_in, d_out); },
                        Saved::Nothing, 0.1),
                    rng);
  }
}

TEST_CASE("gradcheck mse") {
  Rng rng(12);
  const Shape shape{3, 2, 4};
  check_gradients(binary_op("mse_loss", test::random_normal(shape, rng), test::random_normal(shape, rng), {1},
                            ops::mse_loss_forward, ops::mse_loss_backward, 0.1),
                  rng);
}

}  // TEST_SUITE("gradcheck")
