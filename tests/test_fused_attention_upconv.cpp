// The fused self-attention core (attention_forward/backward) and the upsampling convolution
// (upconv3x3_forward/backward):
//   "fused":     the CPU twins against the composition of verified primitives (bmm + softmax + bmm; upsample +
//                conv2d), forward and backward, at odd sizes; outputs poisoned, accumulating gradients starting
//                from random values.
//   "gradcheck": central differences along random directions (float32, loss L = Σ out ⊙ R accumulated in double).
//   "cuda":      the CUDA kernels against the CPU twins at odd sizes, sizes that are no multiples of the kernels'
//                tiles, channel counts that need several channel chunks, and one real shape each; plus a check
//                that the CUDA backward is deterministic (two runs, bitwise equal).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

Tensor poisoned(const Shape& shape, Device device = Device::CPU) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  test::poison(t);
  return t;
}

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

// ---- a small finite-difference harness ----------------------------------------------------------------------------

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// For L(x) = Σ forward(x) ⊙ r: the central difference along `kDirections` random directions v of each input
// (x ± h·v, the perturbation actually applied in float32) against ⟨∇L, x⁺ − x⁻⟩ from the backward, relative 1e-2.
struct GradInput {
  std::string name;
  Tensor value;  // perturbed in place
  Tensor grad;   // written by backward (gradient minus its start value for accumulating ones)
  bool accumulates;
};

void check_directions(const std::string& op, std::vector<GradInput>& inputs, const Tensor& out,
                      const std::function<void()>& forward, const std::function<void(const Tensor&)>& backward,
                      double h, Rng& rng) {
  constexpr int kDirections = 3;
  forward();
  const Tensor r = test::random_normal(out.shape(), rng);
  const std::vector<float> rv = r.to_vector();
  std::vector<std::vector<float>> start(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].accumulates) {
      const Tensor init = test::random_normal(inputs[i].grad.shape(), rng);
      inputs[i].grad.copy_from(init);
      start[i] = init.to_vector();
    } else {
      test::poison(inputs[i].grad);
    }
  }
  backward(r);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const GradInput& in = inputs[i];
    std::vector<double> grad(static_cast<std::size_t>(in.grad.numel()));
    const std::vector<float> gv = in.grad.to_vector();
    for (std::size_t j = 0; j < grad.size(); ++j) grad[j] = gv[j] - (in.accumulates ? start[i][j] : 0.0f);
    const Tensor original = in.value.clone();
    const std::vector<float> x0 = original.to_vector();
    for (int k = 0; k < kDirections; ++k) {
      const std::vector<float> v = test::random_uniform(in.value.shape(), rng, -1.0f, 1.0f).to_vector();
      std::vector<float> plus(x0.size()), minus(x0.size());
      double analytic = 0.0;
      for (std::size_t j = 0; j < x0.size(); ++j) {
        plus[j] = x0[j] + static_cast<float>(h) * v[j];
        minus[j] = x0[j] - static_cast<float>(h) * v[j];
        analytic += grad[j] * (static_cast<double>(plus[j]) - minus[j]);
      }
      in.value.copy_from(Tensor::from_vector(plus, in.value.shape()));
      forward();
      const double lp = dot(out.to_vector(), rv);
      in.value.copy_from(Tensor::from_vector(minus, in.value.shape()));
      forward();
      const double lm = dot(out.to_vector(), rv);
      in.value.copy_from(original);
      const double fd = (lp - lm) / (2.0 * h), an = analytic / (2.0 * h);
      const double scale = std::max(std::abs(fd), std::abs(an));
      const bool agree = std::isfinite(fd) && std::isfinite(an) && scale > 1e-30 && std::abs(fd - an) <= 1e-2 * scale;
      CHECK_MESSAGE(agree, op, " d_", in.name, " direction ", k, ": finite difference ", fd, ", backward ", an);
    }
  }
  forward();
}

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

