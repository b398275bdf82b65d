// Tests of the fused normalization kernels: spectral norm and class-conditional batch norm (+ ReLU).
//
// "fused":     the CPU twins against independent references at odd sizes: the spectral-norm power iteration and
//              its backward written out in double in this file; ccbn as the composition of already verified ops
//              (batchnorm_forward without affine, a per-sample affine loop, relu_forward; backward: relu_backward,
//              the affine's backward loop, batchnorm_backward). Forward and backward, training and eval, ReLU on
//              and off, running statistics after the step. Normalized error <= 1e-5.
// "gradcheck": central differences in float32 along random directions and coordinate by coordinate (relative
//              1e-2), for ccbn's d_in, d_gain, d_bias (training and eval, ReLU on, every pre-activation kept at
//              least kMargin away from the kink) and for the spectral-norm backward as the derivative of
//              W/σ(W), σ(W) = u_newᵀ·W·v with u_new and v held fixed (the contract's "constants").
// "cuda":      the CUDA kernels against the CPU twins at odd sizes (scalar paths, several chunks per plane) and
//              at real shapes ((2, 96, 64, 64) ccbn, 384×6912 and 24576×17 spectral norm), outputs poisoned with
//              NaN, accumulating d_weight starting from the same random values on both devices. 1e-5.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "test_util.h"

namespace {

using bigcolor::Device;
using bigcolor::DType;
using bigcolor::Rng;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-5;
constexpr float kSnEps = 1e-6f;     // SN_eps of the model
constexpr float kBnEps = 1e-5f;     // BN_eps
constexpr float kMomentum = 0.1f;

std::string name_of(const Shape& s) { return bigcolor::shape_string(s); }

Tensor from_doubles(const std::vector<double>& values, const Shape& shape) {
  std::vector<float> f(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) f[i] = static_cast<float>(values[i]);
  return Tensor::from_vector(f, shape);
}

// a − b on the host (a and b on any device), as a CPU tensor: the increment of an accumulated gradient.
Tensor difference(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector();
  const std::vector<float> y = b.to_vector();
  for (std::size_t i = 0; i < x.size(); ++i) x[i] -= y[i];
  return Tensor::from_vector(x, a.shape());
}

Tensor poisoned(const Shape& shape, Device device = Device::CPU) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  test::poison(t);
  return t;
}

// ---- spectral norm: the reference, in double ----------------------------------------------------------------------

struct SnReference {
  std::vector<double> v, u_new, weight_sn;
  double sigma = 0.0;
};

// W (O, K), u (O): v = normalize(u·W), u_new = normalize(W·v), σ = u_new·W·v, weight_sn = W/σ.
SnReference sn_reference(const std::vector<float>& w, const std::vector<float>& u, std::int64_t rows,
                         std::int64_t cols, double eps) {
  SnReference r;
  r.v.assign(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) r.v[j] += static_cast<double>(u[i]) * w[i * cols + j];
  double norm = 0.0;
  for (double x : r.v) norm += x * x;
  norm = std::max(std::sqrt(norm), eps);
  for (double& x : r.v) x /= norm;
  r.u_new.assign(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) r.u_new[i] += w[i * cols + j] * r.v[j];
  norm = 0.0;
  for (double x : r.u_new) norm += x * x;
  norm = std::max(std::sqrt(norm), eps);
  for (double& x : r.u_new) x /= norm;
  for (std::int64_t i = 0; i < rows; ++i)  // σ = u_new · W · v, written as the definition
    for (std::int64_t j = 0; j < cols; ++j) r.sigma += r.u_new[i] * w[i * cols + j] * r.v[j];
  r.weight_sn.resize(w.size());
  for (std::size_t e = 0; e < w.size(); ++e) r.weight_sn[e] = w[e] / r.sigma;
  return r;
}

// d_weight = start + G/σ − (⟨G, W⟩/σ²)·u_newᵀ·v, in double from the float inputs.
std::vector<double> sn_backward_reference(const std::vector<float>& start, const std::vector<float>& g,
                                          const std::vector<float>& w, const std::vector<float>& u_new,
                                          const std::vector<float>& v, double sigma) {
  double dot = 0.0;
  for (std::size_t e = 0; e < w.size(); ++e) dot += static_cast<double>(g[e]) * w[e];
  const double c = dot / (sigma * sigma);
  const std::size_t cols = v.size();
  std::vector<double> out(w.size());
  for (std::size_t e = 0; e < w.size(); ++e) {
    out[e] = start[e] + g[e] / sigma - c * static_cast<double>(u_new[e / cols]) * v[e % cols];
  }
  return out;
}

// ---- ccbn: the reference composition of verified ops ------------------------------------------------------------

