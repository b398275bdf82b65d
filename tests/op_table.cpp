// The primitive ops of op_signatures.inc in the op table (op_table.h): one builder per op, the small shapes of the
// gradient check and the awkward shapes of the CUDA comparison (batch 3, 7×5 images, channel counts that are not
// multiples of 4, odd pooling sizes, every transpose combination, rows long enough for the multi-pass reductions).
#include "op_table.h"

#include <cmath>
#include <string>
#include <utility>

#include "kernels/ops.h"
#include "op_table_builders.h"
#include "test_util.h"

namespace bigcolor::test {

Tensor get(const Tensors& t, const std::string& name) {
  const auto it = t.find(name);
  return it == t.end() ? Tensor{} : it->second;
}

namespace {

namespace ops = bigcolor::ops;

void output(OpCase& c, const std::string& name, const Shape& shape) { c.t[name] = Tensor::empty(shape); c.outputs.push_back(name); }

// A gradient buffer shaped like the input it belongs to.
void grad(OpCase& c, const std::string& name, const std::string& input, bool accumulates) {
  c.t[name] = Tensor::empty(c.t.at(input).shape());
  c.grads.push_back({name, input, accumulates});
}

// Sets "d_out" (shaped like the loss output) once the outputs exist.
void finish(OpCase& c) { c.t["d_out"] = Tensor::empty(c.t.at(c.outputs.at(0)).shape()); }

// Values away from 0 (|x| >= margin), for relu: |h·v| <= 0.01 then never crosses the kink.
Tensor away_from_zero(const Shape& shape, Rng& rng, float margin) {
  std::vector<float> v = random_normal(shape, rng).to_vector();
  for (float& x : v) x = (x >= 0.0f ? 1.0f : -1.0f) * (margin + std::abs(x));
  return Tensor::from_vector(v, shape);
}

// Distinct values on a grid of step `gap`, shuffled: no two elements (so no two in a pooling window) are closer
// than `gap`, so perturbations smaller than gap/2 never change a window's argmax.
Tensor distinct_values(const Shape& shape, Rng& rng, float gap) {
  const auto n = static_cast<std::size_t>(shape_numel(shape));
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = gap * (static_cast<float>(i) - 0.5f * static_cast<float>(n));
  for (std::size_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.next_u32() % (i + 1)]);
  return Tensor::from_vector(v, shape);
}

}  // namespace

// ---- builders (op_table_builders.h) -------------------------------------------------------------------------------

// in (B, Cin, H, W), weight (Cout, Cin, KH, KW), bias (Cout) -> out (B, Cout, H + 2p − KH + 1, W + 2p − KW + 1).
OpCase conv2d_op(const Tensor& in, const Tensor& weight, const Tensor& bias, int padding, bool want_d_in,
                 bool want_d_weight) {
  const Shape s = in.shape(), k = weight.shape();
  const bool has_bias = bias.defined();
  OpCase c;
  c.name = "conv2d in " + shape_string(s) + " weight " + shape_string(k) + " pad " + std::to_string(padding) +
           (has_bias ? "" : " no bias") + (want_d_in ? "" : " no d_in") + (want_d_weight ? "" : " no d_weight");
  c.h = 0.1;  // linear in each argument: the difference is exact up to rounding
  c.t["in"] = in;
  c.t["weight"] = weight;
  if (has_bias) c.t["bias"] = bias;
  output(c, "out", {s[0], k[0], s[2] + 2 * padding - k[2] + 1, s[3] + 2 * padding - k[3] + 1});
  if (want_d_in) grad(c, "d_in", "in", false);
  if (want_d_weight) grad(c, "d_weight", "weight", true);
  if (has_bias) grad(c, "d_bias", "bias", true);
  c.forward = [padding](const Tensors& t) {
    ops::conv2d_forward(t.at("out"), t.at("in"), t.at("weight"), get(t, "bias"), padding);
  };
  c.backward = [padding](const Tensors& t) {
    ops::conv2d_backward(get(t, "d_in"), get(t, "d_weight"), get(t, "d_bias"), t.at("d_out"), t.at("in"),
                         t.at("weight"), padding);
  };
  finish(c);
  return c;
}

