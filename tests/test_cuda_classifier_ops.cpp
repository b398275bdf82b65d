// The CUDA backend against the CPU backend on the classifiers' forward-only ops (kernels/inference_signatures.inc):
// conv2d_window_forward, depthwise_conv2d_forward, silu_forward, channel_gate_forward, maxpool2d_forward and
// avgpool2d_ceil_forward, avgpool2d_forward.
//
// Method, as in test_cuda_vs_cpu.cpp: random inputs are drawn on the CPU (seeded Rng) and copied to the GPU, so both
// backends see the same values; outputs are poisoned with NaN on both devices before the call, so an element a
// kernel forgets to write fails; the GPU result is compared with the CPU's by test::check_close at the project's
// float32 bar, normalized error 1e-5. Shapes are deliberately awkward: batch 3, odd and non-square images (7×5,
// 9×11), channel counts that are no multiples of 4, every padding EfficientNet's TF "same" rule produces (0 before
// and 1 after, 1 and 2, symmetric) and planes larger than one block of the depthwise kernel.
//
// Every TEST_CASE returns at once when no GPU is visible (and the suite is skipped then). The file uses only
// headers of the CPU-only build.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv_window.h"
#include "kernels/ops.h"
#include "op_harness.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "test_util.h"

namespace {

using bigcolor::ConvWindow;
using bigcolor::Device;
using bigcolor::Rng;
using bigcolor::Shape;
using bigcolor::Tensor;
using bigcolor::test::Pair;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-5;  // the project's float32 bar

Pair random_normal(const Shape& shape, Rng& rng) { return test::to_pair(test::random_normal(shape, rng)); }

std::string window_text(const ConvWindow& w) {
  return "stride " + std::to_string(w.stride) + " pad (top " + std::to_string(w.pad_top) + ", bottom " +
         std::to_string(w.pad_bottom) + ", left " + std::to_string(w.pad_left) + ", right " +
         std::to_string(w.pad_right) + ")";
}

// One convolution case: in (B, Cin, H, W), a weight of (Cout, Cin, KH, KW) (conv2d_window) or (C, 1, KH, KW)
// (depthwise), with or without bias. The depthwise kernel is also run twice: a handwritten kernel without atomics
// must give the same bits.
void check_convolution(bool depthwise, const Shape& in_shape, std::int64_t out_channels, std::int64_t kh,
                       std::int64_t kw, const ConvWindow& window, bool with_bias, Rng& rng) {
  const std::int64_t channels = in_shape[1];
  const Shape weight_shape = depthwise ? Shape{channels, 1, kh, kw} : Shape{out_channels, channels, kh, kw};
  const std::int64_t cout = depthwise ? channels : out_channels;
  const Shape out_shape = {in_shape[0], cout, window.out_h(in_shape[2], kh), window.out_w(in_shape[3], kw)};
  const std::string what = std::string(depthwise ? "depthwise_conv2d_forward" : "conv2d_window_forward") + " in " +
                           bigcolor::shape_string(in_shape) + " weight " + bigcolor::shape_string(weight_shape) +
                           " " + window_text(window) + (with_bias ? " with bias" : " without bias");
  CAPTURE(what);
  REQUIRE(out_shape[2] > 0);
  REQUIRE(out_shape[3] > 0);
  const Pair in = random_normal(in_shape, rng);
  const Pair weight = random_normal(weight_shape, rng);
  const Pair bias = with_bias ? random_normal({cout}, rng) : Pair{};
  const Pair out = test::poisoned_pair(out_shape);
  const auto run = [&](const Tensor& o, const Tensor& i, const Tensor& w, const Tensor& b) {
    if (depthwise) {
      ops::depthwise_conv2d_forward(o, i, w, b, window);
    } else {
      ops::conv2d_window_forward(o, i, w, b, window);
    }
  };
  run(out.cpu, in.cpu, weight.cpu, bias.cpu);
  run(out.gpu, in.gpu, weight.gpu, bias.gpu);
  test::check_close(out.gpu, out.cpu, kTolerance, what);
  if (depthwise) {
    const Tensor again = test::poisoned(out_shape, Device::CUDA);
    run(again, in.gpu, weight.gpu, bias.gpu);
    CHECK_MESSAGE(test::bitwise_equal(again, out.gpu), what, " differs on a second run");
  }
}

}  // namespace

TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda conv2d_window_forward matches the CPU") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9101);
  // TF "same" at stride 2 on an even size: 0 before, 1 after on both axes (cuDNN sees an explicitly padded copy).
  check_convolution(false, {3, 5, 8, 10}, 7, 3, 3, ConvWindow::same(2, 8, 10, 3, 3), true, rng);
  // Asymmetric along one axis only, a 5×3 kernel, odd sizes, no bias.
  check_convolution(false, {3, 6, 9, 11}, 5, 5, 3, ConvWindow{2, 1, 2, 1, 1}, false, rng);
  // Symmetric per axis but pad_h ≠ pad_w: cuDNN pads by itself.
  check_convolution(false, {3, 3, 7, 5}, 6, 5, 3, ConvWindow{1, 2, 2, 1, 1}, true, rng);
  // The ResNet-D stem's 3×3 / stride 2 / pad 1 on odd sizes, and on an even one.
  check_convolution(false, {3, 3, 7, 5}, 13, 3, 3, ConvWindow::symmetric(2, 1), true, rng);
  check_convolution(false, {2, 9, 12, 10}, 6, 3, 3, ConvWindow::symmetric(2, 1), false, rng);
  // 1×1 projections: stride 1, and the stride-2 shortcut form.
  check_convolution(false, {3, 10, 7, 5}, 7, 1, 1, ConvWindow::symmetric(1, 0), true, rng);
  check_convolution(false, {3, 10, 9, 11}, 7, 1, 1, ConvWindow::symmetric(2, 0), false, rng);
}

TEST_CASE("cuda depthwise_conv2d_forward matches the CPU") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9102);
  // k3 s1, symmetric pad 1.
  check_convolution(true, {3, 6, 7, 5}, 0, 3, 3, ConvWindow::symmetric(1, 1), true, rng);
  // k3 s2, TF same on even sizes: 0 before, 1 after.
  const ConvWindow k3s2 = ConvWindow::same(2, 8, 6, 3, 3);
  CHECK((k3s2.pad_top == 0 && k3s2.pad_bottom == 1 && k3s2.pad_left == 0 && k3s2.pad_right == 1));
  check_convolution(true, {3, 5, 8, 6}, 0, 3, 3, k3s2, true, rng);
  // k3 s2, TF same on odd sizes (symmetric 1).
  check_convolution(true, {3, 7, 9, 11}, 0, 3, 3, ConvWindow::same(2, 9, 11, 3, 3), false, rng);
  // k5 s2, TF same on even sizes: 1 before, 2 after.
  const ConvWindow k5s2 = ConvWindow::same(2, 8, 10, 5, 5);
  CHECK((k5s2.pad_top == 1 && k5s2.pad_bottom == 2 && k5s2.pad_left == 1 && k5s2.pad_right == 2));
  check_convolution(true, {3, 13, 8, 10}, 0, 5, 5, k5s2, true, rng);
  // k5 s1, pad 2 (TF same at stride 1), odd sizes, no bias.
  check_convolution(true, {3, 6, 9, 11}, 0, 5, 5, ConvWindow::symmetric(1, 2), false, rng);
  // A non-square kernel with unequal per-side pads, and no padding at all.
  check_convolution(true, {3, 5, 7, 5}, 0, 3, 5, ConvWindow{1, 0, 2, 1, 3}, true, rng);
  check_convolution(true, {3, 5, 9, 11}, 0, 3, 3, ConvWindow::symmetric(2, 0), true, rng);
  // Planes of more outputs than one block's threads (28×28 = 784, 3 pixel blocks per plane).
  check_convolution(true, {2, 37, 28, 28}, 0, 3, 3, ConvWindow::symmetric(1, 1), true, rng);
  check_convolution(true, {2, 19, 57, 55}, 0, 5, 5, ConvWindow::same(2, 57, 55, 5, 5), true, rng);
}

