// The classifiers' forward-only pointwise and pooling ops on the GPU (kernels/inference_signatures.inc): SiLU, the
// squeeze-and-excitation channel gate, max pooling with kernel / stride / padding (floor mode), average pooling
// in ceil mode without padding (count_include_pad = False) and average pooling with padding in floor mode (either
// divisor: Inception-v3's 3/1/1 pools).
//
// Every kernel is a grid-stride loop with one thread per element of the tensor it writes: no atomics, each output is
// written exactly once. An NCHW tensor (B, C, H, W) is P = B·C planes of H × W. The pointwise kernels read element i
// (and the gate of its plane) before writing element i, so out may alias in.
// The pooling kernels take the output size from `out` (ops:: has checked it against the contract's formulas) and
// clip each window to the input: max pooling's padding cells never win (−∞), and an average divides by the number
// of the window's cells inside the input.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;

// 1 / (1 + e^−x) with the accurate expf (not __expf): SiLU and the gate are compared with the CPU at 1e-5.
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// out = in · sigmoid(in) = in / (1 + e^−in); for in → −∞, e^−in overflows to +∞ and the result is −0 (no NaN).
__global__ void silu_forward_kernel(float* out, const float* in, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float x = in[i];
    out[i] = x / (1.0f + expf(-x));
  }
}

// in (P, HW), gate (P) -> out (P, HW) = in · sigmoid(gate[p]); P = B·C, since gate (B, C) is packed like in's planes.
__global__ void channel_gate_forward_kernel(float* out, const float* in, const float* gate, std::int64_t n,
                                            std::int64_t hw) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = in[i] * sigmoid(__ldg(gate + i / hw));
  }
}

struct PoolShape {
  std::int64_t planes, h, w, out_h, out_w;
  int kernel, stride, pad;  // pad: 0 for the average pooling
};

// Splits a flat output index into (plane, window top row, window left column).
__device__ __forceinline__ void window_of(std::int64_t i, const PoolShape& s, std::int64_t* p, std::int64_t* y0,
                                          std::int64_t* x0) {
  const std::int64_t x = i % s.out_w;
  const std::int64_t rest = i / s.out_w;  // p · Ho + y
  *y0 = (rest % s.out_h) * s.stride - s.pad;
  *x0 = x * s.stride - s.pad;
  *p = rest / s.out_h;
}

// in (P, H, W) -> out (P, Ho, Wo): the maximum over the window's cells inside the input, by strict > from −∞, so a
// NaN input never wins, as on the CPU (std::max from −∞) and in maxpool2x2 (PyTorch would propagate it).
__global__ void maxpool2d_forward_kernel(float* out, const float* in, PoolShape s) {
  const std::int64_t n = s.planes * s.out_h * s.out_w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t p = 0, y0 = 0, x0 = 0;
    window_of(i, s, &p, &y0, &x0);
    const std::int64_t y_begin = y0 > 0 ? y0 : 0, y_end = y0 + s.kernel < s.h ? y0 + s.kernel : s.h;
    const std::int64_t x_begin = x0 > 0 ? x0 : 0, x_end = x0 + s.kernel < s.w ? x0 + s.kernel : s.w;
    const float* plane = in + p * s.h * s.w;
    float m = -INFINITY;  // what a window of padding only would give (the contract rules that out: pad ≤ kernel/2)
    for (std::int64_t y = y_begin; y < y_end; ++y) {
      for (std::int64_t x = x_begin; x < x_end; ++x) {
        const float v = plane[y * s.w + x];
        if (v > m) m = v;
      }
    }
    out[i] = m;
  }
}

// in (P, H, W) -> out (P, Ho, Wo): the mean of the window's cells inside the input (ceil mode lets the last window
// of a row or column hang over the edge; the cells past it are not counted).
__global__ void avgpool2d_ceil_forward_kernel(float* out, const float* in, PoolShape s) {
  const std::int64_t n = s.planes * s.out_h * s.out_w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t p = 0, y0 = 0, x0 = 0;
    window_of(i, s, &p, &y0, &x0);
    const std::int64_t y_end = y0 + s.kernel < s.h ? y0 + s.kernel : s.h;
    const std::int64_t x_end = x0 + s.kernel < s.w ? x0 + s.kernel : s.w;
    const float* plane = in + p * s.h * s.w;
    float sum = 0.0f;
    for (std::int64_t y = y0; y < y_end; ++y) {
      for (std::int64_t x = x0; x < x_end; ++x) sum += plane[y * s.w + x];
    }
    // ≥ 1 cell: the contract drops a last window that would start at or past the edge.
    out[i] = sum / static_cast<float>((y_end - y0) * (x_end - x0));
  }
}

// in (P, H, W) -> out (P, Ho, Wo), floor mode with zero padding: the sum of the window's cells inside the input,
// divided by kernel² (count_include_pad: the window never reaches past the padding in floor mode) or by the number
// of those cells (≥ 1: pad ≤ kernel/2).
__global__ void avgpool2d_forward_kernel(float* out, const float* in, PoolShape s, bool count_include_pad) {
  const std::int64_t n = s.planes * s.out_h * s.out_w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t p = 0, y0 = 0, x0 = 0;
    window_of(i, s, &p, &y0, &x0);
    const std::int64_t y_begin = y0 > 0 ? y0 : 0, y_end = y0 + s.kernel < s.h ? y0 + s.kernel : s.h;
    const std::int64_t x_begin = x0 > 0 ? x0 : 0, x_end = x0 + s.kernel < s.w ? x0 + s.kernel : s.w;
    const float* plane = in + p * s.h * s.w;
    float sum = 0.0f;
    for (std::int64_t y = y_begin; y < y_end; ++y) {
      for (std::int64_t x = x_begin; x < x_end; ++x) sum += plane[y * s.w + x];
    }
    const float cells = count_include_pad ? static_cast<float>(s.kernel * s.kernel)
                                          : static_cast<float>((y_end - y_begin) * (x_end - x_begin));
    out[i] = sum / cells;
  }
}

PoolShape pool_shape(const Tensor& out, const Tensor& in, int kernel, int stride, int pad) {
  return {in.dim(0) * in.dim(1), in.dim(2), in.dim(3), out.dim(2), out.dim(3), kernel, stride, pad};
}

}  // namespace

void silu_forward(const Tensor& out, const Tensor& in) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  silu_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), n);
  check_launch();
}

void channel_gate_forward(const Tensor& out, const Tensor& in, const Tensor& gate) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  const std::int64_t hw = in.dim(2) * in.dim(3);
  channel_gate_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                      gate.data<float>(), n, hw);
  check_launch();
}

void maxpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  maxpool2d_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                   pool_shape(out, in, kernel, stride, pad));
  check_launch();
}

void avgpool2d_ceil_forward(const Tensor& out, const Tensor& in, int kernel, int stride) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  avgpool2d_ceil_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                        pool_shape(out, in, kernel, stride, 0));
  check_launch();
}

void avgpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad, bool count_include_pad) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  avgpool2d_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(
      out.data<float>(), in.data<float>(), pool_shape(out, in, kernel, stride, pad), count_include_pad);
  check_launch();
}

}  // namespace bigcolor::cuda
