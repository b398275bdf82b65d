// Checked dispatch of the classifiers' forward-only ops (inference_signatures.inc): shapes, dtypes and devices
// are validated here once, then the backend of the tensors' device runs.
#include <string>

#include "kernels/op_checks.h"
#include "kernels/ops.h"

namespace bigcolor::ops {

using namespace detail;

namespace {

// The output shape of a windowed convolution whose weight is (Cout, weight_in_c, KH, KW).
Shape window_out_shape(const char* op, const Tensor& in, const Tensor& weight, std::int64_t out_c,
                       const ConvWindow& win) {
  check_ndim(op, "in", in, 4);
  check_ndim(op, "weight", weight, 4);
  BIGCOLOR_CHECK(win.stride >= 1, op, ": stride ", win.stride, " (must be at least 1)");
  BIGCOLOR_CHECK(win.pad_top >= 0 && win.pad_bottom >= 0 && win.pad_left >= 0 && win.pad_right >= 0, op,
                 ": negative padding");
  const std::int64_t out_h = win.out_h(in.dim(2), weight.dim(2)), out_w = win.out_w(in.dim(3), weight.dim(3));
  BIGCOLOR_CHECK(out_h > 0 && out_w > 0 && in.dim(2) + win.pad_top + win.pad_bottom >= weight.dim(2) &&
                     in.dim(3) + win.pad_left + win.pad_right >= weight.dim(3),
                 op, ": kernel ", shape_string(weight.shape()), " does not fit input ", shape_string(in.shape()),
                 " with its padding");
  return {in.dim(0), out_c, out_h, out_w};
}

}  // namespace

void conv2d_window_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                           const ConvWindow& window) {
  const char* op = "conv2d_window_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"weight", weight}, {"bias", bias}}, {"out", "in", "weight"});
  const Shape shape = window_out_shape(op, in, weight, weight.dim(0), window);
  BIGCOLOR_CHECK(weight.dim(1) == in.dim(1), op, ": weight ", shape_string(weight.shape()), " expects ",
                 weight.dim(1), " input channels, in ", shape_string(in.shape()), " has ", in.dim(1));
  check_shape(op, "bias", bias, {weight.dim(0)});
  check_shape(op, "out", out, shape);
  BIGCOLOR_DISPATCH(d, conv2d_window_forward(out, in, weight, bias, window));
}

void depthwise_conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                              const ConvWindow& window) {
  const char* op = "depthwise_conv2d_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"weight", weight}, {"bias", bias}}, {"out", "in", "weight"});
  const Shape shape = window_out_shape(op, in, weight, in.dim(1), window);
  BIGCOLOR_CHECK(weight.dim(0) == in.dim(1) && weight.dim(1) == 1, op, ": weight ", shape_string(weight.shape()),
                 " is not (C, 1, KH, KW) for in ", shape_string(in.shape()));
  check_shape(op, "bias", bias, {in.dim(1)});
  check_shape(op, "out", out, shape);
  BIGCOLOR_DISPATCH(d, depthwise_conv2d_forward(out, in, weight, bias, window));
}

void silu_forward(const Tensor& out, const Tensor& in) {
  Device d = check_common("silu_forward", {{"out", out}, {"in", in}}, {"out", "in"});
  check_shape("silu_forward", "out", out, in.shape());
  BIGCOLOR_DISPATCH(d, silu_forward(out, in));
}

void channel_gate_forward(const Tensor& out, const Tensor& in, const Tensor& gate) {
  const char* op = "channel_gate_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"gate", gate}}, {"out", "in", "gate"});
  check_ndim(op, "in", in, 4);
  check_shape(op, "gate", gate, {in.dim(0), in.dim(1)});
  check_shape(op, "out", out, in.shape());
  BIGCOLOR_DISPATCH(d, channel_gate_forward(out, in, gate));
}

void maxpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad) {
  const char* op = "maxpool2d_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(kernel >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= kernel, op, ": kernel ", kernel, ", stride ",
                 stride, ", pad ", pad, " (need kernel, stride ≥ 1 and 0 ≤ pad ≤ kernel/2)");
  const std::int64_t out_h = (in.dim(2) + 2 * pad - kernel) / stride + 1;
  const std::int64_t out_w = (in.dim(3) + 2 * pad - kernel) / stride + 1;
  BIGCOLOR_CHECK(in.dim(2) + 2 * pad >= kernel && in.dim(3) + 2 * pad >= kernel, op, ": input ",
                 shape_string(in.shape()), " is smaller than the ", kernel, "x", kernel, " window");
  check_shape(op, "out", out, {in.dim(0), in.dim(1), out_h, out_w});
  BIGCOLOR_DISPATCH(d, maxpool2d_forward(out, in, kernel, stride, pad));
}

void avgpool2d_ceil_forward(const Tensor& out, const Tensor& in, int kernel, int stride) {
  const char* op = "avgpool2d_ceil_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(kernel >= 1 && stride >= 1, op, ": kernel ", kernel, ", stride ", stride, " (must be ≥ 1)");
  BIGCOLOR_CHECK(in.dim(2) >= kernel && in.dim(3) >= kernel, op, ": input ", shape_string(in.shape()),
                 " is smaller than the ", kernel, "x", kernel, " window");
  check_shape(op, "out", out, {in.dim(0), in.dim(1), ceil_mode_pool_size(in.dim(2), kernel, stride),
                               ceil_mode_pool_size(in.dim(3), kernel, stride)});
  BIGCOLOR_DISPATCH(d, avgpool2d_ceil_forward(out, in, kernel, stride));
}

void avgpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad, bool count_include_pad) {
  const char* op = "avgpool2d_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  check_ndim(op, "in", in, 4);
  BIGCOLOR_CHECK(kernel >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= kernel, op, ": kernel ", kernel, ", stride ",
                 stride, ", pad ", pad, " (need kernel, stride ≥ 1 and 0 ≤ pad ≤ kernel/2)");
  BIGCOLOR_CHECK(in.dim(2) + 2 * pad >= kernel && in.dim(3) + 2 * pad >= kernel, op, ": input ",
                 shape_string(in.shape()), " is smaller than the ", kernel, "x", kernel, " window");
  const std::int64_t out_h = (in.dim(2) + 2 * pad - kernel) / stride + 1;
  const std::int64_t out_w = (in.dim(3) + 2 * pad - kernel) / stride + 1;
  check_shape(op, "out", out, {in.dim(0), in.dim(1), out_h, out_w});
  if (out.numel() == 0) return;
  BIGCOLOR_DISPATCH(d, avgpool2d_forward(out, in, kernel, stride, pad, count_include_pad));
}

}  // namespace bigcolor::ops
