// The fused self-attention core (attention_forward/backward) and the upsampling convolution
// (upconv3x3_forward/backward):
//   "fused":     the CPU twins against the composition of verified primitives (bmm + softmax + bmm; upsample +
//                conv2d), forward and backward, at odd sizes; outputs poisoned, accumulating gradients starting
//                from random values.
// Their gradient checks and CUDA comparisons (odd sizes, sizes that are no multiples of the kernels' tiles, channel
// counts that need several chunks, one real shape each, bitwise determinism) are entries of the op table
// (op_table_fused.cpp), run by test_finite_difference.cpp and test_cuda_vs_cpu.cpp.
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

using test::poisoned;

// ---- attention ----------------------------------------------------------------------------------------------------

struct AttentionCase {
  std::int64_t batch, ck, cv, n, m;
  std::string name() const { return "attention B" + std::to_string(batch) + " Ck" + std::to_string(ck) + " Cv" +
                                    std::to_string(cv) + " N" + std::to_string(n) + " M" + std::to_string(m); }
};

struct AttentionInputs {
  Tensor theta, phi, g;
};

// Scores of a realistic spread (θ, φ of std 0.5: scores of std ~0.25·sqrt(Ck)), g and d_out N(0, 1).
AttentionInputs attention_inputs(const AttentionCase& c, Rng& rng) {
  const auto half_normal = [&](const Shape& shape) {
    std::vector<float> v = test::random_normal(shape, rng).to_vector();
    for (float& x : v) x *= 0.5f;
    return Tensor::from_vector(v, shape);
  };
  AttentionInputs in;
  in.theta = half_normal({c.batch, c.ck, c.n});
  in.phi = half_normal({c.batch, c.ck, c.m});
  in.g = test::random_normal({c.batch, c.cv, c.m}, rng);
  return in;
}

// lse (B, N) of the scores S (B, N, M), in double.
Tensor reference_lse(const Tensor& s) {
  const std::int64_t rows = s.dim(0) * s.dim(1), m = s.dim(2);
  const std::vector<float> v = s.to_vector();
  std::vector<float> out(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0.0;
    for (std::int64_t j = 0; j < m; ++j) mx = std::max(mx, static_cast<double>(v[r * m + j]));
    for (std::int64_t j = 0; j < m; ++j) sum += std::exp(v[r * m + j] - mx);
    out[r] = static_cast<float>(mx + std::log(sum));
  }
  return Tensor::from_vector(out, {s.dim(0), s.dim(1)});
}

// ---- upconv -------------------------------------------------------------------------------------------------------

struct UpconvCase {
  std::int64_t batch, in_c, out_c, h, w;
  bool bias = true;
  std::string name() const { return "upconv B" + std::to_string(batch) + " " + std::to_string(in_c) + "->" +
                                    std::to_string(out_c) + " " + std::to_string(h) + "x" + std::to_string(w) +
                                    (bias ? "" : " no bias"); }
  Shape in_shape() const { return {batch, in_c, h, w}; }
  Shape out_shape() const { return {batch, out_c, 2 * h, 2 * w}; }
  Shape weight_shape() const { return {out_c, in_c, 3, 3}; }
};

}  // namespace

