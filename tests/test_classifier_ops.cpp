// The classifiers' forward-only CPU ops (kernels/inference_signatures.inc) against direct loops in double that
// follow the contract's formulas literally, at awkward sizes: odd and even inputs, both TF "same" paddings of
// stride 2 (0/1 and 1/2), batch > 1, channel counts that are no multiple of 4, outputs poisoned with NaN first.
// The CUDA twins are compared with these through the op table (op_table_inference.cpp, test_cuda_vs_cpu.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "test_util.h"

namespace {

using bigcolor::ConvWindow;
using bigcolor::Rng;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-6;  // float32 sums of at most a few hundred terms against double

// out[b, o, y, x] = bias[o] + Σ in[b, c, y·s + i − top, x·s + j − left] · w[o, c or 0, i, j]; depthwise: c = o.
Tensor reference_conv(const Tensor& in, const Tensor& w, const Tensor& bias, const ConvWindow& win, bool depthwise) {
  const auto x = in.to_vector(), k = w.to_vector();
  const std::vector<float> b = bias.defined() ? bias.to_vector() : std::vector<float>();
  const std::int64_t B = in.dim(0), C = in.dim(1), H = in.dim(2), W = in.dim(3);
  const std::int64_t O = w.dim(0), KC = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  const std::int64_t OH = win.out_h(H, KH), OW = win.out_w(W, KW);
  std::vector<float> out(static_cast<std::size_t>(B * O * OH * OW));
  for (std::int64_t n = 0; n < B; ++n)
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t y = 0; y < OH; ++y)
        for (std::int64_t xx = 0; xx < OW; ++xx) {
          double s = b.empty() ? 0.0 : b[o];
          for (std::int64_t kc = 0; kc < KC; ++kc)
            for (std::int64_t i = 0; i < KH; ++i)
              for (std::int64_t j = 0; j < KW; ++j) {
                const std::int64_t c = depthwise ? o : kc;
                const std::int64_t iy = y * win.stride + i - win.pad_top, ix = xx * win.stride + j - win.pad_left;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += static_cast<double>(x[((n * C + c) * H + iy) * W + ix]) * k[((o * KC + kc) * KH + i) * KW + j];
              }
          out[((n * O + o) * OH + y) * OW + xx] = static_cast<float>(s);
        }
  return Tensor::from_vector(out, {B, O, OH, OW});
}

struct ConvCase {
  Shape in;
  std::int64_t out_c, k;
  ConvWindow win;
};

}  // namespace

