// Row-major single-precision GEMM on top of CBLAS (OpenBLAS, threaded):
//   C (m×n) = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ; lda/ldb/ldc are the row lengths of the matrices
//   as stored. One helper so every CPU kernel speaks the same, row-major, language.
#pragma once

#include <cblas.h>

#include <cstdint>

namespace bigcolor::cpu {

inline void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                  const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                  std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace bigcolor::cpu
