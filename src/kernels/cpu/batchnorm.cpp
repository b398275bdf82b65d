// Batch norm on the CPU, statistics per channel over (B, H, W), accumulated in double for a deterministic,
// order-independent-enough result. Input (B, C) is treated as (B, C, 1, 1).
#include <cmath>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
struct BnGeometry {
  std::int64_t batch, channels, spatial;  // spatial = H·W (1 for (B, C))
  std::int64_t count() const { return batch * spatial; }
  std::int64_t at(std::int64_t b, std::int64_t c) const { return (b * channels + c) * spatial; }
};
BnGeometry bn_geometry(const Tensor& in) {
  return {in.dim(0), in.dim(1), in.ndim() == 4 ? in.dim(2) * in.dim(3) : 1};
}
}  // namespace

void batchnorm_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                       const Tensor& running_mean, const Tensor& running_var, const Tensor& in,
                       const Tensor& weight, const Tensor& bias, bool training, float momentum, float eps) {
  const BnGeometry g = bn_geometry(in);
  const float* x = in.data<float>();
  float* y = out.data<float>();
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();
  const float* w = weight.defined() ? weight.data<float>() : nullptr;
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.channels; ++c) {
    double mean = rm[c], var = rv[c];
    if (training) {  // two passes: the mean, then the biased variance around it
      double sum = 0.0;
      for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t i = 0; i < g.spatial; ++i) sum += x[g.at(n, c) + i];
      mean = sum / static_cast<double>(g.count());
      double sq = 0.0;
      for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t i = 0; i < g.spatial; ++i) {
          const double d = x[g.at(n, c) + i] - mean;
          sq += d * d;
        }
      var = sq / static_cast<double>(g.count());
      const double unbiased = sq / static_cast<double>(g.count() - 1);
      rm[c] = static_cast<float>((1.0 - momentum) * rm[c] + momentum * mean);
      rv[c] = static_cast<float>((1.0 - momentum) * rv[c] + momentum * unbiased);
    }
    const float m = static_cast<float>(mean);
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    saved_mean.data<float>()[c] = m;
    saved_invstd.data<float>()[c] = invstd;
    const float scale = invstd * (w ? w[c] : 1.0f);
    const float shift = (b ? b[c] : 0.0f) - m * scale;
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t i = 0; i < g.spatial; ++i) y[g.at(n, c) + i] = x[g.at(n, c) + i] * scale + shift;
  }
}

// With x̂ = (x − mean)·invstd and ĝ = d_out·weight:
//   training: d_in = invstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))   (the statistics depend on x)
//   eval:     d_in = invstd · ĝ
//   d_weight += Σ d_out ⊙ x̂,  d_bias += Σ d_out.
void batchnorm_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight, const Tensor& saved_mean,
                        const Tensor& saved_invstd, bool training) {
  const BnGeometry g = bn_geometry(in);
  const float* x = in.data<float>();
  const float* dy = d_out.data<float>();
  const float* w = weight.defined() ? weight.data<float>() : nullptr;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.channels; ++c) {
    const double mean = saved_mean.data<float>()[c], invstd = saved_invstd.data<float>()[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t i = 0; i < g.spatial; ++i) {
        const std::int64_t k = g.at(n, c) + i;
        sum_dy += dy[k];
        sum_dy_xhat += dy[k] * (x[k] - mean) * invstd;
      }
    if (d_weight.defined()) d_weight.data<float>()[c] += static_cast<float>(sum_dy_xhat);
    if (d_bias.defined()) d_bias.data<float>()[c] += static_cast<float>(sum_dy);
    if (!d_in.defined()) continue;
    const double gain = w ? w[c] : 1.0;
    const double mean_dy = training ? sum_dy / static_cast<double>(g.count()) : 0.0;
    const double mean_dy_xhat = training ? sum_dy_xhat / static_cast<double>(g.count()) : 0.0;
    float* dx = d_in.data<float>();
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t i = 0; i < g.spatial; ++i) {
        const std::int64_t k = g.at(n, c) + i;
        const double xhat = (x[k] - mean) * invstd;
        dx[k] = static_cast<float>(gain * invstd * (dy[k] - mean_dy - xhat * mean_dy_xhat));
      }
  }
}

}  // namespace bigcolor::cpu