namespace {

OpCase conv2d_case(Rng& rng, std::int64_t b, std::int64_t cin, std::int64_t h, std::int64_t w, std::int64_t cout,
                   std::int64_t kh, std::int64_t kw, int padding, bool bias, bool want_d_in = true,
                   bool want_d_weight = true) {
  const Tensor in = random_normal({b, cin, h, w}, rng);
  const Tensor weight = random_normal({cout, cin, kh, kw}, rng);
  return conv2d_op(in, weight, bias ? random_normal({cout}, rng) : Tensor{}, padding, want_d_in, want_d_weight);
}

}  // namespace

// table (V, D), indices (N) I32 -> out (N, D).
OpCase embedding_op(const Tensor& table, const Tensor& indices) {
  OpCase c;
  const std::int64_t rows = indices.numel(), dim = table.shape()[1];
  c.name = "embedding (" + std::to_string(table.shape()[0]) + ", " + std::to_string(dim) + ") rows " +
           std::to_string(rows);
  c.h = 0.1;
  c.t["table"] = table;
  c.t["indices"] = indices;
  output(c, "out", {rows, dim});
  grad(c, "d_table", "table", true);
  c.forward = [](const Tensors& t) { ops::embedding_forward(t.at("out"), t.at("table"), t.at("indices")); };
  c.backward = [](const Tensors& t) { ops::embedding_backward(t.at("d_table"), t.at("d_out"), t.at("indices")); };
  finish(c);
  return c;
}

namespace {

OpCase embedding_case(Rng& rng, std::int64_t vocabulary, std::int64_t dim, const std::vector<std::int32_t>& ids) {
  const Tensor table = random_normal({vocabulary, dim}, rng);
  return embedding_op(table, Tensor::from_indices(ids, {static_cast<std::int64_t>(ids.size())}));
}

}  // namespace

// a (B, M, K) or (B, K, M) if trans_a, b (B, K, N) or (B, N, K) if trans_b -> out (B, M, N).
OpCase bmm_op(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const std::int64_t batch = a.shape()[0], m = a.shape()[trans_a ? 2 : 1], k = a.shape()[trans_a ? 1 : 2],
                     n = b.shape()[trans_b ? 1 : 2];
  OpCase c;
  c.name = std::string("bmm (") + std::to_string(batch) + ", " + std::to_string(m) + ", " + std::to_string(k) +
           ", " + std::to_string(n) + ") trans_a=" + (trans_a ? "1" : "0") + " trans_b=" + (trans_b ? "1" : "0");
  c.h = 0.1;
  c.t["a"] = a;
  c.t["b"] = b;
  output(c, "out", {batch, m, n});
  grad(c, "d_a", "a", false);
  grad(c, "d_b", "b", false);
  c.forward = [=](const Tensors& t) { ops::bmm_forward(t.at("out"), t.at("a"), t.at("b"), trans_a, trans_b); };
  c.backward = [=](const Tensors& t) {
    ops::bmm_backward(get(t, "d_a"), get(t, "d_b"), t.at("d_out"), t.at("a"), t.at("b"), trans_a, trans_b);
  };
  c.partials = {{{"d_b"}, false}};  // one gradient at a time: the other undefined = not wanted
  finish(c);
  return c;
}

namespace {

OpCase bmm_case(Rng& rng, std::int64_t batch, std::int64_t m, std::int64_t k, std::int64_t n, bool trans_a,
                bool trans_b) {
  const Tensor a = random_normal(trans_a ? Shape{batch, k, m} : Shape{batch, m, k}, rng);
  return bmm_op(a, random_normal(trans_b ? Shape{batch, n, k} : Shape{batch, k, n}, rng), trans_a, trans_b);
}

}  // namespace

