// Checked dispatch: every public op validates dtypes, devices and shapes here, once, then calls the backend of the
// device its tensors live on. The backends (cpu::, cuda::) trust their arguments.
#include "kernels/ops.h"

#include <algorithm>
#include <string>

#include "kernels/op_checks.h"
#include "kernels/ops_lowp.h"

namespace bigcolor::ops {

using namespace detail;

namespace {

Shape conv_out_shape(const char* op, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  check_ndim(op, "in", in, 4);
  check_ndim(op, "weight", weight, 4);
  BIGCOLOR_CHECK(padding >= 0, op, ": negative padding ", padding);
  BIGCOLOR_CHECK(weight.dim(1) == in.dim(1), op, ": weight ", shape_string(weight.shape()), " expects ",
                 weight.dim(1), " input channels, in ", shape_string(in.shape()), " has ", in.dim(1));
  check_shape(op, "bias", bias, {weight.dim(0)});
  const std::int64_t out_h = in.dim(2) + 2 * padding - weight.dim(2) + 1;
  const std::int64_t out_w = in.dim(3) + 2 * padding - weight.dim(3) + 1;
  BIGCOLOR_CHECK(out_h > 0 && out_w > 0, op, ": kernel ", shape_string(weight.shape()), " with padding ", padding,
                 " does not fit input ", shape_string(in.shape()));
  return {in.dim(0), weight.dim(0), out_h, out_w};
}

Shape bmm_out_shape(const char* op, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_ndim(op, "a", a, 3);
  check_ndim(op, "b", b, 3);
  BIGCOLOR_CHECK(a.dim(0) == b.dim(0), op, ": batch sizes differ: a ", shape_string(a.shape()), ", b ",
                 shape_string(b.shape()));
  const std::int64_t m = trans_a ? a.dim(2) : a.dim(1);
  const std::int64_t ka = trans_a ? a.dim(1) : a.dim(2);
  const std::int64_t kb = trans_b ? b.dim(2) : b.dim(1);
  const std::int64_t n = trans_b ? b.dim(1) : b.dim(2);
  BIGCOLOR_CHECK(ka == kb, op, ": inner dimensions differ: op(a) is ", m, "x", ka, ", op(b) is ", kb, "x", n);
  return {a.dim(0), m, n};
}

Shape pooled_shape(const char* op, const Tensor& in) {
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(in.dim(2) >= 2 && in.dim(3) >= 2, op, ": input ", shape_string(in.shape()),
                 " is smaller than the 2x2 window");
  return {in.dim(0), in.dim(1), in.dim(2) / 2, in.dim(3) / 2};
}

// out's shape must be a leading prefix of in's (or (1)/() for everything).
void check_reduction(const char* op, const Tensor& out, const Tensor& in) {
  const Shape& o = out.shape();
  const Shape& i = in.shape();
  const bool everything = o.empty() || o == Shape{1};  // backends reduce numel(in)/numel(out) trailing values
  const bool prefix = o.size() <= i.size() && std::equal(o.begin(), o.end(), i.begin());
  BIGCOLOR_CHECK(everything || prefix, op, ": out ", shape_string(o), " is not a leading prefix of in ",
                 shape_string(i));
}

}  // namespace

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  const char* op = "conv2d_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"weight", weight}, {"bias", bias}}, {"out", "in", "weight"});
  check_shape(op, "out", out, conv_out_shape(op, in, weight, bias, padding));
  if (lowp::active() && !lowp::conv_stays_fp32(in)) return lowp::conv2d_forward(out, in, weight, bias, padding);
  BIGCOLOR_DISPATCH(d, conv2d_forward(out, in, weight, bias, padding));
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  const char* op = "conv2d_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_weight", d_weight}, {"d_bias", d_bias}, {"d_out", d_out},
                               {"in", in}, {"weight", weight}}, {"d_out", "in", "weight"});
  check_shape(op, "d_out", d_out, conv_out_shape(op, in, weight, Tensor{}, padding));
  check_shape(op, "d_in", d_in, in.shape());
  check_shape(op, "d_weight", d_weight, weight.shape());
  check_shape(op, "d_bias", d_bias, {weight.dim(0)});
  if (lowp::active() && !lowp::conv_stays_fp32(in))
    return lowp::conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding);
  BIGCOLOR_DISPATCH(d, conv2d_backward(d_in, d_weight, d_bias, d_out, in, weight, padding));
}

