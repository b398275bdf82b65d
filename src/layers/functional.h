// Small allocating wrappers over the checked ops, so the layers read like the model: each returns a fresh tensor
// on the input's device. (The ops themselves never allocate; see kernels/ops.h.)
#pragma once

#include "tensor/tensor.h"

namespace bigcolor::fn {

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor add(const Tensor& a, const Tensor& b);
void add_into(const Tensor& acc, const Tensor& x);  // acc += x (where two gradient branches meet)
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float factor);
Tensor relu(const Tensor& x);
Tensor relu_backward(const Tensor& d_out, const Tensor& out);
Tensor upsample2x(const Tensor& x);
Tensor upsample2x_backward(const Tensor& d_out);          // (B, C, 2H, 2W) -> (B, C, H, W)
Tensor avgpool2x2(const Tensor& x);
Tensor avgpool2x2_backward(const Tensor& d_out, const Shape& in_shape);
Tensor maxpool2x2(const Tensor& x);
Tensor maxpool2x2_backward(const Tensor& d_out, const Tensor& in);
float item(const Tensor& t);  // the value of a one-element tensor (copied to the host)

}  // namespace bigcolor::fn
