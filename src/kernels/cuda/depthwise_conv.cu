// Depthwise convolution (groups = channels) on the GPU: a handwritten direct kernel, for EfficientNet's 3×3 and 5×5
// filters at stride 1 and 2 with TF "same" (per-side) padding (kernels/conv_window.h).
//
// Shapes: in (B, C, H, W), weight (C, 1, KH, KW), bias (C) or undefined, out (B, C, Ho, Wo) with
// Ho = (H + top + bottom − KH) / s + 1, Wo = (W + left + right − KW) / s + 1 (floor):
//   out[b, c, y, x] = bias[c] + Σ_{i,j} weight[c, 0, i, j] · in[b, c, y·s + i − top, x·s + j − left]
// with zero outside the input. Any KH, KW and stride work; nothing is specialised.
//
// Why handwritten (not cuDNN's grouped convolution): each output reads only KH·KW inputs of its own plane, so the op
// is bound by memory traffic, not arithmetic, and a direct kernel is short, exact in fp32 and has no plan to cache.
//
// Layout of the work: blockIdx.x is the plane p = b·C + c (so a block never straddles two filters), blockIdx.y and
// the threads of the block sweep that plane's Ho·Wo outputs, one thread per output element. The block first copies
// its filter's KH·KW taps into shared memory (every thread of the block reads all of them); a filter too large for
// the shared-memory budget is read straight from global memory instead (read-only cache). Consecutive threads write
// consecutive x, so the stores are coalesced and the loads of a filter row are too (strided by s).
//
// Accuracy: fp32 accumulation with fmaf, taps in row-major order (i, then j), the bias added last. The CPU may add
// in another order; the two differ by rounding only (the CUDA suite compares them at normalized error 1e-5).
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxSharedTaps = 4096;       // 16 KiB of taps; larger filters are read from global memory
constexpr unsigned int kMaxPixelBlocks = 65535;  // gridDim.y limit: larger planes loop

struct DepthwiseShape {
  std::int64_t channels, h, w, out_h, out_w;
  int kh, kw, stride, pad_top, pad_left;
};

// in (P, H, W), weight (C, KH·KW), bias (C) or null -> out (P, Ho, Wo); P = B·C, plane p uses filter p mod C.
__global__ void depthwise_conv2d_kernel(float* out, const float* in, const float* weight, const float* bias,
                                        DepthwiseShape s, bool taps_in_shared) {
  extern __shared__ float shared_taps[];
  const std::int64_t plane = blockIdx.x;
  const std::int64_t c = plane % s.channels;
  const int taps = s.kh * s.kw;
  const float* filter = weight + c * taps;
  if (taps_in_shared) {
    for (int t = threadIdx.x; t < taps; t += blockDim.x) shared_taps[t] = filter[t];
    __syncthreads();  // before any thread returns or reads the taps
    filter = shared_taps;
  }
  const float b = bias != nullptr ? bias[c] : 0.0f;
  const float* src = in + plane * s.h * s.w;
  float* dst = out + plane * s.out_h * s.out_w;
  const std::int64_t n = s.out_h * s.out_w;
  for (std::int64_t k = blockIdx.y * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<std::int64_t>(gridDim.y) * blockDim.x) {
    const std::int64_t y0 = (k / s.out_w) * s.stride - s.pad_top;   // top row of the window (may be < 0)
    const std::int64_t x0 = (k % s.out_w) * s.stride - s.pad_left;  // left column of the window
    float acc = 0.0f;
    for (int i = 0; i < s.kh; ++i) {
      const std::int64_t y = y0 + i;
      if (y < 0 || y >= s.h) continue;  // a zero row of padding
      const float* row = src + y * s.w;
      for (int j = 0; j < s.kw; ++j) {
        const std::int64_t x = x0 + j;
        if (x >= 0 && x < s.w) acc = fmaf(filter[i * s.kw + j], __ldg(row + x), acc);
      }
    }
    dst[k] = acc + b;
  }
}

}  // namespace

void depthwise_conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                              const ConvWindow& window) {
  if (out.numel() == 0) return;
  const DepthwiseShape s{in.dim(1),
                         in.dim(2),
                         in.dim(3),
                         out.dim(2),
                         out.dim(3),
                         static_cast<int>(weight.dim(2)),
                         static_cast<int>(weight.dim(3)),
                         window.stride,
                         window.pad_top,
                         window.pad_left};
  const std::int64_t planes = out.dim(0) * out.dim(1);
  BIGCOLOR_CHECK(planes <= 0x7fffffff, "depthwise_conv2d_forward: ", planes, " planes exceed the grid's x limit");
  const int taps = s.kh * s.kw;
  const bool taps_in_shared = taps <= kMaxSharedTaps;
  const std::size_t shared_bytes = taps_in_shared ? static_cast<std::size_t>(taps) * sizeof(float) : 0;
  const std::int64_t pixel_blocks = ceil_div(s.out_h * s.out_w, std::int64_t{kThreads});
  const dim3 grid(static_cast<unsigned int>(planes),
                  static_cast<unsigned int>(pixel_blocks < kMaxPixelBlocks ? pixel_blocks : kMaxPixelBlocks));
  depthwise_conv2d_kernel<<<grid, kThreads, shared_bytes>>>(out.data<float>(), in.data<float>(),
                                                            weight.data<float>(),
                                                            bias.defined() ? bias.data<float>() : nullptr, s,
                                                            taps_in_shared);
  check_launch();
}

}  // namespace bigcolor::cuda