void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"weight", weight}, {"bias", bias}}, {"out", "in", "weight"});
  check_ndim(op, "in", in, 2);
  check_ndim(op, "weight", weight, 2);
  BIGCOLOR_CHECK(in.dim(1) == weight.dim(1), op, ": in ", shape_string(in.shape()), " has ", in.dim(1),
                 " features but weight ", shape_string(weight.shape()), " expects ", weight.dim(1));
  check_shape(op, "bias", bias, {weight.dim(0)});
  check_shape(op, "out", out, {in.dim(0), weight.dim(0)});
  if (lowp::active()) return lowp::linear_forward(out, in, weight, bias);
  BIGCOLOR_DISPATCH(d, linear_forward(out, in, weight, bias));
}

void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight) {
  const char* op = "linear_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_weight", d_weight}, {"d_bias", d_bias}, {"d_out", d_out},
                               {"in", in}, {"weight", weight}}, {"d_out", "in", "weight"});
  check_ndim(op, "in", in, 2);
  check_ndim(op, "weight", weight, 2);
  BIGCOLOR_CHECK(in.dim(1) == weight.dim(1), op, ": in ", shape_string(in.shape()), " does not match weight ",
                 shape_string(weight.shape()));
  check_shape(op, "d_out", d_out, {in.dim(0), weight.dim(0)});
  check_shape(op, "d_in", d_in, in.shape());
  check_shape(op, "d_weight", d_weight, weight.shape());
  check_shape(op, "d_bias", d_bias, {weight.dim(0)});
  if (lowp::active()) return lowp::linear_backward(d_in, d_weight, d_bias, d_out, in, weight);
  BIGCOLOR_DISPATCH(d, linear_backward(d_in, d_weight, d_bias, d_out, in, weight));
}

namespace {
void check_indices(const char* op, const Tensor& indices, std::int64_t vocabulary) {
  BIGCOLOR_CHECK(indices.dtype() == DType::I32, op, ": indices ", indices.describe(), " must be I32");
  check_ndim(op, "indices", indices, 1);
  for (std::int32_t i : indices.to_indices())  // a host copy for CUDA indices: a few bytes, and it must not crash
    BIGCOLOR_CHECK(i >= 0 && i < vocabulary, op, ": index ", i, " outside the table's ", vocabulary, " rows");
}
}  // namespace

void embedding_forward(const Tensor& out, const Tensor& table, const Tensor& indices) {
  const char* op = "embedding_forward";
  Device d = check_common(op, {{"out", out}, {"table", table}, {"indices", indices}}, {"out", "table", "indices"});
  check_ndim(op, "table", table, 2);
  check_indices(op, indices, table.dim(0));
  check_shape(op, "out", out, {indices.dim(0), table.dim(1)});
  BIGCOLOR_DISPATCH(d, embedding_forward(out, table, indices));
}

void embedding_backward(const Tensor& d_table, const Tensor& d_out, const Tensor& indices) {
  const char* op = "embedding_backward";
  Device d = check_common(op, {{"d_table", d_table}, {"d_out", d_out}, {"indices", indices}},
                          {"d_table", "d_out", "indices"});
  check_ndim(op, "d_table", d_table, 2);
  check_indices(op, indices, d_table.dim(0));
  check_shape(op, "d_out", d_out, {indices.dim(0), d_table.dim(1)});
  BIGCOLOR_DISPATCH(d, embedding_backward(d_table, d_out, indices));
}

void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const char* op = "bmm_forward";
  Device d = check_common(op, {{"out", out}, {"a", a}, {"b", b}}, {"out", "a", "b"});
  check_shape(op, "out", out, bmm_out_shape(op, a, b, trans_a, trans_b));
  if (lowp::active()) return lowp::bmm_forward(out, a, b, trans_a, trans_b);
  BIGCOLOR_DISPATCH(d, bmm_forward(out, a, b, trans_a, trans_b));
}

