#include "layers/functional.h"

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor::fn {

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype(), t.device()); }

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = empty_like(a);
  ops::add_forward(out, a, b);
  return out;
}

void add_into(const Tensor& acc, const Tensor& x) { ops::add_forward(acc, acc, x); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = empty_like(a);
  ops::mul_forward(out, a, b);
  return out;
}

Tensor scale(const Tensor& x, float factor) {
  Tensor out = empty_like(x);
  ops::scale_forward(out, x, factor);
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = empty_like(x);
  ops::relu_forward(out, x);
  return out;
}

Tensor relu_backward(const Tensor& d_out, const Tensor& out) {
  Tensor d_in = empty_like(d_out);
  ops::relu_backward(d_in, d_out, out);
  return d_in;
}

Tensor upsample2x(const Tensor& x) {
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)}, DType::F32, x.device());
  ops::upsample_nearest2x_forward(out, x);
  return out;
}

Tensor upsample2x_backward(const Tensor& d_out) {
  Tensor d_in = Tensor::empty({d_out.dim(0), d_out.dim(1), d_out.dim(2) / 2, d_out.dim(3) / 2}, DType::F32,
                              d_out.device());
  ops::upsample_nearest2x_backward(d_in, d_out);
  return d_in;
}

Tensor avgpool2x2(const Tensor& x) {
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), x.dim(2) / 2, x.dim(3) / 2}, DType::F32, x.device());
  ops::avgpool2x2_forward(out, x);
  return out;
}

Tensor avgpool2x2_backward(const Tensor& d_out, const Shape& in_shape) {
  Tensor d_in = Tensor::empty(in_shape, DType::F32, d_out.device());
  ops::avgpool2x2_backward(d_in, d_out);
  return d_in;
}

Tensor maxpool2x2(const Tensor& x) {
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), x.dim(2) / 2, x.dim(3) / 2}, DType::F32, x.device());
  ops::maxpool2x2_forward(out, x);
  return out;
}

Tensor maxpool2x2_backward(const Tensor& d_out, const Tensor& in) {
  Tensor d_in = empty_like(in);
  ops::maxpool2x2_backward(d_in, d_out, in);
  return d_in;
}

float item(const Tensor& t) {
  BIGCOLOR_CHECK(t.numel() == 1, "item: tensor ", t.describe(), " does not hold one element");
  return t.to_vector()[0];
}

}  // namespace bigcolor::fn