TEST_SUITE("classifier") {

TEST_CASE("classifier ops: conv2d_window_forward matches the direct sum (strides, per-side padding)") {
  Rng rng(31);
  const ConvCase cases[] = {
      {{2, 3, 9, 8}, 5, 3, ConvWindow::same(2, 9, 8, 3, 3)},   // TF same: odd rows pad 1/1, even columns 0/1
      {{1, 3, 10, 10}, 6, 3, ConvWindow::symmetric(2, 1)},     // ResNet-D's first stem conv
      {{2, 5, 7, 5}, 7, 3, ConvWindow::symmetric(1, 1)},       // stride 1 symmetric: the shifted-GEMM path
      {{2, 6, 6, 7}, 3, 1, ConvWindow::symmetric(1, 0)},       // 1x1: one GEMM
      {{1, 4, 11, 9}, 5, 7, ConvWindow::symmetric(2, 3)},      // the plain ResNet's 7x7/2 stem
      {{1, 3, 8, 8}, 4, 5, ConvWindow{2, 1, 2, 1, 2}},         // 5x5 same at stride 2 on an even size
      {{1, 2, 6, 6}, 3, 1, ConvWindow::symmetric(2, 0)},       // strided 1x1 (the plain ResNet's shortcut)
  };
  for (const ConvCase& c : cases) {
    CAPTURE(bigcolor::shape_string(c.in));
    const Tensor in = test::random_normal(c.in, rng);
    const Tensor w = test::random_normal({c.out_c, c.in[1], c.k, c.k}, rng);
    for (bool with_bias : {true, false}) {
      const Tensor bias = with_bias ? test::random_normal({c.out_c}, rng) : Tensor{};
      const Tensor ref = reference_conv(in, w, bias, c.win, false);
      const Tensor out = test::poisoned(ref.shape());
      ops::conv2d_window_forward(out, in, w, bias, c.win);
      test::check_close(out, ref, kTolerance, "conv2d_window " + bigcolor::shape_string(c.in));
    }
  }
}

TEST_CASE("classifier ops: depthwise_conv2d_forward matches the direct sum (k3/k5, stride 1/2, same padding)") {
  Rng rng(32);
  // TF "same" at stride 2 on even sizes: k3 pads 0 before and 1 after, k5 pads 1 before and 2 after.
  const ConvWindow k3s2 = ConvWindow::same(2, 8, 6, 3, 3), k5s2 = ConvWindow::same(2, 8, 10, 5, 5);
  CHECK((k3s2.pad_top == 0 && k3s2.pad_bottom == 1 && k3s2.pad_left == 0 && k3s2.pad_right == 1));
  CHECK((k5s2.pad_top == 1 && k5s2.pad_bottom == 2 && k5s2.pad_left == 1 && k5s2.pad_right == 2));
  for (std::int64_t k : {3, 5})
    for (int stride : {1, 2})
      for (const Shape& shape : {Shape{2, 5, 9, 8}, Shape{1, 3, 8, 10}, Shape{3, 2, 7, 5}}) {
        const ConvWindow win = ConvWindow::same(stride, shape[2], shape[3], k, k);
        CAPTURE(k);
        CAPTURE(stride);
        CAPTURE(bigcolor::shape_string(shape));
        const Tensor in = test::random_normal(shape, rng);
        const Tensor w = test::random_normal({shape[1], 1, k, k}, rng);
        const Tensor bias = test::random_normal({shape[1]}, rng);
        const Tensor ref = reference_conv(in, w, bias, win, true);
        const Tensor out = test::poisoned(ref.shape());
        ops::depthwise_conv2d_forward(out, in, w, bias, win);
        test::check_close(out, ref, kTolerance, "depthwise");
      }
}

TEST_CASE("classifier ops: silu and the squeeze-and-excitation gate, also in place") {
  Rng rng(33);
  const Tensor in = test::random_normal({2, 3, 5, 7}, rng), gate = test::random_normal({2, 3}, rng);
  const auto x = in.to_vector(), g = gate.to_vector();
  std::vector<float> silu(x.size()), gated(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    silu[i] = static_cast<float>(x[i] / (1.0 + std::exp(-static_cast<double>(x[i]))));
    gated[i] = static_cast<float>(x[i] / (1.0 + std::exp(-static_cast<double>(g[i / 35]))));
  }
  Tensor out = test::poisoned(in.shape());
  ops::silu_forward(out, in);
  test::check_close(out, Tensor::from_vector(silu, in.shape()), kTolerance, "silu");
  ops::channel_gate_forward(out, in, gate);
  test::check_close(out, Tensor::from_vector(gated, in.shape()), kTolerance, "channel_gate");
  const Tensor inplace = in.clone();
  ops::silu_forward(inplace, inplace);
  test::check_close(inplace, Tensor::from_vector(silu, in.shape()), kTolerance, "silu in place");
  const Tensor inplace2 = in.clone();
  ops::channel_gate_forward(inplace2, inplace2, gate);
  test::check_close(inplace2, Tensor::from_vector(gated, in.shape()), kTolerance, "channel_gate in place");
}

TEST_CASE("classifier ops: max pool 3/2/1 and ceil-mode average pool 2/2 on odd and even sizes") {
  Rng rng(34);
  for (const Shape& shape : {Shape{2, 3, 7, 7}, Shape{1, 2, 8, 6}, Shape{1, 1, 5, 2}, Shape{1, 2, 2, 3}}) {
    CAPTURE(bigcolor::shape_string(shape));
    const Tensor in = test::random_normal(shape, rng);
    const auto x = in.to_vector();
    const std::int64_t planes = shape[0] * shape[1], H = shape[2], W = shape[3];
    // max pool 3x3, stride 2, pad 1: floor((n + 2 − 3)/2) + 1
    const std::int64_t MH = (H - 1) / 2 + 1, MW = (W - 1) / 2 + 1;
    std::vector<float> max_ref;
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t y = 0; y < MH; ++y)
        for (std::int64_t xx = 0; xx < MW; ++xx) {
          float m = -std::numeric_limits<float>::infinity();
          for (std::int64_t i = y * 2 - 1; i <= y * 2 + 1; ++i)
            for (std::int64_t j = xx * 2 - 1; j <= xx * 2 + 1; ++j)
              if (i >= 0 && i < H && j >= 0 && j < W) m = std::max(m, x[(p * H + i) * W + j]);
          max_ref.push_back(m);
        }
    const Tensor max_out = test::poisoned({shape[0], shape[1], MH, MW});
    ops::maxpool2d_forward(max_out, in, 3, 2, 1);
    CHECK(max_out.to_vector() == max_ref);  // a maximum is exact
    // avg pool 2x2/2, ceil mode, divided by the cells inside: ceil((n − 2)/2) + 1 windows
    const std::int64_t AH = (H - 1) / 2 + 1 - (H == 1), AW = (W - 1) / 2 + 1;
    std::vector<float> avg_ref;
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t y = 0; y < AH; ++y)
        for (std::int64_t xx = 0; xx < AW; ++xx) {
          double s = 0;
          int n = 0;
          for (std::int64_t i = 2 * y; i < std::min(2 * y + 2, H); ++i)
            for (std::int64_t j = 2 * xx; j < std::min(2 * xx + 2, W); ++j) s += x[(p * H + i) * W + j], ++n;
          avg_ref.push_back(static_cast<float>(s / n));
        }
    const Tensor avg_out = test::poisoned({shape[0], shape[1], AH, AW});
    ops::avgpool2d_ceil_forward(avg_out, in, 2, 2);
    test::check_close(avg_out, Tensor::from_vector(avg_ref, avg_out.shape()), kTolerance, "avgpool ceil");
  }
}