namespace {

// A one-input op whose backward takes (d_in, d_out, <saved>), <saved> = the forward's out, its in, or nothing.
enum class Saved { Out, In, Nothing };
using Unary = std::function<void(const Tensor&, const Tensor&)>;
using UnaryBackward = std::function<void(const Tensor&, const Tensor&, const Tensor&)>;

OpCase unary_case(const std::string& name, const Tensor& in, const Shape& out_shape, Unary forward,
                  UnaryBackward backward, Saved saved, double h) {
  OpCase c;
  c.name = name + " " + shape_string(in.shape());
  c.h = h;
  c.t["in"] = in;
  output(c, "out", out_shape);
  grad(c, "d_in", "in", false);
  c.forward = [forward](const Tensors& t) { forward(t.at("out"), t.at("in")); };
  c.backward = [backward, saved](const Tensors& t) {
    backward(t.at("d_in"), t.at("d_out"), saved == Saved::Out ? t.at("out") : saved == Saved::In ? t.at("in") : Tensor{});
  };
  finish(c);
  return c;
}

UnaryBackward without_saved(std::function<void(const Tensor&, const Tensor&)> backward) {
  return [backward](const Tensor& d_in, const Tensor& d_out, const Tensor&) { backward(d_in, d_out); };
}

}  // namespace

OpCase softmax_case(const Tensor& in) {
  return unary_case("softmax", in, in.shape(), ops::softmax_forward, ops::softmax_backward, Saved::Out, 1e-2);
}
OpCase relu_case(const Tensor& in) {
  return unary_case("relu", in, in.shape(), ops::relu_forward, ops::relu_backward, Saved::Out, 1e-2);
}
OpCase scale_case(const Tensor& in, float factor) {
  return unary_case(
      "scale " + std::to_string(factor), in, in.shape(),
      [factor](const Tensor& out, const Tensor& x) { ops::scale_forward(out, x, factor); },
      without_saved([factor](const Tensor& d_in, const Tensor& d_out) { ops::scale_backward(d_in, d_out, factor); }),
      Saved::Nothing, 0.1);
}
OpCase upsample_case(const Tensor& in) {
  const Shape s = in.shape();
  return unary_case("upsample_nearest2x", in, {s[0], s[1], 2 * s[2], 2 * s[3]}, ops::upsample_nearest2x_forward,
                    without_saved(ops::upsample_nearest2x_backward), Saved::Nothing, 0.1);
}
OpCase rgb_to_ab_case(const Tensor& in) {
  const Shape s = in.shape();
  return unary_case("rgb_to_ab", in, {s[0], 2, s[2], s[3]}, ops::rgb_to_ab_forward, ops::rgb_to_ab_backward,
                    Saved::In, 1e-3);
}
namespace {
Shape pooled(const Shape& s) { return {s[0], s[1], s[2] / 2, s[3] / 2}; }
}  // namespace
OpCase avgpool_case(const Tensor& in) {
  return unary_case("avgpool2x2", in, pooled(in.shape()), ops::avgpool2x2_forward,
                    without_saved(ops::avgpool2x2_backward), Saved::Nothing, 0.1);
}
OpCase maxpool_case(const Tensor& in) {
  return unary_case("maxpool2x2", in, pooled(in.shape()), ops::maxpool2x2_forward, ops::maxpool2x2_backward,
                    Saved::In, 1e-2);
}
OpCase reduce_case(bool mean, const Tensor& in, const Shape& out_shape) {
  OpCase c = mean ? unary_case("mean", in, out_shape, ops::mean_forward, without_saved(ops::mean_backward),
                               Saved::Nothing, 0.1)
                  : unary_case("sum", in, out_shape, ops::sum_forward, without_saved(ops::sum_backward),
                               Saved::Nothing, 0.1);
  c.name += " to " + shape_string(out_shape);
  return c;
}

namespace {

// A two-input op on equal shapes: add, mul, mse_loss (out (1)).
OpCase binary_case(const std::string& name, const Tensor& a, const Tensor& b, const Shape& out_shape,
                   std::function<void(const Tensors&)> forward, std::function<void(const Tensors&)> backward,
                   double h) {
  OpCase c;
  c.name = name + " " + shape_string(a.shape());
  c.h = h;
  c.t["a"] = a;
  c.t["b"] = b;
  output(c, "out", out_shape);
  grad(c, "d_a", "a", false);
  grad(c, "d_b", "b", false);
  c.forward = std::move(forward);
  c.backward = std::move(backward);
  finish(c);
  return c;
}

}  // namespace

