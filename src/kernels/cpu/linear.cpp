// Matrix ops on the CPU: linear layers, batched matmul and embedding lookups, all through row-major SGEMM.
#include <cstring>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
// Adds the column sums of m (rows, cols) into acc (cols), summing in double.
void add_column_sums(float* acc, const float* m, std::int64_t rows, std::int64_t cols) {
#pragma omp parallel for schedule(static)
  for (std::int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (std::int64_t i = 0; i < rows; ++i) s += m[i * cols + j];
    acc[j] += static_cast<float>(s);
  }
}
}  // namespace

void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  const std::int64_t batch = in.dim(0), in_f = in.dim(1), out_f = weight.dim(0);
  float* y = out.data<float>();  // (B, O)
  // y (B, O) = x (B, I) · Wᵀ (I, O)
  sgemm(false, true, batch, out_f, in_f, 1.0f, in.data<float>(), in_f, weight.data<float>(), in_f, 0.0f, y, out_f);
  if (bias.defined()) {
    const float* b = bias.data<float>();
    for (std::int64_t i = 0; i < batch; ++i)
      for (std::int64_t j = 0; j < out_f; ++j) y[i * out_f + j] += b[j];
  }
}

void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight) {
  const std::int64_t batch = in.dim(0), in_f = in.dim(1), out_f = weight.dim(0);
  const float* dy = d_out.data<float>();  // (B, O)
  if (d_in.defined())  // dx (B, I) = dy (B, O) · W (O, I)
    sgemm(false, false, batch, in_f, out_f, 1.0f, dy, out_f, weight.data<float>(), in_f, 0.0f, d_in.data<float>(),
          in_f);
  if (d_weight.defined())  // dW (O, I) += dyᵀ (O, B) · x (B, I)
    sgemm(true, false, out_f, in_f, batch, 1.0f, dy, out_f, in.data<float>(), in_f, 1.0f, d_weight.data<float>(),
          in_f);
  if (d_bias.defined()) add_column_sums(d_bias.data<float>(), dy, batch, out_f);
}

void embedding_forward(const Tensor& out, const Tensor& table, const Tensor& indices) {
  const std::int64_t dim = table.dim(1);
  const std::int32_t* idx = indices.data<std::int32_t>();
  for (std::int64_t i = 0; i < indices.dim(0); ++i)
    std::memcpy(out.data<float>() + i * dim, table.data<float>() + idx[i] * dim, sizeof(float) * dim);
}

void embedding_backward(const Tensor& d_table, const Tensor& d_out, const Tensor& indices) {
  const std::int64_t dim = d_table.dim(1);
  const std::int32_t* idx = indices.data<std::int32_t>();
  for (std::int64_t i = 0; i < indices.dim(0); ++i) {  // in index order, so repeated rows add deterministically
    float* row = d_table.data<float>() + idx[i] * dim;
    const float* g = d_out.data<float>() + i * dim;
    for (std::int64_t j = 0; j < dim; ++j) row[j] += g[j];
  }
}

// out (M, N) = op(a) · op(b) per batch entry. Stored shapes: a (M, K) or (K, M); b (K, N) or (N, K).
void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const std::int64_t batch = a.dim(0), m = out.dim(1), n = out.dim(2);
  const std::int64_t k = trans_a ? a.dim(1) : a.dim(2);
  for (std::int64_t i = 0; i < batch; ++i)
    sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data<float>() + i * m * k, a.dim(2), b.data<float>() + i * k * n,
          b.dim(2), 0.0f, out.data<float>() + i * m * n, n);
}

// With G = d_out (M, N): d op(a) = G · op(b)ᵀ and d op(b) = op(a)ᵀ · G; a transposed operand gets the transpose.
void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b) {
  const std::int64_t batch = a.dim(0), m = d_out.dim(1), n = d_out.dim(2);
  const std::int64_t k = trans_a ? a.dim(1) : a.dim(2);
  for (std::int64_t i = 0; i < batch; ++i) {
    const float* g = d_out.data<float>() + i * m * n;  // (M, N)
    const float* ai = a.data<float>() + i * m * k;
    const float* bi = b.data<float>() + i * k * n;
    if (d_a.defined()) {
      float* da = d_a.data<float>() + i * m * k;
      if (!trans_a)  // da (M, K) = G (M, N) · op(b)ᵀ (N, K)
        sgemm(false, !trans_b, m, k, n, 1.0f, g, n, bi, b.dim(2), 0.0f, da, k);
      else  // da (K, M) = op(b) (K, N) · Gᵀ (N, M)
        sgemm(trans_b, true, k, m, n, 1.0f, bi, b.dim(2), g, n, 0.0f, da, m);
    }
    if (d_b.defined()) {
      float* db = d_b.data<float>() + i * k * n;
      if (!trans_b)  // db (K, N) = op(a)ᵀ (K, M) · G (M, N)
        sgemm(!trans_a, false, k, n, m, 1.0f, ai, a.dim(2), g, n, 0.0f, db, n);
      else  // db (N, K) = Gᵀ (N, M) · op(a) (M, K)
        sgemm(true, trans_a, n, k, m, 1.0f, g, n, ai, a.dim(2), 0.0f, db, k);
    }
  }
}

}  // namespace bigcolor::cpu