void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b) {
  const char* op = "bmm_backward";
  Device d = check_common(op, {{"d_a", d_a}, {"d_b", d_b}, {"d_out", d_out}, {"a", a}, {"b", b}},
                          {"d_out", "a", "b"});
  check_shape(op, "d_out", d_out, bmm_out_shape(op, a, b, trans_a, trans_b));
  check_shape(op, "d_a", d_a, a.shape());
  check_shape(op, "d_b", d_b, b.shape());
  if (lowp::active()) return lowp::bmm_backward(d_a, d_b, d_out, a, b, trans_a, trans_b);
  BIGCOLOR_DISPATCH(d, bmm_backward(d_a, d_b, d_out, a, b, trans_a, trans_b));
}

void softmax_forward(const Tensor& out, const Tensor& in) {
  const char* op = "softmax_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  BIGCOLOR_CHECK(in.ndim() >= 1, op, ": in must have at least one dimension");
  check_same_shape(op, {{"in", in}, {"out", out}});
  BIGCOLOR_DISPATCH(d, softmax_forward(out, in));
}

void softmax_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const char* op = "softmax_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_out", d_out}, {"out", out}}, {"d_in", "d_out", "out"});
  BIGCOLOR_CHECK(out.ndim() >= 1, op, ": out must have at least one dimension");
  check_same_shape(op, {{"out", out}, {"d_out", d_out}, {"d_in", d_in}});
  BIGCOLOR_DISPATCH(d, softmax_backward(d_in, d_out, out));
}

// Pointwise ops with one input: same checks, one line each.
#define BIGCOLOR_UNARY_OP(name)                                                                    \
  void name##_forward(const Tensor& out, const Tensor& in) {                                      \
    Device d = check_common(#name "_forward", {{"out", out}, {"in", in}}, {"out", "in"});          \
    check_same_shape(#name "_forward", {{"in", in}, {"out", out}});                               \
    BIGCOLOR_DISPATCH(d, name##_forward(out, in));                                                 \
  }                                                                                                \
  void name##_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {              \
    Device d = check_common(#name "_backward", {{"d_in", d_in}, {"d_out", d_out}, {"out", out}},   \
                            {"d_in", "d_out", "out"});                                             \
    check_same_shape(#name "_backward", {{"out", out}, {"d_out", d_out}, {"d_in", d_in}});        \
    BIGCOLOR_DISPATCH(d, name##_backward(d_in, d_out, out));                                       \
  }
BIGCOLOR_UNARY_OP(relu)
BIGCOLOR_UNARY_OP(tanh)
#undef BIGCOLOR_UNARY_OP

void add_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  Device d = check_common("add_forward", {{"out", out}, {"a", a}, {"b", b}}, {"out", "a", "b"});
  check_same_shape("add_forward", {{"a", a}, {"b", b}, {"out", out}});
  BIGCOLOR_DISPATCH(d, add_forward(out, a, b));
}

void add_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out) {
  Device d = check_common("add_backward", {{"d_a", d_a}, {"d_b", d_b}, {"d_out", d_out}}, {"d_out"});
  check_same_shape("add_backward", {{"d_out", d_out}, {"d_a", d_a}, {"d_b", d_b}});
  BIGCOLOR_DISPATCH(d, add_backward(d_a, d_b, d_out));
}

void mul_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  Device d = check_common("mul_forward", {{"out", out}, {"a", a}, {"b", b}}, {"out", "a", "b"});
  check_same_shape("mul_forward", {{"a", a}, {"b", b}, {"out", out}});
  BIGCOLOR_DISPATCH(d, mul_forward(out, a, b));
}

void mul_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  Device d = check_common("mul_backward", {{"d_a", d_a}, {"d_b", d_b}, {"d_out", d_out}, {"a", a}, {"b", b}},
                          {"d_out", "a", "b"});
  check_same_shape("mul_backward", {{"a", a}, {"b", b}, {"d_out", d_out}, {"d_a", d_a}, {"d_b", d_b}});
  BIGCOLOR_DISPATCH(d, mul_backward(d_a, d_b, d_out, a, b));
}

