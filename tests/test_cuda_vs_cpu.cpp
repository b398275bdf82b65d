// The CUDA backend against the CPU backend: every op, forward and backward, at deliberately awkward sizes (batch 3,
// 7×5 images, channel counts that are not multiples of 4, odd pooling sizes, every transpose combination).
//
// Method, for every op: random inputs are drawn on the CPU (seeded Rng) and copied to the GPU, so both backends see
// the same values; every output and every overwritten gradient is poisoned with NaN on both devices before the call,
// so an element a kernel forgets to write fails; accumulating gradients (d_weight, d_bias, d_table) start from the
// same non-zero random values on both devices, which proves they are added to rather than overwritten. The GPU
// result is compared with the CPU result by test::check_close at the project's float32 bar, normalized error 1e-5.
// Inputs of the single-value reductions (sum / mean over everything) are positive, so the reference is not a
// cancellation-prone near-zero number.
//
// Every TEST_CASE returns at once when no GPU is visible; the runner's --require-gpu additionally reports the whole
// "cuda" suite as skipped (exit 77) then. The file uses only public headers and compiles in a CPU-only build.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"
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

constexpr double kTolerance = 1e-5;  // the project's float32 bar

// The same tensor on both devices. An undefined pair (both Tensor{}) stands for "not wanted".
struct Pair {
  Tensor cpu;
  Tensor gpu;
};

Pair copy_to_gpu(const Tensor& cpu) { return {cpu, cpu.to(Device::CUDA)}; }

Pair random_normal(const Shape& shape, Rng& rng) { return copy_to_gpu(test::random_normal(shape, rng)); }

Pair random_uniform(const Shape& shape, Rng& rng, float low, float high) {
  return copy_to_gpu(test::random_uniform(shape, rng, low, high));
}

// An output or overwritten gradient: NaN everywhere on both devices.
Pair poisoned(const Shape& shape) {
  Pair p{Tensor::empty(shape, DType::F32, Device::CPU), Tensor::empty(shape, DType::F32, Device::CUDA)};
  test::poison(p.cpu);
  test::poison(p.gpu);
  return p;
}

void check(const Pair& p, const std::string& what, double tolerance = kTolerance) {
  test::check_close(p.gpu, p.cpu, tolerance, what);
}

std::string shape_name(const Shape& shape) { return bigcolor::shape_string(shape); }

}  // namespace

// Without a GPU, doctest reports every case of this suite as skipped (never as passed).
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda conv2d forward and backward match the CPU") {
  struct Case {
    std::int64_t batch, in_channels, height, width, out_channels, kernel_h, kernel_w;
    int padding;
    bool bias, want_d_in, want_d_weight;
  };
  const std::vector<Case> cases = {
      {3, 5, 7, 5, 6, 3, 3, 1, true, true, true},     // 3×3, same size
      {3, 5, 7, 5, 6, 1, 1, 0, true, true, true},     // 1×1
      {3, 5, 7, 5, 6, 5, 5, 2, true, true, true},     // 5×5, same size
      {3, 5, 7, 5, 6, 3, 3, 0, false, true, true},    // shrinking, no bias
      {3, 3, 7, 5, 7, 3, 1, 1, true, true, true},     // non-square kernel: out (3, 7, 7, 7)
      {3, 5, 7, 5, 6, 3, 3, 1, true, false, true},    // d_in not wanted
      {3, 5, 7, 5, 6, 3, 3, 1, false, true, false},   // only d_in
      {2, 19, 17, 13, 33, 3, 3, 1, true, true, true}, // wider layer, different algorithm choices
  };
  Rng rng(101);
  for (const Case& c : cases) {
    const std::int64_t out_h = c.height + 2 * c.padding - c.kernel_h + 1;
    const std::int64_t out_w = c.width + 2 * c.padding - c.kernel_w + 1;
    const Shape in_shape = {c.batch, c.in_channels, c.height, c.width};
    const Shape weight_shape = {c.out_channels, c.in_channels, c.kernel_h, c.kernel_w};
    const Shape out_shape = {c.batch, c.out_channels, out_h, out_w};
    const std::string name = "conv2d in " + shape_name(in_shape) + " weight " + shape_name(weight_shape) + " pad " +
                             std::to_string(c.padding) + (c.bias ? "" : " no bias");
    CAPTURE(name);

    const Pair in = random_normal(in_shape, rng);
    const Pair weight = random_normal(weight_shape, rng);
    const Pair bias = c.bias ? random_normal({c.out_channels}, rng) : Pair{};
    const Pair out = poisoned(out_shape);
    ops::conv2d_forward(out.cpu, in.cpu, weight.cpu, bias.cpu, c.padding);
    ops::conv2d_forward(out.gpu, in.gpu, weight.gpu, bias.gpu, c.padding);
    check(out, name + " forward");

    const Pair d_out = random_normal(out_shape, rng);
    const Pair d_in = c.want_d_in ? poisoned(in_shape) : Pair{};
    const Pair d_weight = c.want_d_weight ? random_normal(weight_shape, rng) : Pair{};  // accumulates
    const Pair d_bias = c.bias ? random_normal({c.out_channels}, rng) : Pair{};        // accumulates
    ops::conv2d_backward(d_in.cpu, d_weight.cpu, d_bias.cpu, d_out.cpu, in.cpu, weight.cpu, c.padding);
    ops::conv2d_backward(d_in.gpu, d_weight.gpu, d_bias.gpu, d_out.gpu, in.gpu, weight.gpu, c.padding);
    // All reductions here are at most a few hundred terms (B·Ho·Wo ≤ 442 for d_weight), so 1e-5 holds throughout.
    if (c.want_d_in) check(d_in, name + " d_in");
    if (c.want_d_weight) check(d_weight, name + " d_weight");
    if (c.bias) check(d_bias, name + " d_bias");
  }
}

