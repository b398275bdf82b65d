// Tests of the fused normalization kernels: spectral norm and class-conditional batch norm (+ ReLU).
//
// "fused":     the CPU twins against independent references at odd sizes: the spectral-norm power iteration and
//              its backward written out in double in this file; ccbn as the composition of already verified ops
//              (batchnorm_forward without affine, a per-sample affine loop, relu_forward; backward: relu_backward,
//              the affine's backward loop, batchnorm_backward). Forward and backward, training and eval, ReLU on
//              and off, running statistics after the step. Normalized error <= 1e-5.
// Their gradient checks and CUDA comparisons are entries of the op table (op_table_fused.cpp), run by
// test_finite_difference.cpp and test_cuda_vs_cpu.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

using test::poisoned;

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