void scale_forward(const Tensor& out, const Tensor& in, float factor) {
  Device d = check_common("scale_forward", {{"out", out}, {"in", in}}, {"out", "in"});
  check_same_shape("scale_forward", {{"in", in}, {"out", out}});
  BIGCOLOR_DISPATCH(d, scale_forward(out, in, factor));
}

void scale_backward(const Tensor& d_in, const Tensor& d_out, float factor) {
  Device d = check_common("scale_backward", {{"d_in", d_in}, {"d_out", d_out}}, {"d_in", "d_out"});
  check_same_shape("scale_backward", {{"d_out", d_out}, {"d_in", d_in}});
  BIGCOLOR_DISPATCH(d, scale_backward(d_in, d_out, factor));
}

void upsample_nearest2x_forward(const Tensor& out, const Tensor& in) {
  const char* op = "upsample_nearest2x_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  check_ndim(op, "in", in, 4);
  check_shape(op, "out", out, {in.dim(0), in.dim(1), 2 * in.dim(2), 2 * in.dim(3)});
  BIGCOLOR_DISPATCH(d, upsample_nearest2x_forward(out, in));
}

void upsample_nearest2x_backward(const Tensor& d_in, const Tensor& d_out) {
  const char* op = "upsample_nearest2x_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_out", d_out}}, {"d_in", "d_out"});
  check_ndim(op, "d_in", d_in, 4);
  check_shape(op, "d_out", d_out, {d_in.dim(0), d_in.dim(1), 2 * d_in.dim(2), 2 * d_in.dim(3)});
  BIGCOLOR_DISPATCH(d, upsample_nearest2x_backward(d_in, d_out));
}

void rgb_to_ab_forward(const Tensor& out, const Tensor& in) {
  const char* op = "rgb_to_ab_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(in.dim(1) == 3, op, ": in must have 3 channels (r, g, b), got ", in.describe());
  check_shape(op, "out", out, {in.dim(0), 2, in.dim(2), in.dim(3)});
  BIGCOLOR_DISPATCH(d, rgb_to_ab_forward(out, in));
}

void rgb_to_ab_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  const char* op = "rgb_to_ab_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_out", d_out}, {"in", in}}, {"d_in", "d_out", "in"});
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(in.dim(1) == 3, op, ": in must have 3 channels (r, g, b), got ", in.describe());
  check_shape(op, "d_in", d_in, in.shape());
  check_shape(op, "d_out", d_out, {in.dim(0), 2, in.dim(2), in.dim(3)});
  BIGCOLOR_DISPATCH(d, rgb_to_ab_backward(d_in, d_out, in));
}

void avgpool2x2_forward(const Tensor& out, const Tensor& in) {
  Device d = check_common("avgpool2x2_forward", {{"out", out}, {"in", in}}, {"out", "in"});
  check_shape("avgpool2x2_forward", "out", out, pooled_shape("avgpool2x2_forward", in));
  BIGCOLOR_DISPATCH(d, avgpool2x2_forward(out, in));
}

void avgpool2x2_backward(const Tensor& d_in, const Tensor& d_out) {
  Device d = check_common("avgpool2x2_backward", {{"d_in", d_in}, {"d_out", d_out}}, {"d_in", "d_out"});
  check_shape("avgpool2x2_backward", "d_out", d_out, pooled_shape("avgpool2x2_backward", d_in));
  BIGCOLOR_DISPATCH(d, avgpool2x2_backward(d_in, d_out));
}

void maxpool2x2_forward(const Tensor& out, const Tensor& in) {
  Device d = check_common("maxpool2x2_forward", {{"out", out}, {"in", in}}, {"out", "in"});
  check_shape("maxpool2x2_forward", "out", out, pooled_shape("maxpool2x2_forward", in));
  BIGCOLOR_DISPATCH(d, maxpool2x2_forward(out, in));
}

