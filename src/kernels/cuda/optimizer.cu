// Optimizer updates on the GPU (see op_signatures.inc): one grid-stride kernel each, the same per-element float
// arithmetic as the CPU twin (src/kernels/cpu/optimizer.cpp), so CPU and GPU training agree to rounding.
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void adam_kernel(float* p, float* m, float* v, const float* g, std::int64_t n, float weight,
                            float beta2, float one_minus_beta2, float eps, float step_size, float bc2_sqrt) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float diff = gi - m[i];
    const float mi = weight < 0.5f ? __fadd_rn(m[i], __fmul_rn(weight, diff))
                                   : __fsub_rn(gi, __fmul_rn(diff, 1.0f - weight));
    const float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(one_minus_beta2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
    p[i] = __fadd_rn(p[i], __fmul_rn(-step_size, __fdiv_rn(mi, denom)));
  }
}

__global__ void ema_kernel(float* s, const float* p, std::int64_t n, float one_minus_decay) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    s[i] = __fsub_rn(s[i], __fmul_rn(__fsub_rn(s[i], p[i]), one_minus_decay));
  }
}

}  // namespace

void adam_update(const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
                 float beta1, float beta2, float eps, float step_size, float bias_correction2_sqrt) {
  const std::int64_t n = param.numel();
  if (n == 0) return;
  adam_kernel<<<grid_blocks(n, kThreads), kThreads>>>(param.data<float>(), exp_avg.data<float>(), exp_avg_sq.data<float>(),
                                            grad.data<float>(), n, 1.0f - beta1, beta2, 1.0f - beta2, eps,
                                            step_size, bias_correction2_sqrt);
  check_launch();
}

void ema_update(const Tensor& shadow, const Tensor& param, float one_minus_decay) {
  const std::int64_t n = shadow.numel();
  if (n == 0) return;
  ema_kernel<<<grid_blocks(n, kThreads), kThreads>>>(shadow.data<float>(), param.data<float>(), n, one_minus_decay);
  check_launch();
}

}  // namespace bigcolor::cuda