struct CcbnResult {
  Tensor out, saved_mean, saved_invstd, running_mean, running_var;
};

struct CcbnGrads {
  Tensor d_in, d_gain, d_bias;
};

// out = act(batchnorm(in)·gain[b, c] + bias[b, c]) from ops::batchnorm_forward, a loop and ops::relu_forward.
// `xhat` receives batchnorm(in).
CcbnResult ccbn_composition(const Tensor& in, const Tensor& gain, const Tensor& bias, const Tensor& running_mean,
                            const Tensor& running_var, bool training, bool relu, Tensor* xhat_out = nullptr) {
  const std::int64_t batch = in.dim(0), channels = in.dim(1), hw = in.dim(2) * in.dim(3);
  CcbnResult r{Tensor::empty(in.shape()), Tensor::empty({channels}), Tensor::empty({channels}),
               running_mean.clone(), running_var.clone()};
  const Tensor xhat = Tensor::empty(in.shape());
  ops::batchnorm_forward(xhat, r.saved_mean, r.saved_invstd, r.running_mean, r.running_var, in, Tensor{}, Tensor{},
                         training, kMomentum, kBnEps);
  const std::vector<float> xh = xhat.to_vector(), ga = gain.to_vector(), be = bias.to_vector();
  std::vector<float> pre(xh.size());
  for (std::int64_t p = 0; p < batch * channels; ++p)
    for (std::int64_t i = 0; i < hw; ++i) pre[p * hw + i] = xh[p * hw + i] * ga[p] + be[p];
  r.out = Tensor::from_vector(pre, in.shape());
  if (relu) ops::relu_forward(r.out, r.out);
  if (xhat_out != nullptr) *xhat_out = xhat;
  return r;
}

// The backward of that composition: relu_backward, the affine's backward loop, batchnorm_backward.
CcbnGrads ccbn_composition_backward(const Tensor& d_out, const Tensor& in, const Tensor& gain, const Tensor& out,
                                    const Tensor& xhat, const Tensor& saved_mean, const Tensor& saved_invstd,
                                    bool training, bool relu) {
  const std::int64_t batch = in.dim(0), channels = in.dim(1), hw = in.dim(2) * in.dim(3);
  Tensor gz = d_out.clone();
  if (relu) ops::relu_backward(gz, d_out, out);
  const std::vector<float> g = gz.to_vector(), xh = xhat.to_vector(), ga = gain.to_vector();
  std::vector<double> d_gain(static_cast<std::size_t>(batch * channels)), d_bias(d_gain.size());
  std::vector<float> d_xhat(g.size());
  for (std::int64_t p = 0; p < batch * channels; ++p) {
    for (std::int64_t i = 0; i < hw; ++i) {
      d_bias[p] += g[p * hw + i];
      d_gain[p] += static_cast<double>(g[p * hw + i]) * xh[p * hw + i];
      d_xhat[p * hw + i] = g[p * hw + i] * ga[p];
    }
  }
  CcbnGrads r{Tensor::empty(in.shape()), from_doubles(d_gain, gain.shape()), from_doubles(d_bias, gain.shape())};
  ops::batchnorm_backward(r.d_in, Tensor{}, Tensor{}, Tensor::from_vector(d_xhat, in.shape()), in, Tensor{},
                          saved_mean, saved_invstd, training);
  return r;
}

struct CcbnInputs {
  Tensor in, gain, bias, running_mean, running_var;
};

// in = offset + 2·N(0, 1), gain in [0.5, 1.5] (the model's 1 + linear(y)), bias in [-0.5, 0.5], running statistics
// plausible (mean in [-0.5, 0.5], var in [0.5, 2]).
CcbnInputs ccbn_inputs(const Shape& shape, Rng& rng, float offset = 0.3f) {
  CcbnInputs x;
  std::vector<float> v = test::random_normal(shape, rng).to_vector();
  for (float& e : v) e = offset + 2.0f * e;
  x.in = Tensor::from_vector(v, shape);
  x.gain = test::random_uniform({shape[0], shape[1]}, rng, 0.5f, 1.5f);
  x.bias = test::random_uniform({shape[0], shape[1]}, rng, -0.5f, 0.5f);
  x.running_mean = test::random_uniform({shape[1]}, rng, -0.5f, 0.5f);
  x.running_var = test::random_uniform({shape[1]}, rng, 0.5f, 2.0f);
  return x;
}

// ---- finite differences (float32 central differences; the approach of test_finite_difference.cpp) ---------------

constexpr double kGradTolerance = 1e-2;
constexpr int kDirections = 3;

double weighted_sum(const Tensor& out, const std::vector<float>& r) {
  const std::vector<float> o = out.to_vector();
  double s = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) s += static_cast<double>(o[i]) * r[i];
  return s;
}