TEST_CASE("cuda linear forward and backward match the CPU") {
  struct Case {
    std::int64_t batch, in_features, out_features;
    bool bias, want_d_in;
  };
  const std::vector<Case> cases = {
      {3, 13, 7, true, true},
      {3, 13, 7, false, true},
      {1, 5, 3, true, false},
      {37, 129, 65, true, true},
  };
  Rng rng(202);
  for (const Case& c : cases) {
    const std::string name = "linear (" + std::to_string(c.batch) + ", " + std::to_string(c.in_features) + ") -> " +
                             std::to_string(c.out_features) + (c.bias ? "" : " no bias");
    CAPTURE(name);
    const Pair in = random_normal({c.batch, c.in_features}, rng);
    const Pair weight = random_normal({c.out_features, c.in_features}, rng);
    const Pair bias = c.bias ? random_normal({c.out_features}, rng) : Pair{};
    const Pair out = poisoned({c.batch, c.out_features});
    ops::linear_forward(out.cpu, in.cpu, weight.cpu, bias.cpu);
    ops::linear_forward(out.gpu, in.gpu, weight.gpu, bias.gpu);
    check(out, name + " forward");

    const Pair d_out = random_normal({c.batch, c.out_features}, rng);
    const Pair d_in = c.want_d_in ? poisoned({c.batch, c.in_features}) : Pair{};
    const Pair d_weight = random_normal({c.out_features, c.in_features}, rng);  // accumulates
    const Pair d_bias = c.bias ? random_normal({c.out_features}, rng) : Pair{};  // accumulates
    ops::linear_backward(d_in.cpu, d_weight.cpu, d_bias.cpu, d_out.cpu, in.cpu, weight.cpu);
    ops::linear_backward(d_in.gpu, d_weight.gpu, d_bias.gpu, d_out.gpu, in.gpu, weight.gpu);
    if (c.want_d_in) check(d_in, name + " d_in");
    check(d_weight, name + " d_weight");
    if (c.bias) check(d_bias, name + " d_bias");
  }
}