void maxpool2x2_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  const char* op = "maxpool2x2_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_out", d_out}, {"in", in}}, {"d_in", "d_out", "in"});
  check_shape(op, "d_in", d_in, in.shape());
  check_shape(op, "d_out", d_out, pooled_shape(op, in));
  BIGCOLOR_DISPATCH(d, maxpool2x2_backward(d_in, d_out, in));
}

namespace {
void check_batchnorm_input(const char* op, const Tensor& in) {
  BIGCOLOR_CHECK(in.ndim() == 2 || in.ndim() == 4, op, ": in must be (B, C) or (B, C, H, W), got ", in.describe());
}
}  // namespace

void batchnorm_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                       const Tensor& running_mean, const Tensor& running_var, const Tensor& in,
                       const Tensor& weight, const Tensor& bias, bool training, float momentum, float eps) {
  const char* op = "batchnorm_forward";
  Device d = check_common(op, {{"out", out}, {"saved_mean", saved_mean}, {"saved_invstd", saved_invstd},
                               {"running_mean", running_mean}, {"running_var", running_var}, {"in", in},
                               {"weight", weight}, {"bias", bias}},
                          {"out", "saved_mean", "saved_invstd", "running_mean", "running_var", "in"});
  check_batchnorm_input(op, in);
  const Shape channels = {in.dim(1)};
  check_shape(op, "out", out, in.shape());
  for (const Arg& a : {Arg{"saved_mean", saved_mean}, Arg{"saved_invstd", saved_invstd},
                       Arg{"running_mean", running_mean}, Arg{"running_var", running_var}, Arg{"weight", weight},
                       Arg{"bias", bias}})
    check_shape(op, a.name, a.t, channels);
  BIGCOLOR_CHECK(!training || in.numel() / in.dim(1) > 1, op, ": training needs more than one value per channel, got ",
                 in.describe());
  BIGCOLOR_CHECK(eps > 0.0f, op, ": eps must be positive");
  BIGCOLOR_DISPATCH(d, batchnorm_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, weight, bias,
                                         training, momentum, eps));
}

void batchnorm_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight, const Tensor& saved_mean,
                        const Tensor& saved_invstd, bool training) {
  const char* op = "batchnorm_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_weight", d_weight}, {"d_bias", d_bias}, {"d_out", d_out},
                               {"in", in}, {"weight", weight}, {"saved_mean", saved_mean},
                               {"saved_invstd", saved_invstd}},
                          {"d_out", "in", "saved_mean", "saved_invstd"});
  check_batchnorm_input(op, in);
  const Shape channels = {in.dim(1)};
  check_shape(op, "d_out", d_out, in.shape());
  check_shape(op, "d_in", d_in, in.shape());
  for (const Arg& a : {Arg{"weight", weight}, Arg{"saved_mean", saved_mean}, Arg{"saved_invstd", saved_invstd},
                       Arg{"d_weight", d_weight}, Arg{"d_bias", d_bias}})
    check_shape(op, a.name, a.t, channels);
  BIGCOLOR_DISPATCH(d, batchnorm_backward(d_in, d_weight, d_bias, d_out, in, weight, saved_mean, saved_invstd,
                                          training));
}

