// Nearest ×2 upsampling and its adjoint as kernel templates, with an element conversion folded into the pass: the
// FP32 op (pooling.cu) converts nothing, the reduced-precision engine (lowp_engine.cu) narrows F32 to bf16/fp16
// while it upsamples and widens the format's gradient back to F32 while it sums. One thread per output element,
// grid-stride.
#pragma once

#include <cstdint>

namespace bigcolor::cuda {

// out (P, 2H, 2W) = convert(in (P, H, W)[p, y / 2, x / 2]).
template <typename Out, typename In, typename Convert>
__global__ void upsample2x_kernel(Out* out, const In* in, Convert convert, std::int64_t planes, std::int64_t h,
                                  std::int64_t w) {
  const std::int64_t ow = 2 * w;
  const std::int64_t n = planes * 4 * h * w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % ow;
    const std::int64_t rest = i / ow;  // p · 2H + y
    const std::int64_t y = rest % (2 * h);
    const std::int64_t p = rest / (2 * h);
    out[i] = convert(in[(p * h + y / 2) * w + x / 2]);
  }
}

// d_in (P, H, W) F32 = the sum of the 2×2 block of d_out (P, 2H, 2W) over each input element, each term widened to
// F32 first; a fixed order (top left, top right, bottom left, bottom right).
template <typename In, typename Widen>
__global__ void upsample2x_adjoint_kernel(float* d_in, const In* d_out, Widen widen, std::int64_t planes,
                                          std::int64_t h, std::int64_t w) {
  const std::int64_t ow = 2 * w;
  const std::int64_t n = planes * h * w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % w;
    const std::int64_t rest = i / w;  // p · H + y
    const std::int64_t y = rest % h;
    const std::int64_t p = rest / h;
    const In* top = d_out + (p * 2 * h + 2 * y) * ow + 2 * x;  // d_out[p, 2y, 2x]
    const In* bottom = top + ow;                                 // d_out[p, 2y + 1, 2x]
    d_in[i] = widen(top[0]) + widen(top[1]) + widen(bottom[0]) + widen(bottom[1]);
  }
}

// The conversion of the FP32 op: none.
struct SameFloat {
  __device__ float operator()(float v) const { return v; }
};

}  // namespace bigcolor::cuda