TEST_CASE("cuda silu_forward matches the CPU, also in place") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9103);
  for (const Shape& shape : {Shape{3, 5, 7, 5}, Shape{1001}, Shape{3, 7}}) {
    CAPTURE(bigcolor::shape_string(shape));
    const Pair in = random_normal(shape, rng);
    const Pair out = test::poisoned_pair(shape);
    ops::silu_forward(out.cpu, in.cpu);
    ops::silu_forward(out.gpu, in.gpu);
    test::check_close(out.gpu, out.cpu, kTolerance, "silu_forward");
    // out aliases in
    const Tensor x = in.gpu.clone();
    ops::silu_forward(x, x);
    test::check_close(x, out.cpu, kTolerance, "silu_forward in place");
  }
  // Large magnitudes: exp(−x) overflows for x ≪ 0 (the result must be −0, not NaN) and vanishes for x ≫ 0.
  const std::vector<float> values = {-1000.0f, -100.0f, -88.0f, -20.0f, -1.0f, -1e-3f, 0.0f,
                                     1e-3f,    1.0f,    20.0f,  88.0f,  100.0f, 1000.0f};
  const Shape shape = {static_cast<std::int64_t>(values.size())};
  const Pair in = test::to_pair(Tensor::from_vector(values, shape));
  const Pair out = test::poisoned_pair(shape);
  ops::silu_forward(out.cpu, in.cpu);
  ops::silu_forward(out.gpu, in.gpu);
  test::check_close(out.gpu, out.cpu, kTolerance, "silu_forward at large magnitudes");
}

TEST_CASE("cuda channel_gate_forward matches the CPU, also in place") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9104);
  for (const Shape& shape : {Shape{3, 7, 9, 11}, Shape{3, 5, 7, 5}, Shape{2, 13, 1, 1}}) {
    CAPTURE(bigcolor::shape_string(shape));
    const Pair in = random_normal(shape, rng);
    const Pair gate = random_normal({shape[0], shape[1]}, rng);
    const Pair out = test::poisoned_pair(shape);
    ops::channel_gate_forward(out.cpu, in.cpu, gate.cpu);
    ops::channel_gate_forward(out.gpu, in.gpu, gate.gpu);
    test::check_close(out.gpu, out.cpu, kTolerance, "channel_gate_forward");
    // out aliases in
    const Tensor x = in.gpu.clone();
    ops::channel_gate_forward(x, x, gate.gpu);
    test::check_close(x, out.cpu, kTolerance, "channel_gate_forward in place");
  }
}

TEST_CASE("cuda maxpool2d_forward matches the CPU") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9105);
  struct Case {
    Shape in;
    int kernel, stride, pad;
  };
  // ResNet's stem pool (3/2/1) on odd and even sizes, no padding, stride 1 and a 2×2 window.
  for (const Case& c : {Case{{3, 5, 9, 11}, 3, 2, 1}, Case{{3, 6, 8, 10}, 3, 2, 1}, Case{{3, 7, 7, 5}, 3, 2, 1},
                        Case{{2, 5, 9, 8}, 3, 2, 0}, Case{{3, 5, 7, 5}, 3, 1, 1}, Case{{3, 7, 9, 11}, 2, 2, 0},
                        Case{{2, 3, 57, 55}, 3, 2, 1}}) {
    const Shape out_shape = {c.in[0], c.in[1], (c.in[2] + 2 * c.pad - c.kernel) / c.stride + 1,
                             (c.in[3] + 2 * c.pad - c.kernel) / c.stride + 1};
    const std::string what = "maxpool2d_forward in " + bigcolor::shape_string(c.in) + " kernel " +
                             std::to_string(c.kernel) + " stride " + std::to_string(c.stride) + " pad " +
                             std::to_string(c.pad);
    const Pair in = random_normal(c.in, rng);
    const Pair out = test::poisoned_pair(out_shape);
    ops::maxpool2d_forward(out.cpu, in.cpu, c.kernel, c.stride, c.pad);
    ops::maxpool2d_forward(out.gpu, in.gpu, c.kernel, c.stride, c.pad);
    test::check_close(out.gpu, out.cpu, kTolerance, what);
    CHECK_MESSAGE(test::bitwise_equal(out.gpu, out.cpu), what, ": a maximum is a copy of an input");
  }
}