// ================================================================================================================
TEST_SUITE("gradcheck") {

TEST_CASE("gradcheck attention_forward/backward: d_theta, d_phi, d_g") {
  Rng rng(777);
  const AttentionCase c{2, 3, 4, 9, 5};
  const AttentionInputs in = attention_inputs(c, rng);
  const Tensor out = Tensor::empty({c.batch, c.cv, c.n}), lse = Tensor::empty({c.batch, c.n});
  std::vector<GradInput> inputs = {{"theta", in.theta, Tensor::empty(in.theta.shape()), false},
                                   {"phi", in.phi, Tensor::empty(in.phi.shape()), false},
                                   {"g", in.g, Tensor::empty(in.g.shape()), false}};
  const Tensor d_theta = inputs[0].grad, d_phi = inputs[1].grad, d_g = inputs[2].grad;
  check_directions(
      "attention", inputs, out, [&] { ops::attention_forward(out, lse, in.theta, in.phi, in.g); },
      [&](const Tensor& d_out) {
        ops::attention_backward(d_theta, d_phi, d_g, d_out, in.theta, in.phi, in.g, out, lse);
      },
      1e-2, rng);
}

TEST_CASE("gradcheck upconv3x3_forward/backward: d_in, d_weight, d_bias") {
  Rng rng(778);
  const UpconvCase c{2, 3, 4, 5, 4, true};
  const Tensor in = test::random_normal(c.in_shape(), rng), weight = test::random_normal(c.weight_shape(), rng);
  const Tensor bias = test::random_normal({c.out_c}, rng);
  const Tensor out = Tensor::empty(c.out_shape());
  std::vector<GradInput> inputs = {{"in", in, Tensor::empty(in.shape()), false},
                                   {"weight", weight, Tensor::empty(weight.shape()), true},
                                   {"bias", bias, Tensor::empty(bias.shape()), true}};
  const Tensor d_in = inputs[0].grad, d_weight = inputs[1].grad, d_bias = inputs[2].grad;
  check_directions(
      "upconv3x3", inputs, out, [&] { ops::upconv3x3_forward(out, in, weight, bias); },
      [&](const Tensor& d_out) { ops::upconv3x3_backward(d_in, d_weight, d_bias, d_out, in, weight); }, 0.1, rng);
}

}  // TEST_SUITE("gradcheck")

// ================================================================================================================
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

namespace {

struct Pair {
  Tensor cpu, gpu;
};
Pair to_pair(const Tensor& cpu) { return {cpu, cpu.to(Device::CUDA)}; }
Pair poisoned_pair(const Shape& shape) { return {poisoned(shape), poisoned(shape, Device::CUDA)}; }
void check_pair(const Pair& p, const std::string& what) { test::check_close(p.gpu, p.cpu, kTolerance, what); }

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](float u, float v) {
           return std::memcmp(&u, &v, sizeof(float)) == 0;
         });
}

void check_cuda_attention(const std::vector<AttentionCase>& cases, std::uint64_t seed) {
  Rng rng(seed);
  for (const AttentionCase& c : cases) {
    CAPTURE(c.name());
    const AttentionInputs in = attention_inputs(c, rng);
    const Pair theta = to_pair(in.theta), phi = to_pair(in.phi), g = to_pair(in.g);
    const Pair out = poisoned_pair({c.batch, c.cv, c.n}), lse = poisoned_pair({c.batch, c.n});
    ops::attention_forward(out.cpu, lse.cpu, theta.cpu, phi.cpu, g.cpu);
    ops::attention_forward(out.gpu, lse.gpu, theta.gpu, phi.gpu, g.gpu);
    check_pair(out, c.name() + " out");
    check_pair(lse, c.name() + " lse");

    const Pair d_out = to_pair(test::random_normal({c.batch, c.cv, c.n}, rng));
    const Pair d_theta = poisoned_pair(in.theta.shape()), d_phi = poisoned_pair(in.phi.shape());
    const Pair d_g = poisoned_pair(in.g.shape());
    ops::attention_backward(d_theta.cpu, d_phi.cpu, d_g.cpu, d_out.cpu, theta.cpu, phi.cpu, g.cpu, out.cpu, lse.cpu);
    ops::attention_backward(d_theta.gpu, d_phi.gpu, d_g.gpu, d_out.gpu, theta.gpu, phi.gpu, g.gpu, out.gpu, lse.gpu);
    check_pair(d_theta, c.name() + " d_theta");
    check_pair(d_phi, c.name() + " d_phi");
    check_pair(d_g, c.name() + " d_g");

    // Deterministic: a second run gives the same bits. Partial requests give the same values.
    const Tensor again_phi = poisoned(in.phi.shape(), Device::CUDA), again_g = poisoned(in.g.shape(), Device::CUDA);
    ops::attention_backward(Tensor{}, again_phi, again_g, d_out.gpu, theta.gpu, phi.gpu, g.gpu, out.gpu, lse.gpu);
    CHECK(bitwise_equal(again_phi, d_phi.gpu));
    CHECK(bitwise_equal(again_g, d_g.gpu));
    const Tensor again_theta = poisoned(in.theta.shape(), Device::CUDA);
    ops::attention_backward(again_theta, Tensor{}, Tensor{}, d_out.gpu, theta.gpu, phi.gpu, g.gpu, out.gpu, lse.gpu);
    CHECK(bitwise_equal(again_theta, d_theta.gpu));
  }
}

