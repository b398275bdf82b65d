// The process-wide cuBLAS and cuDNN handles declared in cuda_check.h (see there for their lifetime and modes).
#include "kernels/cuda/cuda_check.h"

namespace bigcolor::cuda {

cublasHandle_t cublas_handle() {
  static const cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    CUBLAS_CHECK(cublasCreate(&h));
    // Full fp32 arithmetic: never TF32 (CUBLAS_TF32_TENSOR_OP_MATH is the only mode that would allow it).
    CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    return h;
  }();
  return handle;
}

cudnnHandle_t cudnn_handle() {
  static const cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    CUDNN_CHECK(cudnnCreate(&h));
    return h;
  }();
  return handle;
}

}  // namespace bigcolor::cuda