#define BIGCOLOR_REDUCTION_OP(name)                                                           \
  void name##_forward(const Tensor& out, const Tensor& in) {                                 \
    Device d = check_common(#name "_forward", {{"out", out}, {"in", in}}, {"out", "in"});     \
    check_reduction(#name "_forward", out, in);                                              \
    BIGCOLOR_DISPATCH(d, name##_forward(out, in));                                            \
  }                                                                                           \
  void name##_backward(const Tensor& d_in, const Tensor& d_out) {                            \
    Device d = check_common(#name "_backward", {{"d_in", d_in}, {"d_out", d_out}}, {"d_in", "d_out"}); \
    check_reduction(#name "_backward", d_out, d_in);                                         \
    BIGCOLOR_DISPATCH(d, name##_backward(d_in, d_out));                                       \
  }
BIGCOLOR_REDUCTION_OP(sum)
BIGCOLOR_REDUCTION_OP(mean)
#undef BIGCOLOR_REDUCTION_OP

// The losses of two equal-shaped inputs into one scalar: mse_loss, l1_loss.
#define BIGCOLOR_PAIR_LOSS_OP(name)                                                                                 \
  void name##_forward(const Tensor& out, const Tensor& a, const Tensor& b) {                                        \
    Device d = check_common(#name "_forward", {{"out", out}, {"a", a}, {"b", b}}, {"out", "a", "b"});               \
    check_same_shape(#name "_forward", {{"a", a}, {"b", b}});                                                       \
    check_scalar(#name "_forward", "out", out);                                                                     \
    BIGCOLOR_CHECK(a.numel() > 0, #name "_forward: empty inputs");                                                  \
    BIGCOLOR_DISPATCH(d, name##_forward(out, a, b));                                                                \
  }                                                                                                                 \
  void name##_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a,                  \
                       const Tensor& b) {                                                                           \
    Device d = check_common(#name "_backward", {{"d_a", d_a}, {"d_b", d_b}, {"d_out", d_out}, {"a", a}, {"b", b}}, \
                            {"d_out", "a", "b"});                                                                   \
    check_same_shape(#name "_backward", {{"a", a}, {"b", b}, {"d_a", d_a}, {"d_b", d_b}});                          \
    check_scalar(#name "_backward", "d_out", d_out);                                                                \
    BIGCOLOR_DISPATCH(d, name##_backward(d_a, d_b, d_out, a, b));                                                   \
  }
BIGCOLOR_PAIR_LOSS_OP(mse_loss)
BIGCOLOR_PAIR_LOSS_OP(l1_loss)
#undef BIGCOLOR_PAIR_LOSS_OP

}  // namespace bigcolor::ops

namespace bigcolor::ops {

void copy_columns(const Tensor& dst, std::int64_t dst_offset, const Tensor& src, std::int64_t src_offset,
                  std::int64_t width) {
  const char* op = "copy_columns";
  Device d = check_common(op, {{"dst", dst}, {"src", src}}, {"dst", "src"});
  check_ndim(op, "dst", dst, 2);
  check_ndim(op, "src", src, 2);
  BIGCOLOR_CHECK(dst.dim(0) == src.dim(0), op, ": dst ", shape_string(dst.shape()), " and src ",
                 shape_string(src.shape()), " have different numbers of rows");
  BIGCOLOR_CHECK(width >= 0 && dst_offset >= 0 && src_offset >= 0 && dst_offset + width <= dst.dim(1) &&
                     src_offset + width <= src.dim(1),
                 op, ": columns [", src_offset, ", ", src_offset + width, ") of ", shape_string(src.shape()),
                 " into [", dst_offset, ", ", dst_offset + width, ") of ", shape_string(dst.shape()),
                 " are out of range");
  BIGCOLOR_DISPATCH(d, copy_columns(dst, dst_offset, src, src_offset, width));
}

// ---- optimizer updates ----------------------------------------------------------------------------------------

void adam_update(const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
                 float beta1, float beta2, float eps, float step_size, float bias_correction2_sqrt) {
  const char* op = "adam_update";
  Device d = check_common(op, {{"param", param}, {"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq}, {"grad", grad}},
                          {"param", "exp_avg", "exp_avg_sq", "grad"});
  check_same_shape(op, {{"param", param}, {"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq}, {"grad", grad}});
  BIGCOLOR_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, op, ": betas (", beta1, ", ", beta2,
                 ") must lie in [0, 1)");
  BIGCOLOR_CHECK(bias_correction2_sqrt > 0.0f, op, ": bias_correction2_sqrt must be positive");
  BIGCOLOR_DISPATCH(d, adam_update(param, exp_avg, exp_avg_sq, grad, beta1, beta2, eps, step_size,
                                   bias_correction2_sqrt));
}

void ema_update(const Tensor& shadow, const Tensor& param, float one_minus_decay) {
  const char* op = "ema_update";
  Device d = check_common(op, {{"shadow", shadow}, {"param", param}}, {"shadow", "param"});
  check_same_shape(op, {{"shadow", shadow}, {"param", param}});
  BIGCOLOR_DISPATCH(d, ema_update(shadow, param, one_minus_decay));
}

}  // namespace bigcolor::ops