OpCase add_case(const Tensor& a, const Tensor& b) {
  OpCase c = binary_case(
      "add", a, b, a.shape(), [](const Tensors& t) { ops::add_forward(t.at("out"), t.at("a"), t.at("b")); },
      [](const Tensors& t) { ops::add_backward(get(t, "d_a"), get(t, "d_b"), t.at("d_out")); }, 0.1);
  c.partials = {{{"d_b"}, false}};
  return c;
}
OpCase mul_case(const Tensor& a, const Tensor& b) {
  OpCase c = binary_case(
      "mul", a, b, a.shape(), [](const Tensors& t) { ops::mul_forward(t.at("out"), t.at("a"), t.at("b")); },
      [](const Tensors& t) { ops::mul_backward(get(t, "d_a"), get(t, "d_b"), t.at("d_out"), t.at("a"), t.at("b")); },
      0.1);
  c.partials = {{{"d_a"}, false}};
  return c;
}
OpCase mse_case(const Tensor& a, const Tensor& b) {
  return binary_case(
      "mse_loss", a, b, {1}, [](const Tensors& t) { ops::mse_loss_forward(t.at("out"), t.at("a"), t.at("b")); },
      [](const Tensors& t) {
        ops::mse_loss_backward(get(t, "d_a"), get(t, "d_b"), t.at("d_out"), t.at("a"), t.at("b"));
      },
      0.1);
}

OpCase l1_case(const Tensor& a, const Tensor& b) {
  return binary_case(
      "l1_loss", a, b, {1}, [](const Tensors& t) { ops::l1_loss_forward(t.at("out"), t.at("a"), t.at("b")); },
      [](const Tensors& t) {
        ops::l1_loss_backward(get(t, "d_a"), get(t, "d_b"), t.at("d_out"), t.at("a"), t.at("b"));
      },
      0.1);
}

// b = a ± (0.3 … 1.3) elementwise: every |a − b| is at least 0.3, so the finite differences (steps of 0.1) never
// cross the L1 loss's kink at a = b, where it has no derivative.
Tensor away_from(const Tensor& a, Rng& rng) {
  std::vector<float> b = a.to_vector();
  const std::vector<float> offset = random_uniform(a.shape(), rng, 0.3f, 1.3f).to_vector();
  const std::vector<float> sign = random_uniform(a.shape(), rng, -1.0f, 1.0f).to_vector();
  for (std::size_t i = 0; i < b.size(); ++i) b[i] += sign[i] < 0.0f ? -offset[i] : offset[i];
  return Tensor::from_vector(b, a.shape());
}

// Batch norm over (B, C) or (B, C, H, W); every forward starts from the same running statistics (running_*0), so
// repeated evaluations (finite differences, the determinism re-run) see the same update.
OpCase batchnorm_op(const Tensor& in, const Tensor& weight, const Tensor& bias, const Tensor& running_mean0,
                    const Tensor& running_var0, bool training, float momentum, float eps) {
  const Shape shape = in.shape();
  const Shape channels{shape[1]};
  const bool affine = weight.defined();
  OpCase c;
  c.name = "batchnorm " + shape_string(shape) + (affine ? " affine" : " no affine") + (training ? " training" : " eval");
  c.h = 1e-2;
  c.t["in"] = in;
  if (affine) {
    c.t["weight"] = weight;
    c.t["bias"] = bias;
  }
  c.t["running_mean0"] = running_mean0;
  c.t["running_var0"] = running_var0;
  c.t["running_mean"] = Tensor::empty(channels);
  c.t["running_var"] = Tensor::empty(channels);
  output(c, "out", shape);
  output(c, "saved_mean", channels);
  output(c, "saved_invstd", channels);
  c.state = {"running_mean", "running_var"};
  grad(c, "d_in", "in", false);
  if (affine) {
    grad(c, "d_weight", "weight", true);
    grad(c, "d_bias", "bias", true);
  }
  c.forward = [training, momentum, eps](const Tensors& t) {
    t.at("running_mean").copy_from(t.at("running_mean0"));
    t.at("running_var").copy_from(t.at("running_var0"));
    ops::batchnorm_forward(t.at("out"), t.at("saved_mean"), t.at("saved_invstd"), t.at("running_mean"),
                           t.at("running_var"), t.at("in"), get(t, "weight"), get(t, "bias"), training, momentum, eps);
  };
  c.backward = [training](const Tensors& t) {
    ops::batchnorm_backward(get(t, "d_in"), get(t, "d_weight"), get(t, "d_bias"), t.at("d_out"), t.at("in"),
                            get(t, "weight"), t.at("saved_mean"), t.at("saved_invstd"), training);
  };
  c.backward_from_cpu_forward = true;  // both backends get the statistics the CPU saved
  finish(c);
  return c;
}