// L(x) = Σ loss_of() with `value` set to x; `gradient` is ∂L/∂value from the backward under test. Checks
// (L(x⁺) − L(x⁻)) against ⟨gradient, x⁺ − x⁻⟩ for random directions (x± = fl(x ± h·d), d uniform in [-1, 1]), then the
// whole finite-difference gradient coordinate by coordinate (normalized error).
void check_gradient(const std::string& what, const Tensor& value, const std::vector<double>& gradient,
                    const std::function<double()>& loss_of, Rng& rng, float h) {
  const Tensor original = value.clone();
  const std::vector<float> x0 = original.to_vector();
  REQUIRE(gradient.size() == x0.size());
  const auto central = [&](const std::vector<float>& delta, double& diff, double& analytic) {
    std::vector<float> plus(x0.size()), minus(x0.size());
    for (std::size_t j = 0; j < x0.size(); ++j) {
      plus[j] = x0[j] + delta[j];
      minus[j] = x0[j] - delta[j];
    }
    value.copy_from(Tensor::from_vector(plus, value.shape()));
    const double lp = loss_of();
    value.copy_from(Tensor::from_vector(minus, value.shape()));
    const double lm = loss_of();
    value.copy_from(original);
    diff = lp - lm;
    analytic = 0.0;
    for (std::size_t j = 0; j < x0.size(); ++j) {
      if (delta[j] != 0.0f) analytic += gradient[j] * (static_cast<double>(plus[j]) - static_cast<double>(minus[j]));
    }
  };
  for (int k = 0; k < kDirections; ++k) {
    std::vector<float> delta = test::random_uniform(value.shape(), rng, -1.0f, 1.0f).to_vector();
    for (float& d : delta) d *= h;
    double diff = 0.0, analytic = 0.0;
    central(delta, diff, analytic);
    const double scale = std::max(std::abs(diff), std::abs(analytic));
    const double error = scale > 0.0 ? std::abs(diff - analytic) / scale : INFINITY;
    INFO(what, " direction ", k, ": finite difference ", diff / (2.0 * h), ", backward ", analytic / (2.0 * h));
    CHECK(std::isfinite(error));
    CHECK(scale > 1e-12);
    CHECK(error <= kGradTolerance);
  }
  double diff2 = 0.0, fd2 = 0.0;
  std::vector<float> delta(x0.size(), 0.0f);
  for (std::size_t j = 0; j < x0.size(); ++j) {
    delta[j] = h;
    double diff = 0.0, analytic = 0.0;
    central(delta, diff, analytic);
    delta[j] = 0.0f;
    diff2 += (diff - analytic) * (diff - analytic);
    fd2 += diff * diff;
  }
  const double error = fd2 > 0.0 ? std::sqrt(diff2 / fd2) : INFINITY;
  INFO(what, " every coordinate: ‖finite differences‖ ", std::sqrt(fd2) / (2.0 * h), ", normalized error ", error);
  CHECK(error <= kGradTolerance);
  MESSAGE(what, ": coordinate-wise normalized error ", error);
}

std::vector<double> to_doubles(const Tensor& t) {
  const std::vector<float> f = t.to_vector();
  return {f.begin(), f.end()};
}

// Moves every pre-activation at least `margin` away from 0 (the ReLU kink) by nudging `in` (training: the
// statistics move with it, so repeat until stable). Returns the smallest |pre-activation|.
double keep_away_from_kink(const CcbnInputs& x, bool training, float margin) {
  const std::int64_t batch = x.in.dim(0), channels = x.in.dim(1), hw = x.in.dim(2) * x.in.dim(3);
  const std::vector<float> ga = x.gain.to_vector();
  double smallest = 0.0;
  for (int iteration = 0; iteration < 50; ++iteration) {
    const CcbnResult pre = ccbn_composition(x.in, x.gain, x.bias, x.running_mean, x.running_var, training, false);
    const std::vector<float> p = pre.out.to_vector(), is = pre.saved_invstd.to_vector();
    std::vector<float> v = x.in.to_vector();
    smallest = INFINITY;
    bool moved = false;
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t i = 0; i < hw; ++i) {
          const std::int64_t e = (b * channels + c) * hw + i;
          smallest = std::min(smallest, static_cast<double>(std::abs(p[e])));
          if (std::abs(p[e]) < margin) {  // push it by 2·margin in its own direction
            v[e] += (p[e] >= 0.0f ? 1.0f : -1.0f) * 2.0f * margin / (is[c] * ga[b * channels + c]);
            moved = true;
          }
        }
      }
    }
    if (!moved) break;
    x.in.copy_from(Tensor::from_vector(v, x.in.shape()));
  }
  return smallest;
}

}  // namespace

