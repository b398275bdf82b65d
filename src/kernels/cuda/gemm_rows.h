// Row-major strided matrix products on cuBLAS for the kernels of this folder (defined in linear.cu): the general
// form behind linear, bmm and the reduced-precision attention backward, which multiplies column blocks of (C, N)
// activations in place (a block of columns n0.. of a row-major (C, N) matrix is a (C, nc) matrix with row pitch N).
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace bigcolor::cuda {

// One operand: a device pointer to its first element, its element type (F32, or BF16 / F16 for the tensor cores),
// the pitch of its stored rows in elements, and the distance between consecutive matrices of a batch.
struct MatrixView {
  const void* p;
  DType type;
  std::int64_t ld;
  std::int64_t stride;
};

// For each of `batch` matrices, C (M × N) = alpha · op(A) · op(B) + beta · C, all row-major: A stored (M × K), or
// (K × M) when trans_a; B stored (K × N), or (N × K) when trans_b; C F32 with row pitch ldc, matrices stride_c
// apart. A and B share one type: F32 through cublasSgemm (full fp32, never TF32), BF16 / F16 through cublasGemmEx
// with F32 compute (the tensor cores). beta = 0 does not read C (it may hold NaN). K = 0 gives C = beta · C.
void gemm_rows(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatrixView a,
               MatrixView b, float beta, float* c, std::int64_t ldc, std::int64_t stride_c, std::int64_t batch);

}  // namespace bigcolor::cuda