void check_cuda_upconv(const std::vector<UpconvCase>& cases, std::uint64_t seed) {
  Rng rng(seed);
  for (const UpconvCase& c : cases) {
    CAPTURE(c.name());
    const Pair in = to_pair(test::random_normal(c.in_shape(), rng));
    const Pair weight = to_pair(test::random_normal(c.weight_shape(), rng));
    const Pair bias = c.bias ? to_pair(test::random_normal({c.out_c}, rng)) : Pair{};
    const Pair out = poisoned_pair(c.out_shape());
    ops::upconv3x3_forward(out.cpu, in.cpu, weight.cpu, bias.cpu);
    ops::upconv3x3_forward(out.gpu, in.gpu, weight.gpu, bias.gpu);
    check_pair(out, c.name() + " forward");

    const Pair d_out = to_pair(test::random_normal(c.out_shape(), rng));
    const Pair d_in = poisoned_pair(c.in_shape());
    const Pair d_weight = to_pair(test::random_normal(c.weight_shape(), rng));  // accumulates
    const Pair d_bias = c.bias ? to_pair(test::random_normal({c.out_c}, rng)) : Pair{};
    const Tensor dw_start = d_weight.gpu.clone(), db_start = c.bias ? d_bias.gpu.clone() : Tensor{};
    ops::upconv3x3_backward(d_in.cpu, d_weight.cpu, d_bias.cpu, d_out.cpu, in.cpu, weight.cpu);
    ops::upconv3x3_backward(d_in.gpu, d_weight.gpu, d_bias.gpu, d_out.gpu, in.gpu, weight.gpu);
    check_pair(d_in, c.name() + " d_in");
    check_pair(d_weight, c.name() + " d_weight");
    if (c.bias) check_pair(d_bias, c.name() + " d_bias");

    // Deterministic, and each gradient alone is the same.
    const Tensor again_in = poisoned(c.in_shape(), Device::CUDA);
    const Tensor again_w = dw_start.clone();
    ops::upconv3x3_backward(again_in, Tensor{}, Tensor{}, d_out.gpu, in.gpu, weight.gpu);
    ops::upconv3x3_backward(Tensor{}, again_w, Tensor{}, d_out.gpu, in.gpu, weight.gpu);
    CHECK(bitwise_equal(again_in, d_in.gpu));
    CHECK(bitwise_equal(again_w, d_weight.gpu));
    if (c.bias) {
      const Tensor again_b = db_start.clone();
      ops::upconv3x3_backward(Tensor{}, Tensor{}, again_b, d_out.gpu, in.gpu, weight.gpu);
      CHECK(bitwise_equal(again_b, d_bias.gpu));
    }
  }
}

}  // namespace

TEST_CASE("cuda attention forward and backward match the CPU at odd sizes") {
  check_cuda_attention({
                           {3, 5, 7, 13, 11},      // tiny, odd
                           {2, 7, 33, 77, 37},     // no multiple of the 64-query / 32-key tiles
                           {1, 70, 200, 100, 45},  // Ck > 64 and Cv > 192: several channel chunks
                           {1, 70, 200, 100, 301}, // ... and the forward's key split (M odd)
                           {2, 24, 96, 256, 64},   // the discriminator's channels (Cv ≤ 96 kernel)
                       },
                       99);
}

TEST_CASE("cuda attention forward and backward match the CPU at the generator's shape") {
  check_cuda_attention({{1, 48, 192, 4096, 1024}}, 100);  // C = 384 at 64×64
}

TEST_CASE("cuda upconv forward and backward match the CPU at odd sizes") {
  check_cuda_upconv({
                        {3, 5, 7, 7, 5, true},      // the project's odd shape
                        {3, 5, 7, 7, 5, false},     // no bias
                        {2, 37, 45, 19, 23, true},  // no multiple of the tiles; several input-channel chunks
                        {1, 3, 20, 40, 3, true},    // tall and narrow
                        {2, 3, 20, 9, 24, true},    // even width: 16-byte stores, bias in the main kernel
                    },
                    98);
}

TEST_CASE("cuda upconv forward and backward match the CPU at a real layer") {
  check_cuda_upconv({{1, 192, 96, 32, 32, true}}, 97);  // the last GBlock's channels at 32²→64²
}

}  // TEST_SUITE("cuda")
