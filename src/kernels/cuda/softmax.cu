// Softmax over the last axis on the GPU.
//
// A tensor of any leading shape is viewed as rows × cols (cols = size of the last axis). One warp owns one row
// (8 warps per block, grid-stride over rows); its 32 lanes stride over the columns and combine with a fixed
// shuffle tree, so results are deterministic.
//   forward:  out[r, j] = exp(in[r, j] − max_r) / Σ_k exp(in[r, k] − max_r)
//   backward: d_in[r, j] = out[r, j] · (d_out[r, j] − Σ_k d_out[r, k] · out[r, k])
// Every element is read before the row's outputs are written, so out may alias in and d_in may alias d_out.
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = kWarpsPerBlock * 32;

// in, out: (rows, cols).
__global__ void softmax_forward_kernel(float* out, const float* in, std::int64_t rows, std::int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const std::int64_t first_row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  const std::int64_t row_step = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = first_row; r < rows; r += row_step) {  // uniform per warp: the whole warp loops together
    const float* x = in + r * cols;
    float* y = out + r * cols;
    float m = -INFINITY;
    for (std::int64_t j = lane; j < cols; j += 32) m = fmaxf(m, x[j]);
    m = xor_max<32>(m);
    float s = 0.0f;
    for (std::int64_t j = lane; j < cols; j += 32) s += expf(x[j] - m);
    s = xor_sum<32>(s);
    const float inv = 1.0f / s;
    for (std::int64_t j = lane; j < cols; j += 32) y[j] = expf(x[j] - m) * inv;
  }
}

// d_in, d_out, out: (rows, cols).
__global__ void softmax_backward_kernel(float* d_in, const float* d_out, const float* out, std::int64_t rows,
                                        std::int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const std::int64_t first_row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  const std::int64_t row_step = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = first_row; r < rows; r += row_step) {
    const float* g = d_out + r * cols;
    const float* y = out + r * cols;
    float* dx = d_in + r * cols;
    float dot = 0.0f;
    for (std::int64_t j = lane; j < cols; j += 32) dot += g[j] * y[j];
    dot = xor_sum<32>(dot);
    for (std::int64_t j = lane; j < cols; j += 32) dx[j] = y[j] * (g[j] - dot);
  }
}

unsigned int row_blocks(std::int64_t rows) {
  return grid_blocks((rows + kWarpsPerBlock - 1) / kWarpsPerBlock, 1);
}

}  // namespace

void softmax_forward(const Tensor& out, const Tensor& in) {
  if (in.numel() == 0) return;
  const std::int64_t cols = in.ndim() == 0 ? 1 : in.dim(-1);
  const std::int64_t rows = in.numel() / cols;
  softmax_forward_kernel<<<row_blocks(rows), kThreads>>>(out.data<float>(), in.data<float>(), rows, cols);
  check_launch();
}

void softmax_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  if (!d_in.defined() || out.numel() == 0) return;
  const std::int64_t cols = out.ndim() == 0 ? 1 : out.dim(-1);
  const std::int64_t rows = out.numel() / cols;
  softmax_backward_kernel<<<row_blocks(rows), kThreads>>>(d_in.data<float>(), d_out.data<float>(),
                                                          out.data<float>(), rows, cols);
  check_launch();
}

}  // namespace bigcolor::cuda
