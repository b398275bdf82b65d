// Matrix products on the GPU: linear (fully connected), batched matmul (cuBLAS, full fp32, never TF32) and the
// embedding lookup (handwritten gather / scatter-add). The reduced-precision linear and bmm of lowp_engine.h are
// the same products with bf16 / fp16 operands on the tensor cores (cublasGemmStridedBatchedEx, F32 results).
//
// Row-major through column-major cuBLAS: a row-major matrix X (r × c) is, read as column-major, Xᵀ (c × r) with
// leading dimension c. So the row-major product C = op(A)·op(B) is computed as the column-major product
// Cᵀ = op(B)ᵀ·op(A)ᵀ, i.e. cuBLAS gets B first and A second, with the same transpose flags. See gemm_row_major.
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm_rows.h"
#include "kernels/cuda/lowp_engine.h"

namespace bigcolor::cuda {

void gemm_rows(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatrixView a,
               MatrixView b, float beta, float* c, std::int64_t ldc, std::int64_t stride_c, std::int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) {
    // An empty sum: C = beta · C. Only overwriting (beta = 0) and accumulating (beta = 1) are used here.
    if (beta == 0.0f && ldc == n && stride_c == m * n)
      CUDA_CHECK(cudaMemset(c, 0, static_cast<std::size_t>(batch * m * n) * sizeof(float)));
    else if (beta == 0.0f)
      for (std::int64_t i = 0; i < batch; ++i)
        CUDA_CHECK(cudaMemset2D(c + i * stride_c, static_cast<std::size_t>(ldc) * sizeof(float), 0,
                                static_cast<std::size_t>(n) * sizeof(float), static_cast<std::size_t>(m)));
    return;
  }
  // Column-major view: Cᵀ (N × M) = op(B)ᵀ (N × K) · op(A)ᵀ (K × M); a row pitch is a column-major leading dimension.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (a.type == DType::F32) {
    CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                           static_cast<int>(k), &alpha, static_cast<const float*>(b.p),
                                           static_cast<int>(b.ld), static_cast<long long>(b.stride),
                                           static_cast<const float*>(a.p), static_cast<int>(a.ld),
                                           static_cast<long long>(a.stride), &beta, c, static_cast<int>(ldc),
                                           static_cast<long long>(stride_c), static_cast<int>(batch)));
    return;
  }
  const cudaDataType_t type = a.type == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(cublas_handle(), op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                          static_cast<int>(k), &alpha, b.p, type, static_cast<int>(b.ld),
                                          static_cast<long long>(b.stride), a.p, type, static_cast<int>(a.ld),
                                          static_cast<long long>(a.stride), &beta, c, CUDA_R_32F,
                                          static_cast<int>(ldc), static_cast<long long>(stride_c),
                                          static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

namespace {

constexpr int kThreads = 256;

// A matrix operand: a device pointer (null when empty) and its element type, F32 or (reduced precision) BF16 / F16.
struct Operand {
  const void* p;
  DType type;
};

Operand operand(const Tensor& t) { return {t.defined() && t.numel() > 0 ? t.raw() : nullptr, t.dtype()}; }

// Row-major, batched, contiguous: for each of `batch` matrices, C (M × N) = alpha · op(A) · op(B) + beta · C,
// A stored (M × K), or (K × M) when trans_a; B stored (K × N), or (N × K) when trans_b; C stored (M × N), F32.
// Consecutive matrices of a batch are M·K, K·N and M·N elements apart (gemm_rows.h has the general form).
void gemm_row_major(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    Operand a, Operand b, float beta, float* c, std::int64_t batch) {
  gemm_rows(trans_a, trans_b, m, n, k, alpha, {a.p, a.type, trans_a ? m : k, m * k},
            {b.p, b.type, trans_b ? k : n, k * n}, beta, c, n, m * n, batch);
}

// out (rows, cols) += bias (cols), broadcast over rows.
__global__ void add_bias_rows_kernel(float* out, const float* bias, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] += bias[i % cols];
  }
}

// d_bias (cols) += Σ_rows d_out (rows, cols). Block (32, 8): threadIdx.x picks the column within a 32-column
// tile (coalesced loads), threadIdx.y strides over the rows; the 8 partial sums of a column are then added in a
// fixed order. Deterministic, no atomics.
constexpr int kColTile = 32;
constexpr int kRowLanes = 8;
__global__ void column_sum_accumulate_kernel(float* d_bias, const float* d_out, std::int64_t rows,
                                             std::int64_t cols) {
  __shared__ float partial[kRowLanes][kColTile];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  float acc = 0.0f;
  if (col < cols) {
    for (std::int64_t r = threadIdx.y; r < rows; r += kRowLanes) acc += d_out[r * cols + col];
  }
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    d_bias[col] += total;
  }
}