// =====================================================================================================================

TEST_SUITE("fused") {

TEST_CASE("spectral norm forward matches the power iteration in double") {
  Rng rng(101);
  // (13, 45), a conv weight (6, 5, 3, 3) viewed as (6, 45), a tall (45, 13), and single-row / single-column ones.
  const std::vector<Shape> shapes = {{13, 45}, {6, 5, 3, 3}, {45, 13}, {1, 37}, {29, 1}};
  for (const Shape& shape : shapes) {
    const Tensor weight4 = test::random_normal(shape, rng);
    const std::int64_t rows = shape[0], cols = weight4.numel() / rows;
    const Tensor weight = weight4.reshape({rows, cols});
    const Tensor weight_before = weight.clone();
    const Tensor u = test::random_normal({rows}, rng);
    const Tensor u_before = u.clone();
    const Tensor weight_sn = poisoned({rows, cols}), sigma = poisoned({1}), u_new = poisoned({rows}),
                 v = poisoned({cols});
    ops::spectral_norm_forward(weight_sn, sigma, u_new, v, weight, u, kSnEps);
    const SnReference ref = sn_reference(weight.to_vector(), u.to_vector(), rows, cols, kSnEps);
    const std::string what = "spectral_norm_forward " + name_of(shape);
    test::check_close(weight_sn, from_doubles(ref.weight_sn, {rows, cols}), kTolerance, what + " weight_sn");
    test::check_close(sigma, from_doubles({ref.sigma}, {1}), kTolerance, what + " sigma");
    test::check_close(u_new, from_doubles(ref.u_new, {rows}), kTolerance, what + " u_new");
    test::check_close(v, from_doubles(ref.v, {cols}), kTolerance, what + " v");
    // The inputs are read only.
    CHECK(weight.to_vector() == weight_before.to_vector());
    CHECK(u.to_vector() == u_before.to_vector());
  }
}

TEST_CASE("spectral norm forward: u_new may alias u (the layer's u0 update)") {
  Rng rng(102);
  const Tensor weight = test::random_normal({13, 45}, rng);
  const Tensor u = test::random_normal({13}, rng);
  const SnReference ref = sn_reference(weight.to_vector(), u.to_vector(), 13, 45, kSnEps);
  const Tensor weight_sn = poisoned({13, 45}), sigma = poisoned({1}), v = poisoned({45});
  ops::spectral_norm_forward(weight_sn, sigma, u, v, weight, u, kSnEps);
  test::check_close(u, from_doubles(ref.u_new, {13}), kTolerance, "aliased u_new");
  test::check_close(weight_sn, from_doubles(ref.weight_sn, {13, 45}), kTolerance, "aliased weight_sn");
}

TEST_CASE("spectral norm backward matches the formula in double and accumulates") {
  Rng rng(103);
  const std::vector<Shape> shapes = {{13, 45}, {6, 5, 3, 3}, {45, 13}};
  for (const Shape& shape : shapes) {
    const std::int64_t rows = shape[0], cols = bigcolor::shape_numel(shape) / rows;
    const Tensor weight = test::random_normal(shape, rng).reshape({rows, cols});
    const Tensor u = test::random_normal({rows}, rng);
    const Tensor weight_sn = Tensor::empty({rows, cols}), sigma = Tensor::empty({1}), u_new = Tensor::empty({rows}),
                 v = Tensor::empty({cols});
    ops::spectral_norm_forward(weight_sn, sigma, u_new, v, weight, u, kSnEps);
    const Tensor g = test::random_normal({rows, cols}, rng);
    const Tensor start = test::random_normal({rows, cols}, rng);
    const Tensor d_weight = start.clone();
    ops::spectral_norm_backward(d_weight, g, weight, u_new, v, sigma);
    const std::vector<double> ref = sn_backward_reference(start.to_vector(), g.to_vector(), weight.to_vector(),
                                                          u_new.to_vector(), v.to_vector(), sigma.to_vector()[0]);
    const Tensor ref_t = from_doubles(ref, {rows, cols});
    const std::string what = "spectral_norm_backward " + name_of(shape);
    test::check_close(d_weight, ref_t, kTolerance, what + " d_weight");
    test::check_close(difference(d_weight, start), difference(ref_t, start), kTolerance, what + " increment");
  }
}

TEST_CASE("ccbn forward matches batchnorm + per-sample affine + relu") {
  Rng rng(201);
  for (const Shape& shape : std::vector<Shape>{{3, 5, 7, 5}, {3, 13, 7, 5}, {3, 5, 4, 6}}) {
    for (const bool training : {true, false}) {
      for (const bool relu : {true, false}) {
        const CcbnInputs x = ccbn_inputs(shape, rng);
        const CcbnResult ref =
            ccbn_composition(x.in, x.gain, x.bias, x.running_mean, x.running_var, training, relu);
        const std::int64_t channels = shape[1];
        const Tensor out = poisoned(shape), saved_mean = poisoned({channels}), saved_invstd = poisoned({channels});
        const Tensor running_mean = x.running_mean.clone(), running_var = x.running_var.clone();
        ops::ccbn_forward(out, saved_mean, saved_invstd, running_mean, running_var, x.in, x.gain, x.bias, training,
                          kMomentum, kBnEps, relu);
        const std::string what = "ccbn_forward " + name_of(shape) + (training ? " training" : " eval") +
                                 (relu ? " relu" : " identity");
        test::check_close(out, ref.out, kTolerance, what + " out");
        test::check_close(saved_mean, ref.saved_mean, kTolerance, what + " saved_mean");
        test::check_close(saved_invstd, ref.saved_invstd, kTolerance, what + " saved_invstd");
        test::check_close(running_mean, ref.running_mean, kTolerance, what + " running_mean");
        test::check_close(running_var, ref.running_var, kTolerance, what + " running_var");
        if (!training) {  // eval leaves the running statistics exactly as they were
          CHECK(running_mean.to_vector() == x.running_mean.to_vector());
          CHECK(running_var.to_vector() == x.running_var.to_vector());
        } else {  // and training really moved them
          CHECK(running_var.to_vector() != x.running_var.to_vector());
        }
      }
    }
  }
}

TEST_CASE("ccbn backward matches relu_backward + affine backward + batchnorm_backward") {
  Rng rng(202);
  for (const Shape& shape : std::vector<Shape>{{3, 5, 7, 5}, {3, 13, 7, 5}, {3, 5, 4, 6}}) {
    for (const bool training : {true, false}) {
      for (const bool relu : {true, false}) {
        const CcbnInputs x = ccbn_inputs(shape, rng);
        Tensor xhat;
        const CcbnResult fwd =
            ccbn_composition(x.in, x.gain, x.bias, x.running_mean, x.running_var, training, relu, &xhat);
        const Tensor d_out = test::random_normal(shape, rng);
        const CcbnGrads ref = ccbn_composition_backward(d_out, x.in, x.gain, fwd.out, xhat, fwd.saved_mean,
                                                        fwd.saved_invstd, training, relu);
        const Shape per_sample = {shape[0], shape[1]};
        const CcbnGrads got{poisoned(shape), poisoned(per_sample), poisoned(per_sample)};
        ops::ccbn_backward(got.d_in, got.d_gain, got.d_bias, d_out, x.in, x.gain, fwd.out, fwd.saved_mean,
                           fwd.saved_invstd, training, relu);
        const std::string what = "ccbn_backward " + name_of(shape) + (training ? " training" : " eval") +
                                 (relu ? " relu" : " identity");
        test::check_close(got.d_in, ref.d_in, kTolerance, what + " d_in");
        test::check_close(got.d_gain, ref.d_gain, kTolerance, what + " d_gain");
        test::check_close(got.d_bias, ref.d_bias, kTolerance, what + " d_bias");

        // Each output on its own (the others not wanted).
        const Tensor only_in = poisoned(shape);
        ops::ccbn_backward(only_in, Tensor{}, Tensor{}, d_out, x.in, x.gain, fwd.out, fwd.saved_mean,
                           fwd.saved_invstd, training, relu);
        test::check_close(only_in, ref.d_in, kTolerance, what + " d_in alone");
        const Tensor only_gain = poisoned(per_sample);
        ops::ccbn_backward(Tensor{}, only_gain, Tensor{}, d_out, x.in, x.gain, fwd.out, fwd.saved_mean,
                           fwd.saved_invstd, training, relu);
        test::check_close(only_gain, ref.d_gain, kTolerance, what + " d_gain alone");
      }
    }
  }
}

TEST_CASE("ccbn forward: a large common offset does not hurt the statistics") {
  Rng rng(203);
  const Shape shape = {3, 5, 7, 5};
  const CcbnInputs x = ccbn_inputs(shape, rng, 300.0f);
  const CcbnResult ref = ccbn_composition(x.in, x.gain, x.bias, x.running_mean, x.running_var, true, false);
  const Tensor out = poisoned(shape), saved_mean = poisoned({5}), saved_invstd = poisoned({5});
  ops::ccbn_forward(out, saved_mean, saved_invstd, x.running_mean.clone(), x.running_var.clone(), x.in, x.gain,
                    x.bias, true, kMomentum, kBnEps, false);
  // Both compute (x − mean) in float, where x ≈ 300 has an ulp of 3e-5: the bar is that rounding, not more.
  test::check_close(out, ref.out, 1e-5 * 300.0, "offset 300 out");
  test::check_close(saved_invstd, ref.saved_invstd, kTolerance, "offset 300 saved_invstd");
  test::check_close(saved_mean, ref.saved_mean, kTolerance, "offset 300 saved_mean");
}

}  // TEST_SUITE("fused")

