// Resampling ops on the GPU: nearest ×2 upsampling and 2×2 / stride-2 average and max pooling.
//
// An NCHW tensor (B, C, H, W) is treated as P = B·C independent planes of H × W. Every kernel is a grid-stride loop
// with one thread per element of the tensor it WRITES, so there are no atomics and each output is written exactly
// once (backward kernels run over d_in, gathering from d_out).
// Pooling uses floor semantics: Ho = H / 2, Wo = W / 2; an odd last row / column of the input is ignored by the
// forward and gets a zero gradient. Max pooling scans a window in the order (0,0), (0,1), (1,0), (1,1) and keeps
// the first maximum (strict >), forward and backward alike.
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/upsample2x.cuh"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;

// in (P, H, W) -> out (P, Ho, Wo), Ho = H / 2, Wo = W / 2.
__global__ void avgpool2x2_forward_kernel(float* out, const float* in, std::int64_t planes, std::int64_t h,
                                          std::int64_t w) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const std::int64_t n = planes * oh * ow;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % ow;
    const std::int64_t rest = i / ow;
    const std::int64_t y = rest % oh;
    const std::int64_t p = rest / oh;
    const float* top = in + (p * h + 2 * y) * w + 2 * x;  // in[p, 2y, 2x]
    const float* bottom = top + w;
    out[i] = 0.25f * (top[0] + top[1] + bottom[0] + bottom[1]);
  }
}

// d_out (P, Ho, Wo) -> d_in (P, H, W): a quarter of the window's gradient, zero in a dropped row / column.
__global__ void avgpool2x2_backward_kernel(float* d_in, const float* d_out, std::int64_t planes, std::int64_t h,
                                           std::int64_t w) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const std::int64_t n = planes * h * w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % w;
    const std::int64_t rest = i / w;
    const std::int64_t y = rest % h;
    const std::int64_t p = rest / h;
    const std::int64_t wy = y / 2;
    const std::int64_t wx = x / 2;
    d_in[i] = (wy < oh && wx < ow) ? 0.25f * d_out[(p * oh + wy) * ow + wx] : 0.0f;
  }
}

// Position (0..3, in scan order) of the first maximum of the 2×2 window whose top-left element is `top`.
__device__ int first_max_position(const float* top, std::int64_t w, float* max_value) {
  const float v[4] = {top[0], top[1], top[w], top[w + 1]};
  int best = 0;
  for (int k = 1; k < 4; ++k) {
    if (v[k] > v[best]) best = k;
  }
  *max_value = v[best];
  return best;
}

// in (P, H, W) -> out (P, Ho, Wo).
__global__ void maxpool2x2_forward_kernel(float* out, const float* in, std::int64_t planes, std::int64_t h,
                                          std::int64_t w) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const std::int64_t n = planes * oh * ow;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % ow;
    const std::int64_t rest = i / ow;
    const std::int64_t y = rest % oh;
    const std::int64_t p = rest / oh;
    float m = 0.0f;
    first_max_position(in + (p * h + 2 * y) * w + 2 * x, w, &m);
    out[i] = m;
  }
}

// d_out (P, Ho, Wo), in (P, H, W) -> d_in (P, H, W): the window's gradient goes to its first maximum only.
__global__ void maxpool2x2_backward_kernel(float* d_in, const float* d_out, const float* in, std::int64_t planes,
                                           std::int64_t h, std::int64_t w) {
  const std::int64_t oh = h / 2;
  const std::int64_t ow = w / 2;
  const std::int64_t n = planes * h * w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % w;
    const std::int64_t rest = i / w;
    const std::int64_t y = rest % h;
    const std::int64_t p = rest / h;
    const std::int64_t wy = y / 2;
    const std::int64_t wx = x / 2;
    float g = 0.0f;
    if (wy < oh && wx < ow) {
      float m = 0.0f;
      const int best = first_max_position(in + (p * h + 2 * wy) * w + 2 * wx, w, &m);
      const int mine = static_cast<int>((y - 2 * wy) * 2 + (x - 2 * wx));
      if (best == mine) g = d_out[(p * oh + wy) * ow + wx];
    }
    d_in[i] = g;
  }
}

// (B, C, H, W) -> planes B·C, H, W.
struct Planes {
  std::int64_t planes, h, w;
};
Planes planes_of(const Tensor& t) { return {t.dim(0) * t.dim(1), t.dim(2), t.dim(3)}; }

}  // namespace

void upsample_nearest2x_forward(const Tensor& out, const Tensor& in) {
  if (out.numel() == 0) return;
  const Planes s = planes_of(in);
  upsample2x_kernel<<<grid_blocks(out.numel(), kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                      SameFloat{}, s.planes, s.h, s.w);
  check_launch();
}

void upsample_nearest2x_backward(const Tensor& d_in, const Tensor& d_out) {
  if (!d_in.defined() || d_in.numel() == 0) return;
  const Planes s = planes_of(d_in);
  upsample2x_adjoint_kernel<<<grid_blocks(d_in.numel(), kThreads), kThreads>>>(
      d_in.data<float>(), d_out.data<float>(), SameFloat{}, s.planes, s.h, s.w);
  check_launch();
}

void avgpool2x2_forward(const Tensor& out, const Tensor& in) {
  if (out.numel() == 0) return;
  const Planes s = planes_of(in);
  avgpool2x2_forward_kernel<<<grid_blocks(out.numel(), kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                              s.planes, s.h, s.w);
  check_launch();
}

// Runs over d_in even when d_out is empty (H or W = 1): then every element of d_in is in a dropped row / column
// and gets zero.
void avgpool2x2_backward(const Tensor& d_in, const Tensor& d_out) {
  if (!d_in.defined() || d_in.numel() == 0) return;
  const Planes s = planes_of(d_in);
  avgpool2x2_backward_kernel<<<grid_blocks(d_in.numel(), kThreads), kThreads>>>(
      d_in.data<float>(), d_out.numel() == 0 ? nullptr : d_out.data<float>(), s.planes, s.h, s.w);
  check_launch();
}

void maxpool2x2_forward(const Tensor& out, const Tensor& in) {
  if (out.numel() == 0) return;
  const Planes s = planes_of(in);
  maxpool2x2_forward_kernel<<<grid_blocks(out.numel(), kThreads), kThreads>>>(out.data<float>(), in.data<float>(),
                                                                              s.planes, s.h, s.w);
  check_launch();
}

void maxpool2x2_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  if (!d_in.defined() || d_in.numel() == 0) return;
  const Planes s = planes_of(in);
  maxpool2x2_backward_kernel<<<grid_blocks(d_in.numel(), kThreads), kThreads>>>(
      d_in.data<float>(), d_out.numel() == 0 ? nullptr : d_out.data<float>(), in.data<float>(), s.planes, s.h,
      s.w);
  check_launch();
}

}  // namespace bigcolor::cuda
