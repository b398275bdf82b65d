// F32 / F16 / BF16 conversion on the GPU (kernels/precision_signatures.inc): the same scalar rules as the CPU
// (tensor/half.h, compiled for the device), one thread per element, grid-stride.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_helpers.cuh"
#include "tensor/half.h"

namespace bigcolor::cuda {

namespace {

__device__ float load(const void* p, DType t, std::int64_t i) {
  if (t == DType::F32) return static_cast<const float*>(p)[i];
  const std::uint16_t h = static_cast<const std::uint16_t*>(p)[i];
  return float_from_16bit(h, t != DType::F16);
}

__device__ void store(void* p, DType t, std::int64_t i, float v) {
  if (t == DType::F32)
    static_cast<float*>(p)[i] = v;
  else
    static_cast<std::uint16_t*>(p)[i] = float_to_16bit(v, t != DType::F16);
}

__global__ void convert_kernel(void* out, DType to, const void* in, DType from, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    store(out, to, i, load(in, from, i));
}

__global__ void round_kernel(float* out, const float* in, DType format, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    out[i] = float_from_16bit(float_to_16bit(in[i], format == DType::BF16), format == DType::BF16);
}

}  // namespace

void convert(const Tensor& out, const Tensor& in) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  if (out.dtype() == in.dtype()) {
    if (out.raw() != in.raw()) CUDA_CHECK(cudaMemcpy(out.raw(), in.raw(), in.nbytes(), cudaMemcpyDeviceToDevice));
    return;
  }
  constexpr int kThreads = 256;
  convert_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.raw(), out.dtype(), in.raw(), in.dtype(), n);
  CUDA_CHECK(cudaGetLastError());
}

void round_to(const Tensor& out, const Tensor& in, DType format) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  constexpr int kThreads = 256;
  round_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), format, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace bigcolor::cuda