TEST_CASE("cuda embedding forward and backward match the CPU") {
  Rng rng(303);
  const std::int64_t vocabulary = 11;
  const std::int64_t dim = 9;
  const std::vector<std::int32_t> ids = {3, 0, 10, 3, 7, 3, 1};  // repeated 3: its gradient rows add up
  const std::int64_t rows = static_cast<std::int64_t>(ids.size());
  const Tensor indices_cpu = Tensor::from_indices(ids, {rows});
  const Pair indices{indices_cpu, indices_cpu.to(Device::CUDA)};

  const Pair table = random_normal({vocabulary, dim}, rng);
  const Pair out = poisoned({rows, dim});
  ops::embedding_forward(out.cpu, table.cpu, indices.cpu);
  ops::embedding_forward(out.gpu, table.gpu, indices.gpu);
  check(out, "embedding forward");

  const Pair d_out = random_normal({rows, dim}, rng);
  const Pair d_table = random_normal({vocabulary, dim}, rng);  // accumulates
  ops::embedding_backward(d_table.cpu, d_out.cpu, indices.cpu);
  ops::embedding_backward(d_table.gpu, d_out.gpu, indices.gpu);
  check(d_table, "embedding d_table");
}

TEST_CASE("cuda bmm forward and backward match the CPU for every transpose combination") {
  Rng rng(404);
  const std::int64_t batch = 3, m = 5, n = 7, k = 6;
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      const std::string name = std::string("bmm trans_a=") + (trans_a ? "1" : "0") + " trans_b=" + (trans_b ? "1" : "0");
      CAPTURE(name);
      const Shape a_shape = trans_a ? Shape{batch, k, m} : Shape{batch, m, k};
      const Shape b_shape = trans_b ? Shape{batch, n, k} : Shape{batch, k, n};
      const Pair a = random_normal(a_shape, rng);
      const Pair b = random_normal(b_shape, rng);
      const Pair out = poisoned({batch, m, n});
      ops::bmm_forward(out.cpu, a.cpu, b.cpu, trans_a, trans_b);
      ops::bmm_forward(out.gpu, a.gpu, b.gpu, trans_a, trans_b);
      check(out, name + " forward");

      const Pair d_out = random_normal({batch, m, n}, rng);
      const Pair d_a = poisoned(a_shape);
      const Pair d_b = poisoned(b_shape);
      ops::bmm_backward(d_a.cpu, d_b.cpu, d_out.cpu, a.cpu, b.cpu, trans_a, trans_b);
      ops::bmm_backward(d_a.gpu, d_b.gpu, d_out.gpu, a.gpu, b.gpu, trans_a, trans_b);
      check(d_a, name + " d_a");
      check(d_b, name + " d_b");

      // One gradient at a time: the other stays untouched (undefined = not wanted).
      const Pair d_b_only = poisoned(b_shape);
      ops::bmm_backward(Tensor{}, d_b_only.cpu, d_out.cpu, a.cpu, b.cpu, trans_a, trans_b);
      ops::bmm_backward(Tensor{}, d_b_only.gpu, d_out.gpu, a.gpu, b.gpu, trans_a, trans_b);
      check(d_b_only, name + " d_b alone");
    }
  }
}

TEST_CASE("cuda softmax forward and backward match the CPU") {
  Rng rng(505);
  for (const Shape& shape : {Shape{3, 5, 37}, Shape{2, 1000}, Shape{4, 3}, Shape{3, 7, 5, 33}}) {
    const std::string name = "softmax " + shape_name(shape);
    CAPTURE(name);
    const Pair in = random_normal(shape, rng);
    const Pair out = poisoned(shape);
    ops::softmax_forward(out.cpu, in.cpu);
    ops::softmax_forward(out.gpu, in.gpu);
    check(out, name + " forward");

    const Pair d_out = random_normal(shape, rng);
    const Pair d_in = poisoned(shape);
    ops::softmax_backward(d_in.cpu, d_out.cpu, out.cpu);
    ops::softmax_backward(d_in.gpu, d_out.gpu, out.gpu);
    check(d_in, name + " d_in");
  }
}

