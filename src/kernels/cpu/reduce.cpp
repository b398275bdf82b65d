// Reductions over trailing axes and the MSE and L1 losses on the CPU. Sums run in double, in a fixed order.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
// out[i] = scale · Σ_j in[i·inner + j], inner = numel(in) / numel(out).
void reduce_trailing(const Tensor& out, const Tensor& in, bool average) {
  const std::int64_t outer = out.numel(), inner = outer ? in.numel() / outer : 0;
  const float* x = in.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static) if (outer > 64)
  for (std::int64_t i = 0; i < outer; ++i) {
    double s = 0.0;
    for (std::int64_t j = 0; j < inner; ++j) s += x[i * inner + j];
    y[i] = static_cast<float>(average ? s / static_cast<double>(inner) : s);
  }
}

void broadcast_trailing(const Tensor& d_in, const Tensor& d_out, bool average) {
  const std::int64_t outer = d_out.numel(), inner = outer ? d_in.numel() / outer : 0;
  const float* g = d_out.data<float>();
  float* dx = d_in.data<float>();
  const float scale = average ? 1.0f / static_cast<float>(inner) : 1.0f;
#pragma omp parallel for schedule(static) if (outer > 64)
  for (std::int64_t i = 0; i < outer; ++i)
    for (std::int64_t j = 0; j < inner; ++j) dx[i * inner + j] = g[i] * scale;
}
}  // namespace

void sum_forward(const Tensor& out, const Tensor& in) { reduce_trailing(out, in, false); }
void sum_backward(const Tensor& d_in, const Tensor& d_out) { broadcast_trailing(d_in, d_out, false); }
void mean_forward(const Tensor& out, const Tensor& in) { reduce_trailing(out, in, true); }
void mean_backward(const Tensor& d_in, const Tensor& d_out) { broadcast_trailing(d_in, d_out, true); }

void mse_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    s += d * d;
  }
  out.data<float>()[0] = static_cast<float>(s / static_cast<double>(n));
}

// ∂/∂a mean((a − b)²) = 2(a − b)/n, and the negative for b.
void mse_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a,
                       const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  const float scale = 2.0f * d_out.data<float>()[0] / static_cast<float>(n);
  float* da = d_a.defined() ? d_a.data<float>() : nullptr;
  float* db = d_b.defined() ? d_b.data<float>() : nullptr;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = scale * (x[i] - y[i]);
    if (da) da[i] = g;
    if (db) db[i] = -g;
  }
}

void l1_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(x[i]) - y[i]);
  out.data<float>()[0] = static_cast<float>(s / static_cast<double>(n));
}

// ∂/∂a mean(|a − b|) = sign(a − b)/n (0 where a = b), and the negative for b.
void l1_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  const float scale = d_out.data<float>()[0] / static_cast<float>(n);
  float* da = d_a.defined() ? d_a.data<float>() : nullptr;
  float* db = d_b.defined() ? d_b.data<float>() : nullptr;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = x[i] > y[i] ? scale : x[i] < y[i] ? -scale : 0.0f;
    if (da) da[i] = g;
    if (db) db[i] = -g;
  }
}

}  // namespace bigcolor::cpu