// ================================================================================================================
TEST_SUITE("fused") {

TEST_CASE("attention CPU twin matches bmm + softmax + bmm, forward and backward") {
  // N = 300 spans two query blocks of the CPU kernel; M not a multiple of anything.
  const std::vector<AttentionCase> cases = {{3, 5, 7, 13, 11}, {2, 3, 6, 300, 37}, {1, 1, 1, 1, 2}};
  Rng rng(1234);
  for (const AttentionCase& c : cases) {
    CAPTURE(c.name());
    const AttentionInputs in = attention_inputs(c, rng);
    const Tensor out = poisoned({c.batch, c.cv, c.n}), lse = poisoned({c.batch, c.n});
    ops::attention_forward(out, lse, in.theta, in.phi, in.g);

    const Tensor s = Tensor::empty({c.batch, c.n, c.m}), p = Tensor::empty({c.batch, c.n, c.m});
    const Tensor ref = Tensor::empty({c.batch, c.cv, c.n});
    ops::bmm_forward(s, in.theta, in.phi, true, false);  // (B, N, M) = θᵀ φ
    ops::softmax_forward(p, s);
    ops::bmm_forward(ref, in.g, p, false, true);  // (B, Cv, N) = g Pᵀ
    test::check_close(out, ref, kTolerance, c.name() + " out");
    test::check_close(lse, reference_lse(s), kTolerance, c.name() + " lse");

    const Tensor d_out = test::random_normal(out.shape(), rng);
    const Tensor d_theta = poisoned(in.theta.shape()), d_phi = poisoned(in.phi.shape()), d_g = poisoned(in.g.shape());
    ops::attention_backward(d_theta, d_phi, d_g, d_out, in.theta, in.phi, in.g, out, lse);

    const Tensor d_p = Tensor::empty(p.shape()), d_s = Tensor::empty(s.shape());
    const Tensor ref_theta = Tensor::empty(in.theta.shape()), ref_phi = Tensor::empty(in.phi.shape());
    const Tensor ref_g = Tensor::empty(in.g.shape());
    ops::bmm_backward(ref_g, d_p, d_out, in.g, p, false, true);
    ops::softmax_backward(d_s, d_p, p);
    ops::bmm_backward(ref_theta, ref_phi, d_s, in.theta, in.phi, true, false);
    test::check_close(d_theta, ref_theta, kTolerance, c.name() + " d_theta");
    test::check_close(d_phi, ref_phi, kTolerance, c.name() + " d_phi");
    test::check_close(d_g, ref_g, kTolerance, c.name() + " d_g");

    // Only some gradients wanted: the others stay untouched, the wanted ones are the same.
    const Tensor only_phi = poisoned(in.phi.shape());
    ops::attention_backward(Tensor{}, only_phi, Tensor{}, d_out, in.theta, in.phi, in.g, out, lse);
    test::check_close(only_phi, ref_phi, kTolerance, c.name() + " d_phi alone");
    const Tensor only_g = poisoned(in.g.shape());
    ops::attention_backward(Tensor{}, Tensor{}, only_g, d_out, in.theta, in.phi, in.g, out, lse);
    test::check_close(only_g, ref_g, kTolerance, c.name() + " d_g alone");
  }
}

TEST_CASE("upconv CPU twin matches upsample + conv2d, forward and backward") {
  const std::vector<UpconvCase> cases = {
      {3, 5, 7, 7, 5, true}, {3, 5, 7, 7, 5, false}, {2, 4, 3, 1, 1, true}, {1, 13, 9, 6, 11, true}};
  Rng rng(4321);
  for (const UpconvCase& c : cases) {
    CAPTURE(c.name());
    const Tensor in = test::random_normal(c.in_shape(), rng), weight = test::random_normal(c.weight_shape(), rng);
    const Tensor bias = c.bias ? test::random_normal({c.out_c}, rng) : Tensor{};
    const Tensor out = poisoned(c.out_shape());
    ops::upconv3x3_forward(out, in, weight, bias);

    const Tensor up = Tensor::empty({c.batch, c.in_c, 2 * c.h, 2 * c.w}), ref = Tensor::empty(c.out_shape());
    ops::upsample_nearest2x_forward(up, in);
    ops::conv2d_forward(ref, up, weight, bias, 1);
    test::check_close(out, ref, kTolerance, c.name() + " forward");

    const Tensor d_out = test::random_normal(c.out_shape(), rng);
    const Tensor d_in = poisoned(c.in_shape());
    const Tensor dw_start = test::random_normal(c.weight_shape(), rng), db_start = test::random_normal({c.out_c}, rng);
    const Tensor d_weight = dw_start.clone(), d_bias = c.bias ? db_start.clone() : Tensor{};
    ops::upconv3x3_backward(d_in, d_weight, d_bias, d_out, in, weight);

    const Tensor d_up = Tensor::empty(up.shape()), ref_in = Tensor::empty(c.in_shape());
    const Tensor ref_weight = dw_start.clone(), ref_bias = c.bias ? db_start.clone() : Tensor{};
    ops::conv2d_backward(d_up, ref_weight, ref_bias, d_out, up, weight, 1);
    ops::upsample_nearest2x_backward(ref_in, d_up);
    test::check_close(d_in, ref_in, kTolerance, c.name() + " d_in");
    test::check_close(d_weight, ref_weight, kTolerance, c.name() + " d_weight (accumulated)");
    if (c.bias) test::check_close(d_bias, ref_bias, kTolerance, c.name() + " d_bias (accumulated)");

    // d_in alone, then d_weight alone.
    const Tensor only_in = poisoned(c.in_shape());
    ops::upconv3x3_backward(only_in, Tensor{}, Tensor{}, d_out, in, weight);
    test::check_close(only_in, ref_in, kTolerance, c.name() + " d_in alone");
    const Tensor only_w = dw_start.clone();
    ops::upconv3x3_backward(Tensor{}, only_w, Tensor{}, d_out, in, weight);
    test::check_close(only_w, ref_weight, kTolerance, c.name() + " d_weight alone");
  }
}

}  // TEST_SUITE("fused")