TEST_CASE("cuda elementwise ops forward and backward match the CPU") {
  Rng rng(606);
  const Shape shape = {3, 5, 7, 5};
  const Pair a = random_normal(shape, rng);
  const Pair b = random_normal(shape, rng);
  const Pair d_out = random_normal(shape, rng);

  {  // relu
    const Pair out = poisoned(shape);
    ops::relu_forward(out.cpu, a.cpu);
    ops::relu_forward(out.gpu, a.gpu);
    check(out, "relu forward");
    const Pair d_in = poisoned(shape);
    ops::relu_backward(d_in.cpu, d_out.cpu, out.cpu);
    ops::relu_backward(d_in.gpu, d_out.gpu, out.gpu);
    check(d_in, "relu d_in");
  }
  {  // tanh
    const Pair out = poisoned(shape);
    ops::tanh_forward(out.cpu, a.cpu);
    ops::tanh_forward(out.gpu, a.gpu);
    check(out, "tanh forward");
    const Pair d_in = poisoned(shape);
    ops::tanh_backward(d_in.cpu, d_out.cpu, out.cpu);
    ops::tanh_backward(d_in.gpu, d_out.gpu, out.gpu);
    check(d_in, "tanh d_in");
  }
  {  // add
    const Pair out = poisoned(shape);
    ops::add_forward(out.cpu, a.cpu, b.cpu);
    ops::add_forward(out.gpu, a.gpu, b.gpu);
    check(out, "add forward");
    const Pair d_a = poisoned(shape);
    const Pair d_b = poisoned(shape);
    ops::add_backward(d_a.cpu, d_b.cpu, d_out.cpu);
    ops::add_backward(d_a.gpu, d_b.gpu, d_out.gpu);
    check(d_a, "add d_a");
    check(d_b, "add d_b");
    const Pair d_b_only = poisoned(shape);
    ops::add_backward(Tensor{}, d_b_only.cpu, d_out.cpu);
    ops::add_backward(Tensor{}, d_b_only.gpu, d_out.gpu);
    check(d_b_only, "add d_b alone");
  }
  {  // mul
    const Pair out = poisoned(shape);
    ops::mul_forward(out.cpu, a.cpu, b.cpu);
    ops::mul_forward(out.gpu, a.gpu, b.gpu);
    check(out, "mul forward");
    const Pair d_a = poisoned(shape);
    const Pair d_b = poisoned(shape);
    ops::mul_backward(d_a.cpu, d_b.cpu, d_out.cpu, a.cpu, b.cpu);
    ops::mul_backward(d_a.gpu, d_b.gpu, d_out.gpu, a.gpu, b.gpu);
    check(d_a, "mul d_a");
    check(d_b, "mul d_b");
    const Pair d_a_only = poisoned(shape);
    ops::mul_backward(d_a_only.cpu, Tensor{}, d_out.cpu, a.cpu, b.cpu);
    ops::mul_backward(d_a_only.gpu, Tensor{}, d_out.gpu, a.gpu, b.gpu);
    check(d_a_only, "mul d_a alone");
  }
  {  // scale
    const float factor = -0.37f;
    const Pair out = poisoned(shape);
    ops::scale_forward(out.cpu, a.cpu, factor);
    ops::scale_forward(out.gpu, a.gpu, factor);
    check(out, "scale forward");
    const Pair d_in = poisoned(shape);
    ops::scale_backward(d_in.cpu, d_out.cpu, factor);
    ops::scale_backward(d_in.gpu, d_out.gpu, factor);
    check(d_in, "scale d_in");
  }
  {  // in place: out aliases in (allowed for the activations)
    const Pair x = copy_to_gpu(a.cpu.clone());
    const Pair ref = poisoned(shape);
    ops::relu_forward(ref.cpu, a.cpu);
    ops::relu_forward(x.gpu, x.gpu);
    test::check_close(x.gpu, ref.cpu, kTolerance, "relu in place");
  }
}

