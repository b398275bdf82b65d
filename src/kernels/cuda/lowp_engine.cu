// The CUDA backend's native bf16 / fp16 engine (lowp_engine.h): operand conversion with the cache of converted
// fixed weights, and the convolutions (cuDNN in the format, conv2d.cu) with the upconv's upsampling folded into the
// conversion. The matrix products (linear, bmm) are in linear.cu next to their FP32 versions.
//
// Element conversions use the scalar rules of tensor/half.h (round to nearest even, Inf and NaN kept), the same as
// ops::round_to, so a native operand holds exactly the value the emulated engine multiplies.
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/lowp_engine.h"
#include "kernels/cuda/upsample2x.cuh"
#include "tensor/half.h"
#include "tensor/immutable_copies.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;

// F32 -> the format and back, as functors for the upsampling kernels (upsample2x.cuh).
struct Narrow {
  bool bf16;
  __device__ std::uint16_t operator()(float v) const { return float_to_16bit(v, bf16); }
};
struct Widen {
  bool bf16;
  __device__ float operator()(std::uint16_t v) const { return float_from_16bit(v, bf16); }
};

// dst (n) F32 += src (n) in the format.
__global__ void accumulate_widened_kernel(float* dst, const std::uint16_t* src, bool bf16, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    dst[i] += Widen{bf16}(src[i]);
}

Tensor converted(const Tensor& t, DType format) {
  const Tensor r = Tensor::empty(t.shape(), format, Device::CUDA);
  convert(r, t);
  return r;
}

bool is_bf16(DType format) { return format == DType::BF16; }

// in (B, C, H, W) F32 -> (B, C, 2H, 2W) in the format.
Tensor upsampled(const Tensor& in, DType format) {
  const Tensor out = Tensor::empty({in.dim(0), in.dim(1), 2 * in.dim(2), 2 * in.dim(3)}, format, Device::CUDA);
  if (out.numel() == 0) return out;
  upsample2x_kernel<<<grid_blocks(out.numel(), kThreads), kThreads>>>(static_cast<std::uint16_t*>(out.raw()),
                                                                      in.data<float>(), Narrow{is_bf16(format)},
                                                                      in.dim(0) * in.dim(1), in.dim(2), in.dim(3));
  CUDA_CHECK(cudaGetLastError());
  return out;
}

}  // namespace

namespace lowp {

bool native_available(DType format) {
  static const int major = [] {
    int device = 0;
    int value = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrComputeCapabilityMajor, device));
    return value;
  }();
  return major >= (format == DType::BF16 ? 8 : 7);
}

// An immutable tensor (a fixed weight) is converted once per format (tensor/immutable_copies.h).
Tensor in_format(const Tensor& t, DType format) {
  if (!t.immutable()) return converted(t, format);
  return ImmutableCopies<DType, Tensor>::get(t, format, [&] { return converted(t, format); });
}

void conv_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding,
                  bool upsample, DType format) {
  const Tensor x = upsample ? upsampled(in, format) : in_format(in, format);
  const Tensor y = Tensor::empty(out.shape(), format, Device::CUDA);
  cudnn_conv_forward(y, x, in_format(weight, format), padding);
  convert(out, y);
  add_conv_bias(out, bias);
}

void conv_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_out, const Tensor& in,
                   const Tensor& weight, int padding, bool upsample, DType format) {
  if (!d_in.defined() && !d_weight.defined()) return;
  const Tensor dy = in_format(d_out, format);
  if (d_weight.defined() && d_weight.numel() > 0) {  // d_weight += (correlation of x with dy), rounded once
    const Tensor x = upsample ? upsampled(in, format) : in_format(in, format);
    const Tensor dw = Tensor::empty(d_weight.shape(), format, Device::CUDA);
    cudnn_conv_backward_filter(dw, x, dy, padding);
    accumulate_widened_kernel<<<grid_blocks(dw.numel(), kThreads), kThreads>>>(
        d_weight.data<float>(), static_cast<const std::uint16_t*>(dw.raw()), is_bf16(format), dw.numel());
    CUDA_CHECK(cudaGetLastError());
  }
  if (d_in.defined() && d_in.numel() > 0) {  // d_in = dy convolved with the flipped weight
    const Shape x_shape = upsample ? Shape{in.dim(0), in.dim(1), 2 * in.dim(2), 2 * in.dim(3)} : in.shape();
    const Tensor dx = Tensor::empty(x_shape, format, Device::CUDA);
    cudnn_conv_backward_data(dx, dy, in_format(weight, format), padding);
    if (upsample) {
      upsample2x_adjoint_kernel<<<grid_blocks(d_in.numel(), kThreads), kThreads>>>(
          d_in.data<float>(), static_cast<const std::uint16_t*>(dx.raw()), Widen{is_bf16(format)},
          in.dim(0) * in.dim(1), in.dim(2), in.dim(3));
      CUDA_CHECK(cudaGetLastError());
    } else {
      convert(d_in, dx);
    }
  }
}

}  // namespace lowp
}  // namespace bigcolor::cuda