// =====================================================================================================================

TEST_SUITE("gradcheck") {

TEST_CASE("gradcheck ccbn: d_in, d_gain, d_bias (relu, training and eval)") {
  constexpr float kMargin = 0.2f;  // every |pre-activation| at least this; perturbations move it by < 0.1
  Rng rng(301);
  const Shape shape = {3, 5, 7, 5};
  for (const bool training : {true, false}) {
    const CcbnInputs x = ccbn_inputs(shape, rng);
    const double smallest = keep_away_from_kink(x, training, kMargin);
    INFO("smallest |pre-activation| ", smallest);
    REQUIRE(smallest >= kMargin);

    const std::int64_t channels = shape[1];
    const Tensor out = Tensor::empty(shape), saved_mean = Tensor::empty({channels}),
                 saved_invstd = Tensor::empty({channels});
    const Tensor running_mean = x.running_mean.clone(), running_var = x.running_var.clone();
    const auto forward = [&] {  // (training updates the running statistics on every call; nothing reads them)
      ops::ccbn_forward(out, saved_mean, saved_invstd, running_mean, running_var, x.in, x.gain, x.bias, training,
                        kMomentum, kBnEps, true);
    };
    const Tensor r = test::random_normal(shape, rng);
    const std::vector<float> r_values = r.to_vector();
    forward();
    const Tensor d_in = poisoned(shape), d_gain = poisoned({shape[0], channels}),
                 d_bias = poisoned({shape[0], channels});
    ops::ccbn_backward(d_in, d_gain, d_bias, r, x.in, x.gain, out, saved_mean, saved_invstd, training, true);
    const auto loss = [&] {
      forward();
      return weighted_sum(out, r_values);
    };
    const std::string mode = training ? "ccbn training" : "ccbn eval";
    check_gradient(mode + " d_in", x.in, to_doubles(d_in), loss, rng, 1e-2f);
    check_gradient(mode + " d_gain", x.gain, to_doubles(d_gain), loss, rng, 1e-2f);
    check_gradient(mode + " d_bias", x.bias, to_doubles(d_bias), loss, rng, 1e-2f);
  }
}

TEST_CASE("gradcheck spectral norm: d(W/σ(W))/dW with u_new and v held fixed") {
  Rng rng(302);
  for (const Shape& shape : std::vector<Shape>{{13, 45}, {6, 5, 3, 3}}) {
    const std::int64_t rows = shape[0], cols = bigcolor::shape_numel(shape) / rows;
    const Tensor weight = test::random_normal(shape, rng).reshape({rows, cols});
    const Tensor u = test::random_normal({rows}, rng);
    const Tensor weight_sn = Tensor::empty({rows, cols}), sigma = Tensor::empty({1}), u_new = Tensor::empty({rows}),
                 v = Tensor::empty({cols});
    ops::spectral_norm_forward(weight_sn, sigma, u_new, v, weight, u, kSnEps);
    const std::vector<float> uf = u_new.to_vector(), vf = v.to_vector();

    const Tensor r = test::random_normal({rows, cols}, rng);
    const std::vector<float> r_values = r.to_vector();
    const Tensor start = test::random_normal({rows, cols}, rng);
    const Tensor d_weight = start.clone();
    ops::spectral_norm_backward(d_weight, r, weight, u_new, v, sigma);
    const std::vector<float> dw = d_weight.to_vector(), s0 = start.to_vector();
    std::vector<double> gradient(dw.size());
    for (std::size_t e = 0; e < dw.size(); ++e) gradient[e] = static_cast<double>(dw[e]) - s0[e];

    // L(W) = Σ (W / σ(W)) ⊙ R, σ(W) = u_newᵀ·W·v, out rounded to float32 like a kernel's.
    const auto loss = [&] {
      const std::vector<float> w = weight.to_vector();
      double s = 0.0;
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) s += static_cast<double>(uf[i]) * w[i * cols + j] * vf[j];
      double l = 0.0;
      for (std::size_t e = 0; e < w.size(); ++e) l += static_cast<double>(static_cast<float>(w[e] / s)) * r_values[e];
      return l;
    };
    check_gradient("spectral_norm " + name_of(shape) + " d_weight", weight, gradient, loss, rng, 1e-2f);
  }
}

}  // TEST_SUITE("gradcheck")