namespace {

OpCase batchnorm_case(const Tensor& in, Rng& rng, bool affine, bool training, float running_var_high) {
  const Shape channels{in.shape()[1]};
  const Tensor weight = affine ? random_uniform(channels, rng, 0.5f, 1.5f) : Tensor{};
  const Tensor bias = affine ? random_normal(channels, rng) : Tensor{};
  const Tensor running_mean0 = random_normal(channels, rng);
  const Tensor running_var0 = random_uniform(channels, rng, 0.5f, running_var_high);
  return batchnorm_op(in, weight, bias, running_mean0, running_var0, training, 0.1f, 1e-5f);
}

// Per-channel offset and scale so the statistics are not (0, 1).
Tensor channel_spread(const Shape& shape, Rng& rng) {
  const std::int64_t channels = shape[1];
  std::vector<float> x = random_normal(shape, rng).to_vector();
  const std::vector<float> offset = random_normal({channels}, rng).to_vector();
  const std::vector<float> spread = random_uniform({channels}, rng, 0.5f, 2.0f).to_vector();
  std::int64_t inner = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  for (std::size_t j = 0; j < x.size(); ++j) {
    const auto ch = static_cast<std::size_t>((static_cast<std::int64_t>(j) / inner) % channels);
    x[j] = offset[ch] + spread[ch] * x[j];
  }
  return Tensor::from_vector(x, shape);
}

}  // namespace

// in (B, I), weight (O, I), bias (O) -> out (B, O).
OpCase linear_op(const Tensor& in, const Tensor& weight, const Tensor& bias, bool want_d_in) {
  const std::int64_t b = in.shape()[0], i = in.shape()[1], o = weight.shape()[0];
  const bool has_bias = bias.defined();
  OpCase c;
  c.name = "linear (" + std::to_string(b) + ", " + std::to_string(i) + ") -> " + std::to_string(o) +
           (has_bias ? "" : " no bias") + (want_d_in ? "" : " no d_in");
  c.h = 0.1;
  c.t["in"] = in;
  c.t["weight"] = weight;
  if (has_bias) c.t["bias"] = bias;
  output(c, "out", {b, o});
  if (want_d_in) grad(c, "d_in", "in", false);
  grad(c, "d_weight", "weight", true);
  if (has_bias) grad(c, "d_bias", "bias", true);
  c.forward = [](const Tensors& t) { ops::linear_forward(t.at("out"), t.at("in"), t.at("weight"), get(t, "bias")); };
  c.backward = [](const Tensors& t) {
    ops::linear_backward(get(t, "d_in"), get(t, "d_weight"), get(t, "d_bias"), t.at("d_out"), t.at("in"),
                         t.at("weight"));
  };
  finish(c);
  return c;
}

OpCase linear_case(Rng& rng, std::int64_t b, std::int64_t i, std::int64_t o, bool bias, bool want_d_in) {
  const Tensor in = random_normal({b, i}, rng);
  const Tensor weight = random_normal({o, i}, rng);
  return linear_op(in, weight, bias ? random_normal({o}, rng) : Tensor{}, want_d_in);
}

OpCase tanh_case(const Tensor& in) {
  return unary_case("tanh", in, in.shape(), ops::tanh_forward, ops::tanh_backward, Saved::Out, 1e-2);
}

OpCase batchnorm_gradcheck_case(Rng& rng, const Shape& shape, bool affine, bool training) {
  const Tensor in = channel_spread(shape, rng);
  return batchnorm_case(in, rng, affine, training, 2.0f);
}