void add_bias_rows(float* out, const float* bias, std::int64_t rows, std::int64_t cols) {
  if (rows * cols == 0) return;
  add_bias_rows_kernel<<<grid_blocks(rows * cols, kThreads), kThreads>>>(out, bias, rows, cols);
  check_launch();
}

void column_sum_accumulate(float* d_bias, const float* d_out, std::int64_t rows, std::int64_t cols) {
  if (cols == 0 || rows == 0) return;  // rows = 0: an empty sum adds nothing
  const dim3 block(kColTile, kRowLanes);
  const auto blocks = static_cast<unsigned int>((cols + kColTile - 1) / kColTile);
  column_sum_accumulate_kernel<<<blocks, block>>>(d_bias, d_out, rows, cols);
  check_launch();
}

// out (B, D) = table (V, D)[indices (B)].
__global__ void embedding_gather_kernel(float* out, const float* table, const std::int32_t* indices,
                                        std::int64_t rows, std::int64_t dim) {
  const std::int64_t n = rows * dim;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t row = i / dim;
    const std::int64_t d = i - row * dim;
    out[i] = table[static_cast<std::int64_t>(indices[row]) * dim + d];
  }
}

// d_table (V, D)[indices[b]] += d_out (B, D)[b] for b = 0 .. B−1 in order. One thread per column d walks all rows
// b itself, so repeated indices add up without atomics and in a fixed order (deterministic). Parallel over D only;
// fine for the batch sizes of an embedding of labels.
__global__ void embedding_scatter_add_kernel(float* d_table, const float* d_out, const std::int32_t* indices,
                                             std::int64_t rows, std::int64_t dim) {
  for (std::int64_t d = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; d < dim;
       d += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    for (std::int64_t row = 0; row < rows; ++row) {
      d_table[static_cast<std::int64_t>(indices[row]) * dim + d] += d_out[row * dim + d];
    }
  }
}

// Device pointer of a tensor, or null when it is undefined or empty (then no kernel reads it).
float* data_or_null(const Tensor& t) { return t.defined() && t.numel() > 0 ? t.data<float>() : nullptr; }

}  // namespace

// ---- linear: out (B, O) = in (B, I) · weight (O, I)ᵀ + bias (O) ---------------------------------------------------
// The bodies take the operands (F32, or both in a reduced format); out, d_in, d_weight, d_bias are F32.

namespace {

void linear_forward_impl(const Tensor& out, Operand in, Operand weight, const Tensor& bias, std::int64_t batch,
                         std::int64_t in_features, std::int64_t out_features) {
  if (batch == 0 || out_features == 0) return;
  gemm_row_major(false, true, batch, out_features, in_features, 1.0f, in, weight, 0.0f, out.data<float>(), 1);
  if (bias.defined()) add_bias_rows(out.data<float>(), bias.data<float>(), batch, out_features);
}

void linear_backward_impl(const Tensor& d_in, const Tensor& d_weight, Operand dy, Operand in, Operand weight,
                          std::int64_t batch, std::int64_t in_features, std::int64_t out_features) {
  if (d_in.defined()) {  // d_in (B, I) = d_out (B, O) · weight (O, I)
    gemm_row_major(false, false, batch, in_features, out_features, 1.0f, dy, weight, 0.0f, data_or_null(d_in), 1);
  }
  if (d_weight.defined()) {  // d_weight (O, I) += d_out (B, O)ᵀ · in (B, I)
    gemm_row_major(true, false, out_features, in_features, batch, 1.0f, dy, in, 1.0f, data_or_null(d_weight), 1);
  }
}

}  // namespace

void linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  linear_forward_impl(out, operand(in), operand(weight), bias, in.dim(0), in.dim(1), weight.dim(0));
}

void linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight) {
  linear_backward_impl(d_in, d_weight, operand(d_out), operand(in), operand(weight), in.dim(0), in.dim(1),
                       weight.dim(0));
  if (d_bias.defined()) {  // d_bias (O) += Σ_b d_out (B, O)
    column_sum_accumulate(data_or_null(d_bias), data_or_null(d_out), in.dim(0), weight.dim(0));
  }
}

void lowp::linear_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                          DType format) {
  linear_forward_impl(out, operand(in_format(in, format)), operand(in_format(weight, format)), bias, in.dim(0),
                      in.dim(1), weight.dim(0));
}

void lowp::linear_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_out, const Tensor& in,
                           const Tensor& weight, DType format) {
  if (!d_in.defined() && !d_weight.defined()) return;
  const Tensor dy = in_format(d_out, format);
  // Only the operands a product reads are converted.
  const Tensor x = d_weight.defined() ? in_format(in, format) : Tensor{};
  const Tensor w = d_in.defined() ? in_format(weight, format) : Tensor{};
  linear_backward_impl(d_in, d_weight, operand(dy), operand(x), operand(w), in.dim(0), in.dim(1), weight.dim(0));
}

// ---- embedding ----------------------------------------------------------------------------------------------------

