// Class-conditional batch norm (+ ReLU) on the CPU (see fused_signatures.inc).
//
// The readable reference of kernels/cuda/ccbn.cu. One OpenMP work item per channel c; its elements are the B planes
// in[b, c, :, :] of HW contiguous floats. Sums are accumulated in double, in a fixed order.
//
// Forward, with per-channel (mean, invstd) and per-sample (gain, bias) = (gain[b, c], bias[b, c]):
//   training: mean = Σx / n, var = Σ(x − mean)² / n (two passes, n = B·HW), invstd = 1 / sqrt(var + eps),
//             running_mean ← (1 − momentum)·running_mean + momentum·mean,
//             running_var  ← (1 − momentum)·running_var  + momentum·var·n/(n − 1);
//   eval:     mean = running_mean, invstd = 1 / sqrt(running_var + eps).
//   out = act((x − mean)·(invstd·gain) + bias), act = ReLU or identity; saved_mean/saved_invstd = what was used.
// Backward, with x̂ = (x − mean)·invstd, gz = d_out·[out > 0] (relu) or d_out, ĝ = gz·gain[b, c]:
//   d_bias[b, c] = Σ_hw gz,  d_gain[b, c] = Σ_hw gz·x̂       (overwritten)
//   training: d_in = invstd·(ĝ − mean_{b,hw}(ĝ) − x̂·mean_{b,hw}(ĝ·x̂)),  eval: d_in = invstd·ĝ.
// Note Σ_{b,hw} ĝ = Σ_b gain[b, c]·d_bias[b, c] and Σ_{b,hw} ĝ·x̂ = Σ_b gain[b, c]·d_gain[b, c].
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
struct Geometry {
  std::int64_t batch, channels, hw;
  std::int64_t plane(std::int64_t b, std::int64_t c) const { return b * channels + c; }  // index of (b, c)
};
Geometry geometry_of(const Tensor& in) { return {in.dim(0), in.dim(1), in.dim(2) * in.dim(3)}; }
}  // namespace

void ccbn_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                  const Tensor& running_mean, const Tensor& running_var, const Tensor& in, const Tensor& gain,
                  const Tensor& bias, bool training, float momentum, float eps, bool relu) {
  const Geometry g = geometry_of(in);
  const float* x = in.data<float>();      // (B, C, H, W)
  const float* ga = gain.data<float>();   // (B, C)
  const float* be = bias.data<float>();   // (B, C)
  float* y = out.data<float>();           // (B, C, H, W)
  float* rm = running_mean.data<float>(); // (C)
  float* rv = running_var.data<float>();  // (C)
  float* sm = saved_mean.data<float>();   // (C)
  float* si = saved_invstd.data<float>(); // (C)
  const double count = static_cast<double>(g.batch * g.hw);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.channels; ++c) {
    double mean = rm[c];
    double var = rv[c];
    if (training) {
      double sum = 0.0;
      for (std::int64_t b = 0; b < g.batch; ++b) {
        const float* p = x + g.plane(b, c) * g.hw;
        for (std::int64_t i = 0; i < g.hw; ++i) sum += p[i];
      }
      mean = sum / count;
      double sq = 0.0;
      for (std::int64_t b = 0; b < g.batch; ++b) {
        const float* p = x + g.plane(b, c) * g.hw;
        for (std::int64_t i = 0; i < g.hw; ++i) {
          const double d = p[i] - mean;
          sq += d * d;
        }
      }
      var = sq / count;
      const double unbiased = sq / (count - 1.0);  // count > 1 (checked by the dispatcher)
      rm[c] = static_cast<float>((1.0 - momentum) * rm[c] + momentum * mean);
      rv[c] = static_cast<float>((1.0 - momentum) * rv[c] + momentum * unbiased);
    }
    const float m = static_cast<float>(mean);
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    sm[c] = m;
    si[c] = invstd;
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const std::int64_t pl = g.plane(b, c);
      const float scale = invstd * ga[pl];
      const float shift = be[pl];
      const float* p = x + pl * g.hw;
      float* q = y + pl * g.hw;
      for (std::int64_t i = 0; i < g.hw; ++i) {
        const float z = (p[i] - m) * scale + shift;
        q[i] = relu ? (z > 0.0f ? z : 0.0f) : z;
      }
    }
  }
}

void ccbn_backward(const Tensor& d_in, const Tensor& d_gain, const Tensor& d_bias, const Tensor& d_out,
                   const Tensor& in, const Tensor& gain, const Tensor& out, const Tensor& saved_mean,
                   const Tensor& saved_invstd, bool training, bool relu) {
  const Geometry g = geometry_of(in);
  const float* x = in.data<float>();       // (B, C, H, W)
  const float* dy = d_out.data<float>();   // (B, C, H, W)
  const float* y = out.data<float>();      // (B, C, H, W)
  const float* ga = gain.data<float>();    // (B, C)
  const float* sm = saved_mean.data<float>();
  const float* si = saved_invstd.data<float>();
  float* dx = d_in.defined() ? d_in.data<float>() : nullptr;
  float* dg = d_gain.defined() ? d_gain.data<float>() : nullptr;
  float* db = d_bias.defined() ? d_bias.data<float>() : nullptr;
  const double count = static_cast<double>(g.batch * g.hw);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.channels; ++c) {
    const double mean = sm[c];
    const double invstd = si[c];
    double sum_g = 0.0;   // Σ_{b,hw} ĝ
    double sum_gx = 0.0;  // Σ_{b,hw} ĝ·x̂
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const std::int64_t pl = g.plane(b, c);
      const std::int64_t base = pl * g.hw;
      double s_gz = 0.0, s_gzx = 0.0;
      for (std::int64_t i = 0; i < g.hw; ++i) {
        const double gz = (!relu || y[base + i] > 0.0f) ? dy[base + i] : 0.0;
        s_gz += gz;
        s_gzx += gz * ((x[base + i] - mean) * invstd);
      }
      if (db) db[pl] = static_cast<float>(s_gz);
      if (dg) dg[pl] = static_cast<float>(s_gzx);
      sum_g += ga[pl] * s_gz;
      sum_gx += ga[pl] * s_gzx;
    }
    if (!dx) continue;
    const double mean_g = training ? sum_g / count : 0.0;
    const double mean_gx = training ? sum_gx / count : 0.0;
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const std::int64_t pl = g.plane(b, c);
      const std::int64_t base = pl * g.hw;
      const double gn = ga[pl];
      for (std::int64_t i = 0; i < g.hw; ++i) {
        const double gz = (!relu || y[base + i] > 0.0f) ? dy[base + i] : 0.0;
        const double xhat = (x[base + i] - mean) * invstd;
        dx[base + i] = static_cast<float>(invstd * (gz * gn - mean_g - xhat * mean_gx));
      }
    }
  }
}

}  // namespace bigcolor::cpu
