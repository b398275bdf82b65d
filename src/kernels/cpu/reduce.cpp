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

namespace {

// out (1) = mean over i of term(a[i], b[i]), summed in double.
template <typename Term>
void mean_of_pairs(const Tensor& out, const Tensor& a, const Tensor& b, Term term) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) s += term(static_cast<double>(x[i]) - y[i]);
  out.data<float>()[0] = static_cast<float>(s / static_cast<double>(n));
}

// d_a[i] = (factor · d_out[0] / n) · slope(a[i], b[i]), d_b = −d_a (either may be undefined).
template <typename Slope>
void pair_gradients(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                    float factor, Slope slope) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const std::int64_t n = a.numel();
  const float scale = factor * d_out.data<float>()[0] / static_cast<float>(n);
  float* da = d_a.defined() ? d_a.data<float>() : nullptr;
  float* db = d_b.defined() ? d_b.data<float>() : nullptr;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = scale * slope(x[i], y[i]);
    if (da) da[i] = g;
    if (db) db[i] = -g;
  }
}

}  // namespace

void mse_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  mean_of_pairs(out, a, b, [](double d) { return d * d; });
}

// ∂/∂a mean((a − b)²) = 2(a − b)/n, and the negative for b.
void mse_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a,
                       const Tensor& b) {
  pair_gradients(d_a, d_b, d_out, a, b, 2.0f, [](float x, float y) { return x - y; });
}

void l1_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  mean_of_pairs(out, a, b, [](double d) { return std::fabs(d); });
}

// ∂/∂a mean(|a − b|) = sign(a − b)/n (0 where a = b), and the negative for b.
void l1_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  pair_gradients(d_a, d_b, d_out, a, b, 1.0f, [](float x, float y) { return x > y ? 1.0f : x < y ? -1.0f : 0.0f; });
}

}  // namespace bigcolor::cpu