TEST_CASE("cuda upsampling and pooling forward and backward match the CPU") {
  Rng rng(707);
  for (const Shape& shape : {Shape{3, 5, 7, 5}, Shape{2, 3, 6, 4}, Shape{1, 2, 1, 3}}) {
    const std::int64_t batch = shape[0], channels = shape[1], h = shape[2], w = shape[3];
    const std::string shape_text = shape_name(shape);
    CAPTURE(shape_text);
    const Pair in = random_normal(shape, rng);

    {  // nearest ×2 upsampling
      const Shape up = {batch, channels, 2 * h, 2 * w};
      const Pair out = poisoned(up);
      ops::upsample_nearest2x_forward(out.cpu, in.cpu);
      ops::upsample_nearest2x_forward(out.gpu, in.gpu);
      check(out, "upsample forward " + shape_text);
      const Pair d_out = random_normal(up, rng);
      const Pair d_in = poisoned(shape);
      ops::upsample_nearest2x_backward(d_in.cpu, d_out.cpu);
      ops::upsample_nearest2x_backward(d_in.gpu, d_out.gpu);
      check(d_in, "upsample d_in " + shape_text);
    }
    if (h / 2 == 0 || w / 2 == 0) continue;  // pooling of a 1-high image: empty output, nothing to compare
    const Shape down = {batch, channels, h / 2, w / 2};
    const Pair d_out = random_normal(down, rng);
    {  // average pooling (odd sizes: the last row / column is dropped and gets zero gradient)
      const Pair out = poisoned(down);
      ops::avgpool2x2_forward(out.cpu, in.cpu);
      ops::avgpool2x2_forward(out.gpu, in.gpu);
      check(out, "avgpool forward " + shape_text);
      const Pair d_in = poisoned(shape);
      ops::avgpool2x2_backward(d_in.cpu, d_out.cpu);
      ops::avgpool2x2_backward(d_in.gpu, d_out.gpu);
      check(d_in, "avgpool d_in " + shape_text);
    }
    {  // max pooling
      const Pair out = poisoned(down);
      ops::maxpool2x2_forward(out.cpu, in.cpu);
      ops::maxpool2x2_forward(out.gpu, in.gpu);
      check(out, "maxpool forward " + shape_text);
      const Pair d_in = poisoned(shape);
      ops::maxpool2x2_backward(d_in.cpu, d_out.cpu, in.cpu);
      ops::maxpool2x2_backward(d_in.gpu, d_out.gpu, in.gpu);
      check(d_in, "maxpool d_in " + shape_text);
    }
  }
  {  // ties: the gradient of a constant window goes to its first element, on both backends
    const Pair in = copy_to_gpu(Tensor::full({1, 2, 4, 4}, 0.5f));
    const Pair d_out = random_normal({1, 2, 2, 2}, rng);
    const Pair d_in = poisoned({1, 2, 4, 4});
    ops::maxpool2x2_backward(d_in.cpu, d_out.cpu, in.cpu);
    ops::maxpool2x2_backward(d_in.gpu, d_out.gpu, in.gpu);
    check(d_in, "maxpool d_in with ties");
  }
}

TEST_CASE("cuda batchnorm forward and backward match the CPU") {
  struct Case {
    Shape shape;
    bool training, affine;
  };
  const std::vector<Case> cases = {
      {{3, 5, 7, 5}, true, true},  {{3, 5, 7, 5}, false, true}, {{3, 5, 7, 5}, true, false},
      {{3, 5, 7, 5}, false, false}, {{7, 6}, true, true},        {{7, 6}, false, false},
  };
  const float momentum = 0.1f;
  const float eps = 1e-5f;
  Rng rng(808);
  for (const Case& c : cases) {
    const std::string name = "batchnorm " + shape_name(c.shape) + (c.training ? " training" : " eval") +
                             (c.affine ? "" : " no affine");
    CAPTURE(name);
    const Shape channels = {c.shape[1]};
    const Pair in = random_uniform(c.shape, rng, -1.0f, 3.0f);  // non-zero mean: exercises the centring
    const Pair weight = c.affine ? random_normal(channels, rng) : Pair{};
    const Pair bias = c.affine ? random_normal(channels, rng) : Pair{};
    const Pair running_mean = random_normal(channels, rng);
    const Pair running_var = random_uniform(channels, rng, 0.5f, 1.5f);
    const Pair out = poisoned(c.shape);
    const Pair saved_mean = poisoned(channels);
    const Pair saved_invstd = poisoned(channels);
    ops::batchnorm_forward(out.cpu, saved_mean.cpu, saved_invstd.cpu, running_mean.cpu, running_var.cpu, in.cpu,
                           weight.cpu, bias.cpu, c.training, momentum, eps);
    ops::batchnorm_forward(out.gpu, saved_mean.gpu, saved_invstd.gpu, running_mean.gpu, running_var.gpu, in.gpu,
                           weight.gpu, bias.gpu, c.training, momentum, eps);
    check(out, name + " forward");
    check(saved_mean, name + " saved_mean");
    check(saved_invstd, name + " saved_invstd");
    check(running_mean, name + " running_mean");
    check(running_var, name + " running_var");

    const Pair d_out = random_normal(c.shape, rng);
    const Pair d_in = poisoned(c.shape);
    const Pair d_weight = c.affine ? random_normal(channels, rng) : Pair{};  // accumulates
    const Pair d_bias = c.affine ? random_normal(channels, rng) : Pair{};    // accumulates
    // Both backends get the statistics the CPU saved, so the backward is compared on identical inputs.
    const Pair mean_used = copy_to_gpu(saved_mean.cpu);
    const Pair invstd_used = copy_to_gpu(saved_invstd.cpu);
    ops::batchnorm_backward(d_in.cpu, d_weight.cpu, d_bias.cpu, d_out.cpu, in.cpu, weight.cpu, mean_used.cpu,
                            invstd_used.cpu, c.training);
    ops::batchnorm_backward(d_in.gpu, d_weight.gpu, d_bias.gpu, d_out.gpu, in.gpu, weight.gpu, mean_used.gpu,
                            invstd_used.gpu, c.training);
    check(d_in, name + " d_in");
    if (c.affine) {
      check(d_weight, name + " d_weight");
      check(d_bias, name + " d_bias");
    }
  }
}

