// Optimizer updates on the CPU (see op_signatures.inc): the per-element arithmetic of torch.optim.Adam's
// single-tensor path and torch_ema 0.3, in the same order, so a step matches PyTorch to rounding.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

void adam_update(const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
                 float beta1, float beta2, float eps, float step_size, float bias_correction2_sqrt) {
  float* p = param.data<float>();
  float* m = exp_avg.data<float>();
  float* v = exp_avg_sq.data<float>();
  const float* g = grad.data<float>();
  const float weight = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
  const std::int64_t n = param.numel();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    // torch's lerp(start, end, w): start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w).
    const float diff = g[i] - m[i];
    m[i] = weight < 0.5f ? m[i] + weight * diff : g[i] - diff * (1.0f - weight);
    v[i] = v[i] * beta2 + one_minus_beta2 * g[i] * g[i];
    const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
    p[i] = p[i] + (-step_size) * (m[i] / denom);
  }
}

void ema_update(const Tensor& shadow, const Tensor& param, float one_minus_decay) {
  float* s = shadow.data<float>();
  const float* p = param.data<float>();
  const std::int64_t n = shadow.numel();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) s[i] = s[i] - (s[i] - p[i]) * one_minus_decay;
}

}  // namespace bigcolor::cpu
