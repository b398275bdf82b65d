// The OpCase builders of the primitive ops (op_table.cpp) from given tensors, for the golden specs
// (op_table_golden.cpp), which take every input from a golden file. op_table.cpp's own case lists draw the tensors
// from a seeded Rng and call the same builders.
#pragma once

#include "op_table.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

OpCase conv2d_op(const Tensor& in, const Tensor& weight, const Tensor& bias, int padding, bool want_d_in = true,
                 bool want_d_weight = true);
OpCase linear_op(const Tensor& in, const Tensor& weight, const Tensor& bias, bool want_d_in = true);
OpCase embedding_op(const Tensor& table, const Tensor& indices);
OpCase bmm_op(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
OpCase softmax_case(const Tensor& in);
OpCase relu_case(const Tensor& in);
OpCase scale_case(const Tensor& in, float factor);
OpCase upsample_case(const Tensor& in);
OpCase avgpool_case(const Tensor& in);
OpCase maxpool_case(const Tensor& in);
OpCase reduce_case(bool mean, const Tensor& in, const Shape& out_shape);
OpCase add_case(const Tensor& a, const Tensor& b);
OpCase mul_case(const Tensor& a, const Tensor& b);
OpCase mse_case(const Tensor& a, const Tensor& b);
OpCase l1_case(const Tensor& a, const Tensor& b);
OpCase rgb_to_ab_case(const Tensor& in);
// weight and bias undefined: no affine transform.
OpCase batchnorm_op(const Tensor& in, const Tensor& weight, const Tensor& bias, const Tensor& running_mean0,
                    const Tensor& running_var0, bool training, float momentum, float eps);

// The golden specs of the primitive ops (op_table_golden.cpp): how a case of the op's golden file becomes an OpCase.
GoldenSpec conv2d_golden();
GoldenSpec linear_golden();
GoldenSpec embedding_golden();
GoldenSpec bmm_golden();
GoldenSpec softmax_golden();
GoldenSpec relu_golden();
GoldenSpec tanh_golden();
GoldenSpec add_golden();
GoldenSpec mul_golden();
GoldenSpec scale_golden();
GoldenSpec upsample_golden();
GoldenSpec avgpool_golden();
GoldenSpec maxpool_golden();
GoldenSpec batchnorm_golden();
GoldenSpec reduce_golden(bool mean);
GoldenSpec mse_golden();
GoldenSpec l1_golden();
GoldenSpec lab_golden();

}  // namespace bigcolor::test