TEST_CASE("cuda sum, mean and mse_loss forward and backward match the CPU") {
  Rng rng(909);
  struct Case {
    Shape in, out;
  };
  const std::vector<Case> cases = {
      {{3, 5, 7, 5}, {3, 5, 7}},  // over W
      {{3, 5, 7, 5}, {3, 5}},     // over H, W
      {{3, 5, 7, 5}, {3}},        // over C, H, W
      {{3, 5, 7, 5}, {1}},        // everything
      {{3, 5, 7, 5}, {}},         // everything, scalar out
      {{3, 5, 7, 5}, {3, 5, 7, 5}},  // nothing (copy)
      {{300, 50}, {300}},         // many short rows: one block per row
      {{2, 300001}, {2}},         // few long rows: split into chunks, then a second pass
      {{1000003}, {1}},           // one very long row
  };
  for (const Case& c : cases) {
    const std::string name = "reduce " + shape_name(c.in) + " -> " + shape_name(c.out);
    CAPTURE(name);
    const Pair in = random_uniform(c.in, rng, 0.5f, 1.5f);  // positive: no cancellation in one-value sums
    const Pair d_out = random_normal(c.out, rng);
    for (const bool mean : {false, true}) {
      const std::string op = mean ? "mean " : "sum ";
      const Pair out = poisoned(c.out);
      const Pair d_in = poisoned(c.in);
      if (mean) {
        ops::mean_forward(out.cpu, in.cpu);
        ops::mean_forward(out.gpu, in.gpu);
        ops::mean_backward(d_in.cpu, d_out.cpu);
        ops::mean_backward(d_in.gpu, d_out.gpu);
      } else {
        ops::sum_forward(out.cpu, in.cpu);
        ops::sum_forward(out.gpu, in.gpu);
        ops::sum_backward(d_in.cpu, d_out.cpu);
        ops::sum_backward(d_in.gpu, d_out.gpu);
      }
      check(out, op + name + " forward");
      check(d_in, op + name + " d_in");
    }
  }

  for (const Shape& shape : {Shape{3, 5, 7, 5}, Shape{517, 999}}) {
    const std::string name = "mse_loss " + shape_name(shape);
    CAPTURE(name);
    const Pair a = random_normal(shape, rng);
    const Pair b = random_normal(shape, rng);
    const Pair out = poisoned({1});
    ops::mse_loss_forward(out.cpu, a.cpu, b.cpu);
    ops::mse_loss_forward(out.gpu, a.gpu, b.gpu);
    check(out, name + " forward");

    const Pair d_out = random_normal({1}, rng);  // read on the device by the CUDA backward
    const Pair d_a = poisoned(shape);
    const Pair d_b = poisoned(shape);
    ops::mse_loss_backward(d_a.cpu, d_b.cpu, d_out.cpu, a.cpu, b.cpu);
    ops::mse_loss_backward(d_a.gpu, d_b.gpu, d_out.gpu, a.gpu, b.gpu);
    check(d_a, name + " d_a");
    check(d_b, name + " d_b");
  }
}