// =====================================================================================================================

TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda spectral norm forward and backward match the CPU") {
  Rng rng(401);
  // Odd sizes (scalar paths), a conv weight, degenerate row / column counts, the SNLinear 17 → 24576 (K = 17,
  // many rows), a ccbn gain linear (96, 145), and a real conv weight 384×6912 (float4 paths, block per row).
  const std::vector<Shape> shapes = {{13, 45}, {6, 5, 3, 3}, {1, 37}, {29, 1}, {24576, 17}, {96, 145},
                                     {48, 384}, {1, 1536}, {384, 768, 3, 3}};
  for (const Shape& shape : shapes) {
    const std::int64_t rows = shape[0], cols = bigcolor::shape_numel(shape) / rows;
    const std::string what = "cuda spectral_norm " + name_of({rows, cols});
    const Tensor weight = test::random_normal(shape, rng).reshape({rows, cols});
    const Tensor u = test::random_normal({rows}, rng);
    const Tensor weight_gpu = weight.to(Device::CUDA), u_gpu = u.to(Device::CUDA);

    const Tensor sn_cpu = poisoned({rows, cols}), sigma_cpu = poisoned({1}), un_cpu = poisoned({rows}),
                 v_cpu = poisoned({cols});
    const Tensor sn_gpu = poisoned({rows, cols}, Device::CUDA), sigma_gpu = poisoned({1}, Device::CUDA),
                 un_gpu = poisoned({rows}, Device::CUDA), v_gpu = poisoned({cols}, Device::CUDA);
    ops::spectral_norm_forward(sn_cpu, sigma_cpu, un_cpu, v_cpu, weight, u, kSnEps);
    ops::spectral_norm_forward(sn_gpu, sigma_gpu, un_gpu, v_gpu, weight_gpu, u_gpu, kSnEps);
    test::check_close(sn_gpu, sn_cpu, kTolerance, what + " weight_sn");
    test::check_close(sigma_gpu, sigma_cpu, kTolerance, what + " sigma");
    test::check_close(un_gpu, un_cpu, kTolerance, what + " u_new");
    test::check_close(v_gpu, v_cpu, kTolerance, what + " v");

    // Backward from the same u_new, v, sigma on both devices; d_weight accumulates into the same random start.
    const Tensor g = test::random_normal({rows, cols}, rng);
    const Tensor start = test::random_normal({rows, cols}, rng);
    const Tensor dw_cpu = start.clone(), dw_gpu = start.to(Device::CUDA);
    ops::spectral_norm_backward(dw_cpu, g, weight, un_cpu, v_cpu, sigma_cpu);
    ops::spectral_norm_backward(dw_gpu, g.to(Device::CUDA), weight_gpu, un_cpu.to(Device::CUDA),
                                v_cpu.to(Device::CUDA), sigma_cpu.to(Device::CUDA));
    test::check_close(dw_gpu, dw_cpu, kTolerance, what + " d_weight");
    test::check_close(difference(dw_gpu, start), difference(dw_cpu, start), kTolerance, what + " d_weight increment");

    // Deterministic: a second run gives the same bits.
    const Tensor sn_again = poisoned({rows, cols}, Device::CUDA), sigma_again = poisoned({1}, Device::CUDA);
    ops::spectral_norm_forward(sn_again, sigma_again, poisoned({rows}, Device::CUDA), poisoned({cols}, Device::CUDA),
                               weight_gpu, u_gpu, kSnEps);
    CHECK(sigma_again.to_vector() == sigma_gpu.to_vector());
    CHECK(sn_again.to_vector() == sn_gpu.to_vector());
  }
}