TEST_CASE("classifier ops: padded average pool, both divisors (Inception's 3/1/1), against the direct loop") {
  Rng rng(35);
  struct Case {
    Shape in;
    int kernel, stride, pad;
  };
  for (const Case& c : {Case{{2, 3, 7, 7}, 3, 1, 1}, Case{{1, 2, 8, 5}, 3, 1, 1}, Case{{1, 1, 1, 1}, 3, 1, 1},
                        Case{{2, 3, 9, 8}, 3, 2, 1}, Case{{1, 2, 11, 10}, 5, 3, 2}, Case{{1, 3, 6, 7}, 3, 2, 0},
                        Case{{1, 2, 4, 2}, 2, 1, 1}}) {
    const std::int64_t planes = c.in[0] * c.in[1], H = c.in[2], W = c.in[3];
    const std::int64_t OH = (H + 2 * c.pad - c.kernel) / c.stride + 1, OW = (W + 2 * c.pad - c.kernel) / c.stride + 1;
    const Tensor in = test::random_normal(c.in, rng);
    const auto x = in.to_vector();
    for (bool include : {false, true}) {
      CAPTURE(bigcolor::shape_string(c.in));
      CAPTURE(c.kernel);
      CAPTURE(c.stride);
      CAPTURE(c.pad);
      CAPTURE(include);
      std::vector<float> ref;
      for (std::int64_t p = 0; p < planes; ++p)
        for (std::int64_t y = 0; y < OH; ++y)
          for (std::int64_t xx = 0; xx < OW; ++xx) {
            double s = 0;
            int n = 0;
            for (std::int64_t i = y * c.stride - c.pad; i < y * c.stride - c.pad + c.kernel; ++i)
              for (std::int64_t j = xx * c.stride - c.pad; j < xx * c.stride - c.pad + c.kernel; ++j)
                if (i >= 0 && i < H && j >= 0 && j < W) s += x[(p * H + i) * W + j], ++n;
            ref.push_back(static_cast<float>(s / (include ? c.kernel * c.kernel : n)));
          }
      const Tensor out = test::poisoned({c.in[0], c.in[1], OH, OW});
      ops::avgpool2d_forward(out, in, c.kernel, c.stride, c.pad, include);
      test::check_close(out, Tensor::from_vector(ref, out.shape()), kTolerance, "avgpool2d_forward");
    }
  }
  // An empty batch is no work; pad over kernel/2 and a wrong output are refused, naming the op.
  ops::avgpool2d_forward(Tensor::zeros({0, 3, 4, 4}), Tensor::zeros({0, 3, 4, 4}), 3, 1, 1, false);
  CHECK_THROWS_WITH_AS(ops::avgpool2d_forward(Tensor::zeros({1, 3, 6, 6}), Tensor::zeros({1, 3, 4, 4}), 3, 1, 2, true),
                       doctest::Contains("avgpool2d_forward: kernel 3, stride 1, pad 2"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(ops::avgpool2d_forward(Tensor::zeros({1, 3, 2, 4}), Tensor::zeros({1, 3, 4, 4}), 3, 1, 1, true),
                       doctest::Contains("avgpool2d_forward: out"), bigcolor::Error);
}

TEST_CASE("classifier ops: shape errors name the op") {
  const Tensor in = Tensor::zeros({1, 3, 8, 8});
  const Tensor w = Tensor::zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH_AS(ops::conv2d_window_forward(Tensor::zeros({1, 4, 8, 8}), in, w, Tensor{},
                                                  ConvWindow::symmetric(2, 1)),
                       doctest::Contains("conv2d_window_forward: out"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(ops::depthwise_conv2d_forward(Tensor::zeros({1, 3, 8, 8}), in, w, Tensor{},
                                                     ConvWindow::symmetric(1, 1)),
                       doctest::Contains("depthwise_conv2d_forward: weight"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(ops::maxpool2d_forward(Tensor::zeros({1, 3, 4, 4}), in, 3, 2, 2),
                       doctest::Contains("maxpool2d_forward"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(ops::channel_gate_forward(in, in, Tensor::zeros({1, 4})),
                       doctest::Contains("channel_gate_forward: gate"), bigcolor::Error);
}

}  // TEST_SUITE("classifier")