TEST_CASE("cuda avgpool2d_ceil_forward matches the CPU") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9106);
  struct Case {
    Shape in;
    int kernel, stride;
  };
  // ResNet-D's shortcut (2/2) on odd (the last window hangs over: 1 or 2 cells) and even sizes, and 3/2.
  for (const Case& c : {Case{{3, 5, 7, 7}, 2, 2}, Case{{3, 6, 8, 6}, 2, 2}, Case{{3, 7, 9, 11}, 2, 2},
                        Case{{3, 5, 7, 5}, 3, 2}, Case{{2, 3, 8, 10}, 3, 2}, Case{{2, 5, 2, 3}, 2, 2}}) {
    const Shape out_shape = {c.in[0], c.in[1], bigcolor::ceil_mode_pool_size(c.in[2], c.kernel, c.stride),
                             bigcolor::ceil_mode_pool_size(c.in[3], c.kernel, c.stride)};
    const std::string what = "avgpool2d_ceil_forward in " + bigcolor::shape_string(c.in) + " kernel " +
                             std::to_string(c.kernel) + " stride " + std::to_string(c.stride);
    const Pair in = random_normal(c.in, rng);
    const Pair out = test::poisoned_pair(out_shape);
    ops::avgpool2d_ceil_forward(out.cpu, in.cpu, c.kernel, c.stride);
    ops::avgpool2d_ceil_forward(out.gpu, in.gpu, c.kernel, c.stride);
    test::check_close(out.gpu, out.cpu, kTolerance, what);
  }
}

TEST_CASE("cuda avgpool2d_forward matches the CPU, both divisors") {
  if (!bigcolor::cuda_available()) return;
  Rng rng(9107);
  struct Case {
    Shape in;
    int kernel, stride, pad;
  };
  // Inception's 3/1/1 on its sizes (35, 17, 8) and odd ones, a strided padded pool and one without padding.
  for (const Case& c : {Case{{3, 5, 35, 35}, 3, 1, 1}, Case{{2, 7, 17, 17}, 3, 1, 1}, Case{{3, 5, 8, 8}, 3, 1, 1},
                        Case{{3, 5, 7, 5}, 3, 1, 1}, Case{{2, 3, 9, 11}, 3, 2, 1}, Case{{2, 3, 11, 10}, 5, 3, 2},
                        Case{{3, 6, 8, 6}, 3, 2, 0}}) {
    const Shape out_shape = {c.in[0], c.in[1], (c.in[2] + 2 * c.pad - c.kernel) / c.stride + 1,
                             (c.in[3] + 2 * c.pad - c.kernel) / c.stride + 1};
    const Pair in = random_normal(c.in, rng);
    for (bool include : {false, true}) {
      const std::string what = "avgpool2d_forward in " + bigcolor::shape_string(c.in) + " kernel " +
                               std::to_string(c.kernel) + " stride " + std::to_string(c.stride) + " pad " +
                               std::to_string(c.pad) + (include ? " count_include_pad" : " cells inside");
      const Pair out = test::poisoned_pair(out_shape);
      ops::avgpool2d_forward(out.cpu, in.cpu, c.kernel, c.stride, c.pad, include);
      ops::avgpool2d_forward(out.gpu, in.gpu, c.kernel, c.stride, c.pad, include);
      test::check_close(out.gpu, out.cpu, kTolerance, what);
    }
  }
}

}  // TEST_SUITE("cuda")