TEST_CASE("cuda ccbn forward and backward match the CPU") {
  Rng rng(402);
  struct Case {
    Shape shape;
    float offset;
  };
  // Odd sizes (HW % 4 != 0: scalar path), HW % 4 == 0 at small size (float4 path), planes of several chunks
  // (9600 = 8192 + 1408 with float4; 8463 scalar), a large common offset, and the real (2, 96, 64, 64).
  const std::vector<Case> cases = {{{3, 5, 7, 5}, 0.3f},   {{3, 13, 7, 5}, -0.7f}, {{3, 5, 4, 6}, 0.3f},
                                   {{2, 3, 96, 100}, 0.5f}, {{1, 2, 91, 93}, 0.5f}, {{3, 5, 7, 5}, 100.0f},
                                   {{2, 96, 64, 64}, 0.2f}};
  for (const Case& cs : cases) {
    const Shape& shape = cs.shape;
    const std::int64_t channels = shape[1];
    const Shape per_sample = {shape[0], channels};
    for (const bool training : {true, false}) {
      for (const bool relu : {true, false}) {
        const std::string what = "cuda ccbn " + name_of(shape) + " offset " + std::to_string(cs.offset) +
                                 (training ? " training" : " eval") + (relu ? " relu" : " identity");
        const CcbnInputs x = ccbn_inputs(shape, rng, cs.offset);
        const Tensor in_gpu = x.in.to(Device::CUDA), gain_gpu = x.gain.to(Device::CUDA),
                     bias_gpu = x.bias.to(Device::CUDA);

        const Tensor out_cpu = poisoned(shape), sm_cpu = poisoned({channels}), si_cpu = poisoned({channels});
        const Tensor rm_cpu = x.running_mean.clone(), rv_cpu = x.running_var.clone();
        const Tensor out_gpu = poisoned(shape, Device::CUDA), sm_gpu = poisoned({channels}, Device::CUDA),
                     si_gpu = poisoned({channels}, Device::CUDA);
        const Tensor rm_gpu = x.running_mean.to(Device::CUDA), rv_gpu = x.running_var.to(Device::CUDA);
        ops::ccbn_forward(out_cpu, sm_cpu, si_cpu, rm_cpu, rv_cpu, x.in, x.gain, x.bias, training, kMomentum,
                          kBnEps, relu);
        ops::ccbn_forward(out_gpu, sm_gpu, si_gpu, rm_gpu, rv_gpu, in_gpu, gain_gpu, bias_gpu, training, kMomentum,
                          kBnEps, relu);
        // With offset 100 both backends round x − mean in float (ulp(100) = 8e-6): allow that rounding.
        const double out_tolerance = cs.offset > 10.0f ? 1e-5 * cs.offset : kTolerance;
        test::check_close(out_gpu, out_cpu, out_tolerance, what + " out");
        test::check_close(sm_gpu, sm_cpu, kTolerance, what + " saved_mean");
        test::check_close(si_gpu, si_cpu, kTolerance, what + " saved_invstd");
        test::check_close(rm_gpu, rm_cpu, kTolerance, what + " running_mean");
        test::check_close(rv_gpu, rv_cpu, kTolerance, what + " running_var");

        // Backward from the same forward results (the CPU's) on both devices, so the ReLU mask is identical.
        const Tensor d_out = test::random_normal(shape, rng);
        const Tensor d_out_gpu = d_out.to(Device::CUDA), out_ref_gpu = out_cpu.to(Device::CUDA),
                     sm_ref_gpu = sm_cpu.to(Device::CUDA), si_ref_gpu = si_cpu.to(Device::CUDA);
        const Tensor din_cpu = poisoned(shape), dg_cpu = poisoned(per_sample), db_cpu = poisoned(per_sample);
        const Tensor din_gpu = poisoned(shape, Device::CUDA), dg_gpu = poisoned(per_sample, Device::CUDA),
                     db_gpu = poisoned(per_sample, Device::CUDA);
        ops::ccbn_backward(din_cpu, dg_cpu, db_cpu, d_out, x.in, x.gain, out_cpu, sm_cpu, si_cpu, training, relu);
        ops::ccbn_backward(din_gpu, dg_gpu, db_gpu, d_out_gpu, in_gpu, gain_gpu, out_ref_gpu, sm_ref_gpu, si_ref_gpu,
                           training, relu);
        test::check_close(din_gpu, din_cpu, kTolerance, what + " d_in");
        test::check_close(dg_gpu, dg_cpu, kTolerance, what + " d_gain");
        test::check_close(db_gpu, db_cpu, kTolerance, what + " d_bias");

        // Each output alone.
        const Tensor only_in = poisoned(shape, Device::CUDA);
        ops::ccbn_backward(only_in, Tensor{}, Tensor{}, d_out_gpu, in_gpu, gain_gpu, out_ref_gpu, sm_ref_gpu,
                           si_ref_gpu, training, relu);
        test::check_close(only_in, din_cpu, kTolerance, what + " d_in alone");
        const Tensor only_bias = poisoned(per_sample, Device::CUDA);
        ops::ccbn_backward(Tensor{}, Tensor{}, only_bias, d_out_gpu, in_gpu, gain_gpu, out_ref_gpu, sm_ref_gpu,
                           si_ref_gpu, training, relu);
        test::check_close(only_bias, db_cpu, kTolerance, what + " d_bias alone");

        // Deterministic: the same bits again.
        const Tensor din_again = poisoned(shape, Device::CUDA), dg_again = poisoned(per_sample, Device::CUDA);
        ops::ccbn_backward(din_again, dg_again, Tensor{}, d_out_gpu, in_gpu, gain_gpu, out_ref_gpu, sm_ref_gpu,
                           si_ref_gpu, training, relu);
        CHECK(din_again.to_vector() == din_gpu.to_vector());
        CHECK(dg_again.to_vector() == dg_gpu.to_vector());
      }
    }
  }
}

}  // TEST_SUITE("cuda")