TEST_CASE("cuda copy_columns matches the CPU") {
  Rng rng(77);
  const Tensor src = test::random_normal({5, 11}, rng);
  const Tensor dst_cpu = test::random_normal({5, 9}, rng);
  const Tensor dst_gpu = dst_cpu.to(Device::CUDA);
  ops::copy_columns(dst_cpu, 2, src, 3, 6);
  ops::copy_columns(dst_gpu, 2, src.to(Device::CUDA), 3, 6);
  CHECK(dst_gpu.to_vector() == dst_cpu.to_vector());  // a copy: bit-exact
}

TEST_CASE("cuda adam_update and ema_update match the CPU") {
  Rng rng(78);
  for (const float beta1 : {0.0f, 0.9f}) {
    const Pair param = random_normal({1001}, rng), m = random_normal({1001}, rng);
    const Pair v = random_uniform({1001}, rng, 0.0f, 2.0f), g = random_normal({1001}, rng);
    ops::adam_update(param.cpu, m.cpu, v.cpu, g.cpu, beta1, 0.999f, 1e-8f, 1e-3f, 0.0447f);
    ops::adam_update(param.gpu, m.gpu, v.gpu, g.gpu, beta1, 0.999f, 1e-8f, 1e-3f, 0.0447f);
    // The same arithmetic in the same order, without FMA contraction on the GPU: bit-exact.
    CHECK(param.gpu.to_vector() == param.cpu.to_vector());
    CHECK(m.gpu.to_vector() == m.cpu.to_vector());
    CHECK(v.gpu.to_vector() == v.cpu.to_vector());
  }
  const Pair shadow = random_normal({777}, rng), param = random_normal({777}, rng);
  ops::ema_update(shadow.cpu, param.cpu, 0.0123f);
  ops::ema_update(shadow.gpu, param.gpu, 0.0123f);
  CHECK(shadow.gpu.to_vector() == shadow.cpu.to_vector());
}

TEST_CASE("cuda caching allocator reuses freed blocks and keeps its statistics") {
  namespace cuda = bigcolor::cuda;
  for (const std::size_t bytes : {std::size_t{1000}, std::size_t{3} << 20}) {  // a small and a large size class
    CAPTURE(bytes);
    const cuda::MemoryStats before = cuda::memory_stats();
    void* first = cuda::allocate(bytes);
    REQUIRE(first != nullptr);
    const cuda::MemoryStats held = cuda::memory_stats();
    CHECK(held.in_use >= before.in_use + bytes);
    CHECK(held.peak_in_use >= held.in_use);
    CHECK(held.reserved >= held.in_use);

    cuda::deallocate(first, bytes);
    const cuda::MemoryStats freed = cuda::memory_stats();
    CHECK(freed.in_use == before.in_use);
    CHECK(freed.reserved == held.reserved);  // kept in the cache, not returned to the driver

    void* second = cuda::allocate(bytes);
    const cuda::MemoryStats again = cuda::memory_stats();
    CHECK(second == first);  // the cached block of the same class is handed out again
    CHECK(again.cuda_malloc_calls == held.cuda_malloc_calls);
    CHECK(again.in_use == held.in_use);
    cuda::deallocate(second, bytes);
  }

  // Tensors go through the same allocator: creating and dropping one returns in_use to where it was.
  const std::size_t in_use = cuda::memory_stats().in_use;
  {
    const Tensor t = Tensor::zeros({3, 5, 7, 5}, DType::F32, Device::CUDA);
    CHECK(cuda::memory_stats().in_use > in_use);
  }
  CHECK(cuda::memory_stats().in_use == in_use);

  cuda::empty_cache();
  const cuda::MemoryStats emptied = cuda::memory_stats();
  CHECK(emptied.reserved == emptied.in_use);

  cuda::reset_peak_memory();
  CHECK(cuda::memory_stats().peak_in_use == cuda::memory_stats().in_use);

  // An impossible request is a bigcolor::Error (after emptying the cache and retrying), and the GPU stays usable.
  CHECK_THROWS_AS(cuda::allocate(std::size_t{1} << 50), bigcolor::Error);
  const Tensor after = Tensor::full({4}, 2.0f, Device::CUDA);
  CHECK(after.to_vector() == std::vector<float>{2.0f, 2.0f, 2.0f, 2.0f});
}

}  // TEST_SUITE("cuda")
