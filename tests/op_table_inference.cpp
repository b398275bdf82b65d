// The op table's forward-only entries: the classifiers' ops (kernels/inference_signatures.inc) and the precision
// conversion (kernels/precision_signatures.inc). They have no backward, so no gradient check and no golden file:
// their CPU versions are checked against direct loops in double (tests/test_classifier_ops.cpp, test_convert.cpp);
// the table gives them the CUDA-vs-CPU comparison (test_cuda_vs_cpu.cpp: NaN-poisoned outputs, in place where
// the contract allows it, bitwise determinism where a kernel promises it) and the op benchmarks
// (bench_op_table.cpp), at awkward shapes and at EfficientNet-B0 / ResNet-D / Inception layer shapes.
#include "kernels/ops.h"
#include "op_table.h"
#include "test_util.h"

namespace bigcolor::test {

namespace {

using Cases = std::vector<OpCase>;

// "s2 pad 0,1,0,1", built with += (GCC 12's -Wrestrict false positive on chained + of temporaries).
std::string window_text(const ConvWindow& w) {
  std::string s = "s";
  for (int v : {w.stride, w.pad_top, w.pad_bottom, w.pad_left, w.pad_right}) {
    s += std::to_string(v);
    s += s.size() == 2 ? " pad " : ",";
  }
  s.pop_back();
  return s;
}

OpCase forward_only(const std::string& name, const Shape& out_shape) {
  OpCase c;
  c.name = name;
  c.t["out"] = Tensor::empty(out_shape);
  c.outputs = {"out"};
  return c;
}

// conv2d_window (weight (Cout, Cin, KH, KW)) or depthwise (weight (C, 1, KH, KW)).
OpCase conv_case(bool depthwise, const Shape& in, std::int64_t out_c, std::int64_t kh, std::int64_t kw,
                 const ConvWindow& win, bool bias, Rng& rng) {
  const std::int64_t cout = depthwise ? in[1] : out_c;
  std::string name = depthwise ? "depthwise_conv2d " : "conv2d_window ";
  name += shape_string(in);
  name += " k";
  name += std::to_string(kh);
  name += "x";
  name += std::to_string(kw);
  name += " ";
  name += window_text(win);
  if (!bias) name += " nobias";
  OpCase c = forward_only(name, {in[0], cout, win.out_h(in[2], kh), win.out_w(in[3], kw)});
  c.t["in"] = random_normal(in, rng);
  c.t["weight"] = random_normal(depthwise ? Shape{in[1], 1, kh, kw} : Shape{out_c, in[1], kh, kw}, rng);
  if (bias) c.t["bias"] = random_normal({cout}, rng);
  c.forward = [depthwise, win](const Tensors& t) {
    if (depthwise)
      ops::depthwise_conv2d_forward(t.at("out"), t.at("in"), t.at("weight"), get(t, "bias"), win);
    else
      ops::conv2d_window_forward(t.at("out"), t.at("in"), t.at("weight"), get(t, "bias"), win);
  };
  c.deterministic = depthwise;  // a handwritten kernel without atomics: the same bits every run
  return c;
}

OpCase silu_case(const Tensor& in) {
  OpCase c = forward_only("silu " + shape_string(in.shape()), in.shape());
  c.t["in"] = in;
  c.forward = [](const Tensors& t) { ops::silu_forward(t.at("out"), t.at("in")); };
  c.in_place = {{"out", "in"}};
  return c;
}

OpCase gate_case(const Shape& in, Rng& rng) {
  OpCase c = forward_only("channel_gate " + shape_string(in), in);
  c.t["in"] = random_normal(in, rng);
  c.t["gate"] = random_normal({in[0], in[1]}, rng);
  c.forward = [](const Tensors& t) { ops::channel_gate_forward(t.at("out"), t.at("in"), t.at("gate")); };
  c.in_place = {{"out", "in"}};
  return c;
}

OpCase maxpool_case(const Shape& in, int kernel, int stride, int pad, Rng& rng) {
  OpCase c = forward_only("maxpool2d " + shape_string(in) + " k" + std::to_string(kernel) + " s" +
                              std::to_string(stride) + " p" + std::to_string(pad),
                          {in[0], in[1], (in[2] + 2 * pad - kernel) / stride + 1, (in[3] + 2 * pad - kernel) / stride + 1});
  c.t["in"] = random_normal(in, rng);
  c.forward = [=](const Tensors& t) { ops::maxpool2d_forward(t.at("out"), t.at("in"), kernel, stride, pad); };
  c.tolerance = 0.0;  // a maximum is a copy of an input: bit for bit
  c.deterministic = true;
  return c;
}

OpCase avgpool_ceil_case(const Shape& in, int kernel, int stride, Rng& rng) {
  OpCase c = forward_only("avgpool2d_ceil " + shape_string(in) + " k" + std::to_string(kernel) + " s" +
                              std::to_string(stride),
                          {in[0], in[1], ceil_mode_pool_size(in[2], kernel, stride),
                           ceil_mode_pool_size(in[3], kernel, stride)});
  c.t["in"] = random_normal(in, rng);
  c.forward = [=](const Tensors& t) { ops::avgpool2d_ceil_forward(t.at("out"), t.at("in"), kernel, stride); };
  return c;
}

OpCase avgpool_case(const Shape& in, int kernel, int stride, int pad, bool include, Rng& rng) {
  OpCase c = forward_only("avgpool2d " + shape_string(in) + " k" + std::to_string(kernel) + " s" +
                              std::to_string(stride) + " p" + std::to_string(pad) + (include ? " incl" : " excl"),
                          {in[0], in[1], (in[2] + 2 * pad - kernel) / stride + 1, (in[3] + 2 * pad - kernel) / stride + 1});
  c.t["in"] = random_normal(in, rng);
  c.forward = [=](const Tensors& t) {
    ops::avgpool2d_forward(t.at("out"), t.at("in"), kernel, stride, pad, include);
  };
  return c;
}

// F32 -> F16 or BF16 -> F32: both directions of ops::convert, compared bit for bit (the rounding is exact
// arithmetic, the same on both devices).
OpCase convert_case(DType narrow, const Tensor& in) {
  OpCase c = forward_only(std::string("convert ") + dtype_name(narrow) + " " + shape_string(in.shape()), in.shape());
  c.t["in"] = in;
  c.forward = [narrow](const Tensors& t) {
    const Tensor mid = Tensor::empty(t.at("in").shape(), narrow, t.at("in").device());
    ops::convert(mid, t.at("in"));
    ops::convert(t.at("out"), mid);
  };
  c.tolerance = 0.0;
  c.deterministic = true;
  return c;
}

// Values across the float32 range, with large magnitudes (F16 overflow, SiLU's exp overflow) and tiny ones.
Tensor wide_values(Rng& rng, std::int64_t n) {
  std::vector<float> v = random_normal({n}, rng).to_vector();
  const float extremes[] = {-1000.0f, -100.0f, -88.0f, -20.0f, -1e-3f, 0.0f, 1e-3f, 20.0f, 88.0f, 100.0f, 1000.0f,
                            65504.0f, 65520.0f, 1e-6f, 3e-8f, -7e4f};
  for (std::size_t i = 0; i < std::size(extremes) && i < v.size(); ++i) v[i] = extremes[i];
  for (std::size_t i = std::size(extremes); i < v.size(); i += 7) v[i] *= 1e4f;
  return Tensor::from_vector(v, {n});
}

}  // namespace

std::vector<OpEntry> inference_op_entries() {
  std::vector<OpEntry> e;
  e.push_back({"conv2d_window", {}, [](Rng& rng) {
                 return Cases{
                     // TF "same" at stride 2 on an even size: 0 before, 1 after (cuDNN sees a padded copy)
                     conv_case(false, {3, 5, 8, 10}, 7, 3, 3, ConvWindow::same(2, 8, 10, 3, 3), true, rng),
                     conv_case(false, {3, 6, 9, 11}, 5, 5, 3, ConvWindow{2, 1, 2, 1, 1}, false, rng),
                     conv_case(false, {3, 3, 7, 5}, 6, 5, 3, ConvWindow{1, 2, 2, 1, 1}, true, rng),  // pad_h ≠ pad_w
                     conv_case(false, {3, 3, 7, 5}, 13, 3, 3, ConvWindow::symmetric(2, 1), true, rng),
                     conv_case(false, {3, 10, 7, 5}, 7, 1, 1, ConvWindow::symmetric(1, 0), true, rng),
                     conv_case(false, {3, 10, 9, 11}, 7, 1, 1, ConvWindow::symmetric(2, 0), false, rng),
                     conv_case(false, {2, 4, 9, 7}, 6, 1, 7, ConvWindow{1, 0, 0, 3, 3}, true, rng),  // Inception 1x7
                     // real layer shapes: the B0 stem (224² -> 112², TF same) and ResNet-D's first stem conv
                     conv_case(false, {1, 3, 224, 224}, 32, 3, 3, ConvWindow::same(2, 224, 224, 3, 3), false, rng),
                     conv_case(false, {1, 3, 224, 224}, 32, 3, 3, ConvWindow::symmetric(2, 1), false, rng)};
               }, 0, 9101});
  e.push_back({"depthwise_conv2d", {}, [](Rng& rng) {
                 return Cases{
                     conv_case(true, {3, 6, 7, 5}, 0, 3, 3, ConvWindow::symmetric(1, 1), true, rng),
                     conv_case(true, {3, 5, 8, 6}, 0, 3, 3, ConvWindow::same(2, 8, 6, 3, 3), true, rng),
                     conv_case(true, {3, 7, 9, 11}, 0, 3, 3, ConvWindow::same(2, 9, 11, 3, 3), false, rng),
                     conv_case(true, {3, 13, 8, 10}, 0, 5, 5, ConvWindow::same(2, 8, 10, 5, 5), true, rng),
                     conv_case(true, {3, 6, 9, 11}, 0, 5, 5, ConvWindow::symmetric(1, 2), false, rng),
                     conv_case(true, {3, 5, 7, 5}, 0, 3, 5, ConvWindow{1, 0, 2, 1, 3}, true, rng),
                     conv_case(true, {3, 5, 9, 11}, 0, 3, 3, ConvWindow::symmetric(2, 0), true, rng),
                     conv_case(true, {2, 37, 28, 28}, 0, 3, 3, ConvWindow::symmetric(1, 1), true, rng),
                     conv_case(true, {2, 19, 57, 55}, 0, 5, 5, ConvWindow::same(2, 57, 55, 5, 5), true, rng),
                     // B0's blocks.1.0 (96 channels, 112² -> 56², k3 s2) and blocks.2.0 (144, 56² -> 28², k5 s2)
                     conv_case(true, {1, 96, 112, 112}, 0, 3, 3, ConvWindow::same(2, 112, 112, 3, 3), true, rng),
                     conv_case(true, {1, 144, 56, 56}, 0, 5, 5, ConvWindow::same(2, 56, 56, 5, 5), true, rng)};
               }, 0, 9102});
  e.push_back({"silu", {}, [](Rng& rng) {
                 return Cases{silu_case(random_normal({3, 5, 7, 5}, rng)), silu_case(random_normal({1001}, rng)),
                              silu_case(wide_values(rng, 257))};
               }, 0, 9103});
  e.push_back({"channel_gate", {}, [](Rng& rng) {
                 return Cases{gate_case({3, 7, 9, 11}, rng), gate_case({3, 5, 7, 5}, rng), gate_case({2, 13, 1, 1}, rng),
                              gate_case({1, 96, 56, 56}, rng)};
               }, 0, 9104});
  e.push_back({"maxpool2d", {}, [](Rng& rng) {
                 return Cases{maxpool_case({3, 5, 9, 11}, 3, 2, 1, rng), maxpool_case({3, 6, 8, 10}, 3, 2, 1, rng),
                              maxpool_case({3, 7, 7, 5}, 3, 2, 1, rng), maxpool_case({2, 5, 9, 8}, 3, 2, 0, rng),
                              maxpool_case({3, 5, 7, 5}, 3, 1, 1, rng), maxpool_case({3, 7, 9, 11}, 2, 2, 0, rng),
                              maxpool_case({1, 64, 112, 112}, 3, 2, 1, rng)};  // ResNet-D's stem pool
               }, 0, 9105});
  e.push_back({"avgpool2d_ceil", {}, [](Rng& rng) {
                 return Cases{avgpool_ceil_case({3, 5, 7, 7}, 2, 2, rng), avgpool_ceil_case({3, 6, 8, 6}, 2, 2, rng),
                              avgpool_ceil_case({3, 7, 9, 11}, 2, 2, rng), avgpool_ceil_case({3, 5, 7, 5}, 3, 2, rng),
                              avgpool_ceil_case({2, 3, 8, 10}, 3, 2, rng), avgpool_ceil_case({2, 5, 2, 3}, 2, 2, rng),
                              avgpool_ceil_case({1, 256, 56, 56}, 2, 2, rng)};  // ResNet-D layer2's shortcut
               }, 0, 9106});
  e.push_back({"avgpool2d", {}, [](Rng& rng) {
                 Cases c;
                 for (bool include : {false, true}) {
                   c.push_back(avgpool_case({3, 5, 35, 35}, 3, 1, 1, include, rng));
                   c.push_back(avgpool_case({2, 7, 17, 17}, 3, 1, 1, include, rng));
                   c.push_back(avgpool_case({3, 5, 7, 5}, 3, 1, 1, include, rng));
                   c.push_back(avgpool_case({2, 3, 9, 11}, 3, 2, 1, include, rng));
                   c.push_back(avgpool_case({2, 3, 11, 10}, 5, 3, 2, include, rng));
                   c.push_back(avgpool_case({3, 6, 8, 6}, 3, 2, 0, include, rng));
                 }
                 c.push_back(avgpool_case({1, 192, 35, 35}, 3, 1, 1, false, rng));  // Inception's Mixed_5b pool
                 return c;
               }, 0, 9107});
  e.push_back({"convert", {}, [](Rng& rng) {
                 return Cases{convert_case(DType::F16, wide_values(rng, 4099)),
                              convert_case(DType::BF16, wide_values(rng, 4099)),
                              convert_case(DType::BF16, random_normal({8, 96, 56, 56}, rng))};
               }, 0, 9108});
  return e;
}

}  // namespace bigcolor::test
