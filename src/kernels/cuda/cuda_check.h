// Error checking for the CUDA backend, and the process-wide library handles.
//
// CUDA_CHECK(expr), CUBLAS_CHECK(expr), CUDNN_CHECK(expr) evaluate a call of the CUDA runtime, cuBLAS or cuDNN and
// throw bigcolor::Error("<file>:<line>: <library> error: <expr> failed: <library's error string>") when it does
// not succeed. check_launch() goes after every kernel launch: it reports a bad launch configuration (and any
// earlier asynchronous error the runtime has recorded) with the caller's file and line.
//
// Only .cu files include this header (those of kernels/cuda, and tensor/cuda_memory.cu): it pulls in the CUDA,
// cuBLAS and cuDNN headers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <source_location>

#include "tensor/error.h"

namespace bigcolor::cuda {

// One cuBLAS handle and one cuDNN handle per process, created on first use (thread-safe) on the current device
// and never destroyed (the driver reclaims them at exit; destroying them from a static destructor could run after
// the CUDA runtime has shut down). Both work on the default (legacy) stream, like every kernel of the backend.
// The cuBLAS handle uses CUBLAS_DEFAULT_MATH: float32 GEMMs in full fp32, never TF32.
cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

namespace detail {

[[noreturn]] inline void throw_library_error(const char* library, const char* expr, const char* what,
                                             const char* file, int line) {
  ::bigcolor::detail::throw_error(file, ":", line, ": ", library, " error: ", expr, " failed: ", what);
}

inline const char* cublas_status_string(cublasStatus_t status) { return cublasGetStatusString(status); }

}  // namespace detail

// Call right after a kernel launch (`kernel<<<grid, block>>>(...); check_launch();`).
inline void check_launch(std::source_location where = std::source_location::current()) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    detail::throw_library_error("CUDA", "kernel launch", cudaGetErrorString(status), where.file_name(),
                                static_cast<int>(where.line()));
  }
}

}  // namespace bigcolor::cuda

#define CUDA_CHECK(expr)                                                                                   \
  do {                                                                                                     \
    const cudaError_t bigcolor_status_ = (expr);                                                           \
    if (bigcolor_status_ != cudaSuccess) {                                                                 \
      ::bigcolor::cuda::detail::throw_library_error("CUDA", #expr, cudaGetErrorString(bigcolor_status_),  \
                                                    __FILE__, __LINE__);                                   \
    }                                                                                                      \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                                 \
  do {                                                                                                     \
    const cublasStatus_t bigcolor_status_ = (expr);                                                        \
    if (bigcolor_status_ != CUBLAS_STATUS_SUCCESS) {                                                       \
      ::bigcolor::cuda::detail::throw_library_error(                                                       \
          "cuBLAS", #expr, ::bigcolor::cuda::detail::cublas_status_string(bigcolor_status_), __FILE__,     \
          __LINE__);                                                                                       \
    }                                                                                                      \
  } while (0)

#define CUDNN_CHECK(expr)                                                                                  \
  do {                                                                                                     \
    const cudnnStatus_t bigcolor_status_ = (expr);                                                         \
    if (bigcolor_status_ != CUDNN_STATUS_SUCCESS) {                                                        \
      ::bigcolor::cuda::detail::throw_library_error("cuDNN", #expr, cudnnGetErrorString(bigcolor_status_), \
                                                    __FILE__, __LINE__);                                   \
    }                                                                                                      \
  } while (0)