std::vector<OpEntry> primitive_op_entries() {
  using Cases = std::vector<OpCase>;
  std::vector<OpEntry> e;
  e.push_back({"conv2d",
               [](Rng& rng) {
                 return Cases{conv2d_case(rng, 2, 3, 5, 4, 4, 3, 3, 1, true), conv2d_case(rng, 2, 3, 5, 4, 5, 1, 1, 0, false),
                              conv2d_case(rng, 1, 2, 5, 4, 3, 5, 5, 2, true), conv2d_case(rng, 3, 5, 6, 5, 2, 3, 3, 0, true)};
               },
               [](Rng& rng) {
                 // All reductions are at most a few hundred terms (B·Ho·Wo ≤ 442 for d_weight): 1e-5 holds.
                 return Cases{conv2d_case(rng, 3, 5, 7, 5, 6, 3, 3, 1, true),    // 3×3, same size
                              conv2d_case(rng, 3, 5, 7, 5, 6, 1, 1, 0, true),    // 1×1
                              conv2d_case(rng, 3, 5, 7, 5, 6, 5, 5, 2, true),    // 5×5, same size
                              conv2d_case(rng, 3, 5, 7, 5, 6, 3, 3, 0, false),   // shrinking, no bias
                              conv2d_case(rng, 3, 3, 7, 5, 7, 3, 1, 1, true),    // non-square kernel
                              conv2d_case(rng, 3, 5, 7, 5, 6, 3, 3, 1, true, false, true),    // d_in not wanted
                              conv2d_case(rng, 3, 5, 7, 5, 6, 3, 3, 1, false, true, false),   // only d_in
                              conv2d_case(rng, 2, 19, 17, 13, 33, 3, 3, 1, true)};  // wider: other algorithms
               },
               1, 101, conv2d_golden()});
  e.push_back({"linear",
               [](Rng& rng) { return Cases{linear_case(rng, 3, 5, 4, true), linear_case(rng, 7, 3, 6, false)}; },
               [](Rng& rng) {
                 return Cases{linear_case(rng, 3, 13, 7, true), linear_case(rng, 3, 13, 7, false),
                              linear_case(rng, 1, 5, 3, true, false), linear_case(rng, 37, 129, 65, true)};
               },
               2, 202, linear_golden()});
  e.push_back({"embedding", [](Rng& rng) { return Cases{embedding_case(rng, 6, 3, {1, 4, 1, 0, 5, 4, 4})}; },
               // repeated 3: its gradient rows add up
               [](Rng& rng) { return Cases{embedding_case(rng, 11, 9, {3, 0, 10, 3, 7, 3, 1})}; }, 3, 303,
               embedding_golden()});
  const auto bmm_all = [](Rng& rng, std::int64_t batch, std::int64_t m, std::int64_t k, std::int64_t n) {
    Cases cases;
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) cases.push_back(bmm_case(rng, batch, m, k, n, ta, tb));
    return cases;
  };
  e.push_back({"bmm", [bmm_all](Rng& rng) { return bmm_all(rng, 2, 3, 4, 5); },
               [bmm_all](Rng& rng) { return bmm_all(rng, 3, 5, 6, 7); }, 4, 404, bmm_golden()});
  e.push_back({"softmax",
               [](Rng& rng) {
                 return Cases{softmax_case(random_normal({3, 7}, rng)), softmax_case(random_normal({2, 3, 5}, rng))};
               },
               [](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : {Shape{3, 5, 37}, Shape{2, 1000}, Shape{4, 3}, Shape{3, 7, 5, 33}})
                   cases.push_back(softmax_case(random_normal(s, rng)));
                 return cases;
               },
               5, 505, softmax_golden()});
  e.push_back({"relu", [](Rng& rng) { return Cases{relu_case(away_from_zero({3, 5, 4}, rng, 0.2f))}; },
               [](Rng& rng) { return Cases{relu_case(random_normal({3, 5, 7, 5}, rng))}; }, 6, 606,
               relu_golden()});
  e.push_back({"tanh", [](Rng& rng) { return Cases{tanh_case(random_normal({3, 5, 4}, rng))}; },
               [](Rng& rng) { return Cases{tanh_case(random_normal({3, 5, 7, 5}, rng))}; }, 61, 607,
               tanh_golden()});
  const auto pair_cases = [](Shape s, std::function<OpCase(const Tensor&, const Tensor&)> make) {
    return [s, make](Rng& rng) {
      const Tensor a = random_normal(s, rng);
      return Cases{make(a, random_normal(s, rng))};
    };
  };
  e.push_back({"add", pair_cases({2, 3, 4}, add_case), pair_cases({3, 5, 7, 5}, add_case), 7, 608, add_golden()});
  e.push_back({"mul", pair_cases({2, 3, 4}, mul_case), pair_cases({3, 5, 7, 5}, mul_case), 71, 609, mul_golden()});
  e.push_back({"scale",
               [](Rng& rng) {
                 return Cases{scale_case(random_normal({2, 3, 4}, rng), 0.5f),
                              scale_case(random_normal({2, 3, 4}, rng), -1.75f)};
               },
               [](Rng& rng) { return Cases{scale_case(random_normal({3, 5, 7, 5}, rng), -0.37f)}; }, 72, 610,
               scale_golden()});
  // Pooling and upsampling: odd sizes (the last row / column is dropped and gets zero gradient) and a 1-high
  // image (upsampling only: pooling it gives an empty output).
  const std::vector<Shape> image_shapes = {{3, 5, 7, 5}, {2, 3, 6, 4}, {1, 2, 1, 3}};
  e.push_back({"upsample_nearest2x", [](Rng& rng) { return Cases{upsample_case(random_normal({2, 3, 3, 5}, rng))}; },
               [image_shapes](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : image_shapes) cases.push_back(upsample_case(random_normal(s, rng)));
                 return cases;
               },
               8, 707, upsample_golden()});
  // Colours in (0.2, 0.9) for the finite differences: every pixel stays clear of both knees (sRGB's 0.04045;
  // f's 0.008856, which linear values of at least srgb_to_linear(0.2) = 0.033 never reach). The CUDA cases also
  // take values outside [0, 1] and below the knees (a generator's output before clamping).
  e.push_back({"rgb_to_ab", [](Rng& rng) { return Cases{rgb_to_ab_case(random_uniform({2, 3, 3, 5}, rng, 0.2f, 0.9f))}; },
               [](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : {Shape{3, 3, 7, 5}, Shape{2, 3, 64, 65}, Shape{1, 3, 1, 3}})
                   cases.push_back(rgb_to_ab_case(random_uniform(s, rng, -0.3f, 1.3f)));
                 cases.push_back(rgb_to_ab_case(random_uniform({2, 3, 9, 11}, rng, 0.0f, 0.08f)));
                 return cases;
               },
               181, 1708, lab_golden()});
  e.push_back({"avgpool2x2", [](Rng& rng) { return Cases{avgpool_case(random_normal({2, 3, 5, 7}, rng))}; },
               [image_shapes](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : image_shapes)
                   if (s[2] >= 2 && s[3] >= 2) cases.push_back(avgpool_case(random_normal(s, rng)));
                 return cases;
               },
               9, 708, avgpool_golden()});
  e.push_back({"maxpool2x2",
               // Values at least 0.05 apart and |h·v| <= 0.01: no window's maximum changes under the perturbation.
               [](Rng& rng) {
                 return Cases{maxpool_case(distinct_values({2, 3, 5, 7}, rng, 0.05f)),
                              maxpool_case(distinct_values({1, 2, 4, 6}, rng, 0.05f))};
               },
               [image_shapes](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : image_shapes)
                   if (s[2] >= 2 && s[3] >= 2) cases.push_back(maxpool_case(random_normal(s, rng)));
                 // Ties: the gradient of a constant window goes to its first element, on both backends.
                 OpCase ties = maxpool_case(Tensor::full({1, 2, 4, 4}, 0.5f));
                 ties.name += " ties";
                 cases.push_back(ties);
                 return cases;
               },
               91, 709, maxpool_golden()});
  e.push_back({"batchnorm",
               [](Rng& rng) {
                 return Cases{batchnorm_gradcheck_case(rng, {6, 3}, true, true),
                              batchnorm_gradcheck_case(rng, {5, 4}, false, true),
                              batchnorm_gradcheck_case(rng, {3, 2, 4, 5}, true, true),
                              batchnorm_gradcheck_case(rng, {2, 3, 3, 5}, false, true),
                              batchnorm_gradcheck_case(rng, {6, 3}, true, false),
                              batchnorm_gradcheck_case(rng, {3, 2, 4, 5}, true, false)};
               },
               [](Rng& rng) {
                 Cases cases;
                 const std::vector<std::tuple<Shape, bool, bool>> modes = {
                     {{3, 5, 7, 5}, true, true},   {{3, 5, 7, 5}, false, true}, {{3, 5, 7, 5}, true, false},
                     {{3, 5, 7, 5}, false, false}, {{7, 6}, true, true},        {{7, 6}, false, false}};
                 for (const auto& [shape, training, affine] : modes) {
                   const Tensor in = random_uniform(shape, rng, -1.0f, 3.0f);  // non-zero mean: the centring
                   cases.push_back(batchnorm_case(in, rng, affine, training, 1.5f));
                 }
                 return cases;
               },
               10, 808, batchnorm_golden()});
  // Reductions. The CUDA inputs are positive (no cancellation in one-value sums); the shapes cover one block per
  // row (300 × 50), rows split into chunks with a second pass (2 × 300001) and one very long row.
  const auto reductions = [](bool mean) {
    return OpEntry{mean ? "mean" : "sum",
                   [mean](Rng& rng) {
                     Cases cases;
                     for (const Shape& out : {Shape{3, 4}, Shape{3}, Shape{1}})
                       cases.push_back(reduce_case(mean, random_normal({3, 4, 2, 5}, rng), out));
                     return cases;
                   },
                   [mean](Rng& rng) {
                     const std::vector<std::pair<Shape, Shape>> shapes = {
                         {{3, 5, 7, 5}, {3, 5, 7}}, {{3, 5, 7, 5}, {3, 5}},       {{3, 5, 7, 5}, {3}},
                         {{3, 5, 7, 5}, {1}},       {{3, 5, 7, 5}, {}},           {{3, 5, 7, 5}, {3, 5, 7, 5}},
                         {{300, 50}, {300}},        {{2, 300001}, {2}},           {{1000003}, {1}}};
                     Cases cases;
                     for (const auto& [in, out] : shapes)
                       cases.push_back(reduce_case(mean, random_uniform(in, rng, 0.5f, 1.5f), out));
                     return cases;
                   },
                   mean ? 111u : 11u, mean ? 910u : 909u, reduce_golden(mean)};
  };
  e.push_back(reductions(false));
  e.push_back(reductions(true));
  e.push_back({"mse_loss", pair_cases({3, 2, 4}, mse_case),
               [](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : {Shape{3, 5, 7, 5}, Shape{517, 999}}) {
                   const Tensor a = random_normal(s, rng);
                   cases.push_back(mse_case(a, random_normal(s, rng)));
                 }
                 return cases;
               },
               12, 911, mse_golden()});
  e.push_back({"l1_loss",
               [](Rng& rng) {
                 const Tensor a = random_normal({3, 2, 4}, rng);
                 return Cases{l1_case(a, away_from(a, rng))};
               },
               [](Rng& rng) {
                 Cases cases;
                 for (const Shape& s : {Shape{3, 5, 7, 5}, Shape{517, 999}}) {
                   const Tensor a = random_normal(s, rng);
                   cases.push_back(l1_case(a, random_normal(s, rng)));
                 }
                 return cases;
               },
               13, 912, l1_golden()});
  return e;
}

const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table = [] {
    std::vector<OpEntry> all = primitive_op_entries();
    for (OpEntry& entry : fused_op_entries()) all.push_back(std::move(entry));
    for (OpEntry& entry : inference_op_entries()) all.push_back(std::move(entry));
    return all;
  }();
  return table;
}

}  // namespace bigcolor::test