void embedding_forward(const Tensor& out, const Tensor& table, const Tensor& indices) {
  const std::int64_t rows = indices.numel();
  const std::int64_t dim = table.dim(1);
  if (rows * dim == 0) return;
  embedding_gather_kernel<<<grid_blocks(rows * dim, kThreads), kThreads>>>(
      out.data<float>(), table.data<float>(), indices.data<std::int32_t>(), rows, dim);
  check_launch();
}

void embedding_backward(const Tensor& d_table, const Tensor& d_out, const Tensor& indices) {
  if (!d_table.defined()) return;
  const std::int64_t rows = indices.numel();
  const std::int64_t dim = d_table.dim(1);
  if (rows * dim == 0) return;
  embedding_scatter_add_kernel<<<grid_blocks(dim, kThreads), kThreads>>>(
      d_table.data<float>(), d_out.data<float>(), indices.data<std::int32_t>(), rows, dim);
  check_launch();
}

// ---- bmm: out (B, M, N) = op(a) · op(b) ---------------------------------------------------------------------------
// a is (B, M, K), or (B, K, M) with trans_a; b is (B, K, N), or (B, N, K) with trans_b.

namespace {

void bmm_forward_impl(const Tensor& out, Operand a, Operand b, std::int64_t k, bool trans_a, bool trans_b) {
  const std::int64_t batch = out.dim(0);
  const std::int64_t m = out.dim(1);
  const std::int64_t n = out.dim(2);
  if (batch * m * n == 0) return;
  gemm_row_major(trans_a, trans_b, m, n, k, 1.0f, a, b, 0.0f, out.data<float>(), batch);
}

// With C = op(A)·op(B): ∂op(A) = dC·op(B)ᵀ and ∂op(B) = op(A)ᵀ·dC. A stored transposed gets the transpose of
// ∂op(A): ∂A = op(B)·dCᵀ; likewise ∂B = dCᵀ·op(A) when B is stored transposed. Both overwrite.
void bmm_backward_impl(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, Operand dc, Operand pa,
                       Operand pb, std::int64_t k, bool trans_a, bool trans_b) {
  const std::int64_t batch = d_out.dim(0);
  const std::int64_t m = d_out.dim(1);
  const std::int64_t n = d_out.dim(2);
  if (batch == 0 || k == 0) return;  // d_a and d_b are empty
  if (d_a.defined()) {
    if (!trans_a) {
      // d_a (M × K) = dC (M × N) · op(B)ᵀ; op(B)ᵀ is b itself (N × K) when trans_b, else bᵀ of b (K × N).
      gemm_row_major(false, !trans_b, m, k, n, 1.0f, dc, pb, 0.0f, data_or_null(d_a), batch);
    } else {
      // d_a (K × M) = op(B) (K × N) · dCᵀ (N × M); op(B) is bᵀ of b (N × K) when trans_b.
      gemm_row_major(trans_b, true, k, m, n, 1.0f, pb, dc, 0.0f, data_or_null(d_a), batch);
    }
  }
  if (d_b.defined()) {
    if (!trans_b) {
      // d_b (K × N) = op(A)ᵀ (K × M) · dC (M × N); op(A)ᵀ is a itself (K × M) when trans_a, else aᵀ of a (M × K).
      gemm_row_major(!trans_a, false, k, n, m, 1.0f, pa, dc, 0.0f, data_or_null(d_b), batch);
    } else {
      // d_b (N × K) = dCᵀ (N × M) · op(A) (M × K); op(A) is aᵀ of a (K × M) when trans_a.
      gemm_row_major(true, trans_a, n, k, m, 1.0f, dc, pa, 0.0f, data_or_null(d_b), batch);
    }
  }
}

std::int64_t inner_dim(const Tensor& a, bool trans_a) { return trans_a ? a.dim(1) : a.dim(2); }

}  // namespace

void bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  bmm_forward_impl(out, operand(a), operand(b), inner_dim(a, trans_a), trans_a, trans_b);
}

void bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                  bool trans_a, bool trans_b) {
  bmm_backward_impl(d_a, d_b, d_out, operand(d_out), operand(a), operand(b), inner_dim(a, trans_a), trans_a,
                    trans_b);
}

void lowp::bmm_forward(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                       DType format) {
  bmm_forward_impl(out, operand(in_format(a, format)), operand(in_format(b, format)), inner_dim(a, trans_a), trans_a,
                   trans_b);
}

void lowp::bmm_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                        bool trans_a, bool trans_b, DType format) {
  // d_a reads dC and b, d_b reads dC and a: only those are converted.
  const Tensor dc = in_format(d_out, format);
  const Tensor pa = d_b.defined() ? in_format(a, format) : Tensor{};
  const Tensor pb = d_a.defined() ? in_format(b, format) : Tensor{};
  bmm_backward_impl(d_a, d_b, d_out, operand(dc), operand(pa), operand(pb), inner_dim(a, trans_a), trans_a,
                    trans_b);
}

}  // namespace bigcolor::cuda
