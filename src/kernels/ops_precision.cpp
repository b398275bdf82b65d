// Checked dispatch of the reduced-precision ops (precision_signatures.inc).
#include "kernels/op_checks.h"
#include "kernels/ops.h"

namespace bigcolor::ops {

using namespace detail;

void convert(const Tensor& out, const Tensor& in) {
  const char* op = "convert";
  BIGCOLOR_CHECK(out.defined() && in.defined(), op, ": out and in are required");
  auto floating = [](DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; };
  BIGCOLOR_CHECK(floating(in.dtype()) && floating(out.dtype()), op, ": converts between F32, F16 and BF16, not ",
                 dtype_name(in.dtype()), " to ", dtype_name(out.dtype()));
  BIGCOLOR_CHECK(out.device() == in.device(), op, ": out is on ", device_name(out.device()), " but in is on ",
                 device_name(in.device()));
  check_shape(op, "out", out, in.shape());
  BIGCOLOR_DISPATCH(in.device(), convert(out, in));
}

void round_to(const Tensor& out, const Tensor& in, DType format) {
  const char* op = "round_to";
  const Device d = check_common(op, {{"out", out}, {"in", in}}, {"out", "in"});
  BIGCOLOR_CHECK(format == DType::F16 || format == DType::BF16, op, ": rounds to F16 or BF16, not ",
                 dtype_name(format));
  check_shape(op, "out", out, in.shape());
  BIGCOLOR_DISPATCH(d, round_to(out, in, format));
}

}  // namespace bigcolor::ops
