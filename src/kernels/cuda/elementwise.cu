// Pointwise ops on the GPU: relu, tanh, add, mul, scale, rgb_to_ab (per pixel), forward and backward.
//
// Every kernel is a grid-stride loop over the n elements of equally shaped, contiguous tensors. Each thread reads
// all inputs of element i before writing any output of element i, so an output may alias an input (out == in,
// d_in == d_out) and the two outputs of a backward may alias its inputs.
#include <cstdint>

#include "imaging/lab_math.h"
#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;

// ---- kernels ------------------------------------------------------------------------------------------------------

__global__ void relu_forward_kernel(float* out, const float* in, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float x = in[i];
    out[i] = x > 0.0f ? x : 0.0f;
  }
}

// d_in = d_out where out > 0 (out = relu(in), so out > 0 exactly where in > 0), else 0.
__global__ void relu_backward_kernel(float* d_in, const float* d_out, const float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = d_out[i];
    d_in[i] = out[i] > 0.0f ? g : 0.0f;
  }
}

__global__ void tanh_forward_kernel(float* out, const float* in, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = tanhf(in[i]);
  }
}

// d_in = d_out · (1 − out²).
__global__ void tanh_backward_kernel(float* d_in, const float* d_out, const float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float y = out[i];
    d_in[i] = d_out[i] * (1.0f - y * y);
  }
}

__global__ void add_kernel(float* out, const float* a, const float* b, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = a[i] + b[i];
  }
}

// Copies src into one or two outputs (either may be null).
__global__ void copy_to_two_kernel(float* dst0, float* dst1, const float* src, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float v = src[i];
    if (dst0 != nullptr) dst0[i] = v;
    if (dst1 != nullptr) dst1[i] = v;
  }
}

__global__ void mul_kernel(float* out, const float* a, const float* b, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = a[i] * b[i];
  }
}

// d_a = d_out · b, d_b = d_out · a (either output may be null).
__global__ void mul_backward_kernel(float* d_a, float* d_b, const float* d_out, const float* a, const float* b,
                                    std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = d_out[i];
    const float av = a[i];
    const float bv = b[i];
    if (d_a != nullptr) d_a[i] = g * bv;
    if (d_b != nullptr) d_b[i] = g * av;
  }
}

__global__ void scale_kernel(float* out, const float* in, float factor, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = in[i] * factor;
  }
}

// One thread per pixel of (B, 3, H, W) -> (B, 2, H, W); total = B · hw.
__global__ void rgb_to_ab_forward_kernel(float* out, const float* in, std::int64_t hw, std::int64_t total) {
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t n = k / hw, i = k % hw;
    const float* p = in + n * 3 * hw + i;
    const lab::Pixel px = lab::pixel(p[0], p[hw], p[2 * hw]);
    out[n * 2 * hw + i] = lab::a_of(px);
    out[n * 2 * hw + hw + i] = lab::b_of(px);
  }
}

__global__ void rgb_to_ab_backward_kernel(float* d_in, const float* d_out, const float* in, std::int64_t hw,
                                          std::int64_t total) {
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t n = k / hw, i = k % hw;
    const float* p = in + n * 3 * hw + i;
    float rgb[3];
    lab::ab_backward(p[0], p[hw], p[2 * hw], d_out[n * 2 * hw + i], d_out[n * 2 * hw + hw + i], rgb);
    for (int c = 0; c < 3; ++c) d_in[n * 3 * hw + c * hw + i] = rgb[c];
  }
}

float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

}  // namespace

// ---- ops ----------------------------------------------------------------------------------------------------------

void relu_forward(const Tensor& out, const Tensor& in) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  relu_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), n);
  check_launch();
}

void relu_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const std::int64_t n = out.numel();
  if (!d_in.defined() || n == 0) return;
  relu_backward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(d_in.data<float>(), d_out.data<float>(),
                                                               out.data<float>(), n);
  check_launch();
}

void tanh_forward(const Tensor& out, const Tensor& in) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  tanh_forward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), n);
  check_launch();
}

void tanh_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const std::int64_t n = out.numel();
  if (!d_in.defined() || n == 0) return;
  tanh_backward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(d_in.data<float>(), d_out.data<float>(),
                                                               out.data<float>(), n);
  check_launch();
}

void add_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const std::int64_t n = a.numel();
  if (n == 0) return;
  add_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), a.data<float>(), b.data<float>(), n);
  check_launch();
}

void add_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out) {
  const std::int64_t n = d_out.numel();
  if ((!d_a.defined() && !d_b.defined()) || n == 0) return;
  copy_to_two_kernel<<<grid_blocks(n, kThreads), kThreads>>>(ptr_or_null(d_a), ptr_or_null(d_b),
                                                             d_out.data<float>(), n);
  check_launch();
}

void mul_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const std::int64_t n = a.numel();
  if (n == 0) return;
  mul_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), a.data<float>(), b.data<float>(), n);
  check_launch();
}

void mul_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  const std::int64_t n = d_out.numel();
  if ((!d_a.defined() && !d_b.defined()) || n == 0) return;
  mul_backward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(ptr_or_null(d_a), ptr_or_null(d_b),
                                                              d_out.data<float>(), a.data<float>(),
                                                              b.data<float>(), n);
  check_launch();
}

void scale_forward(const Tensor& out, const Tensor& in, float factor) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  scale_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), factor, n);
  check_launch();
}

void scale_backward(const Tensor& d_in, const Tensor& d_out, float factor) {
  const std::int64_t n = d_out.numel();
  if (!d_in.defined() || n == 0) return;
  scale_kernel<<<grid_blocks(n, kThreads), kThreads>>>(d_in.data<float>(), d_out.data<float>(), factor, n);
  check_launch();
}

void rgb_to_ab_forward(const Tensor& out, const Tensor& in) {
  const std::int64_t hw = in.dim(2) * in.dim(3), total = in.dim(0) * hw;
  if (total == 0) return;
  rgb_to_ab_forward_kernel<<<grid_blocks(total, kThreads), kThreads>>>(out.data<float>(), in.data<float>(), hw,
                                                                      total);
  check_launch();
}

void rgb_to_ab_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  const std::int64_t hw = in.dim(2) * in.dim(3), total = in.dim(0) * hw;
  if (total == 0) return;
  rgb_to_ab_backward_kernel<<<grid_blocks(total, kThreads), kThreads>>>(d_in.data<float>(), d_out.data<float>(),
                                                                       in.data<float>(), hw, total);
  check_launch();
}

}  // namespace bigcolor::cuda

namespace bigcolor::cuda {

// A strided 2-D device copy: `rows` rows of `width` floats with pitches dst.dim(1) and src.dim(1).
void copy_columns(const Tensor& dst, std::int64_t dst_offset, const Tensor& src, std::int64_t src_offset,
                  std::int64_t width) {
  if (width == 0 || dst.dim(0) == 0) return;
  CUDA_CHECK(cudaMemcpy2D(dst.data<float>() + dst_offset, sizeof(float) * dst.dim(1),
                          src.data<float>() + src_offset, sizeof(float) * src.dim(1), sizeof(float) * width,
                          dst.dim(0), cudaMemcpyDeviceToDevice));
}

}  // namespace bigcolor::cuda
