// Spectral norm on the CPU: one power-iteration step and the gradient of W/σ (see fused_signatures.inc).
//
// The readable reference of kernels/cuda/spectral_norm.cu. Every sum is accumulated in double, in a fixed order
// that does not depend on the thread count, so the result is reproducible.
//
// weight W (O, K) row-major, u (O):
//   v_raw = u · W (K)             column sums; v = v_raw / max(‖v_raw‖, eps)
//   t     = W · v (O)             row dots;    u_new = t / max(‖t‖, eps)
//   sigma = v · Wᵀ · u_newᵀ = t · u_new (= ‖t‖ when ‖t‖ >= eps; computed as the dot, which holds either way)
//   weight_sn = W / sigma
// Backward, with G = d_weight_sn and c = ⟨G, W⟩ / σ²:  d_weight[i, j] += G[i, j] / σ − c · u_new[i] · v[j].
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
constexpr std::int64_t kColumnBlock = 256;  // columns per OpenMP work item of the column sums
}  // namespace

void spectral_norm_forward(const Tensor& weight_sn, const Tensor& sigma, const Tensor& u_new, const Tensor& v,
                           const Tensor& weight, const Tensor& u, float eps) {
  const std::int64_t rows = weight.dim(0);  // O
  const std::int64_t cols = weight.dim(1);  // K
  const float* w = weight.data<float>();    // (O, K)
  const float* u0 = u.data<float>();        // (O)

  // v_raw = u · W: each work item owns a block of columns and walks the rows in order (deterministic).
  std::vector<double> v_raw(static_cast<std::size_t>(cols), 0.0);  // (K)
  const std::int64_t column_blocks = (cols + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static)
  for (std::int64_t blk = 0; blk < column_blocks; ++blk) {
    const std::int64_t begin = blk * kColumnBlock;
    const std::int64_t end = std::min(cols, begin + kColumnBlock);
    for (std::int64_t i = 0; i < rows; ++i) {
      const double ui = u0[i];
      const float* row = w + i * cols;
      for (std::int64_t j = begin; j < end; ++j) v_raw[static_cast<std::size_t>(j)] += ui * row[j];
    }
  }
  double v_norm2 = 0.0;
  for (const double x : v_raw) v_norm2 += x * x;
  const double v_scale = 1.0 / std::max(std::sqrt(v_norm2), static_cast<double>(eps));
  std::vector<double> v_d(static_cast<std::size_t>(cols));  // (K), normalized
  float* v_out = v.data<float>();
  for (std::int64_t j = 0; j < cols; ++j) {
    v_d[static_cast<std::size_t>(j)] = v_raw[static_cast<std::size_t>(j)] * v_scale;
    v_out[j] = static_cast<float>(v_d[static_cast<std::size_t>(j)]);
  }

  // t = W · v: one dot per row.
  std::vector<double> t(static_cast<std::size_t>(rows));  // (O)
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = w + i * cols;
    double acc = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) acc += row[j] * v_d[static_cast<std::size_t>(j)];
    t[static_cast<std::size_t>(i)] = acc;
  }
  double t_norm2 = 0.0;
  for (const double x : t) t_norm2 += x * x;
  const double t_scale = 1.0 / std::max(std::sqrt(t_norm2), static_cast<double>(eps));
  float* u_out = u_new.data<float>();
  double s = 0.0;  // sigma = t · u_new
  for (std::int64_t i = 0; i < rows; ++i) {
    const double un = t[static_cast<std::size_t>(i)] * t_scale;
    u_out[i] = static_cast<float>(un);
    s += t[static_cast<std::size_t>(i)] * un;
  }
  sigma.data<float>()[0] = static_cast<float>(s);

  float* out = weight_sn.data<float>();  // (O, K)
  const std::int64_t n = rows * cols;
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < n; ++e) out[e] = static_cast<float>(static_cast<double>(w[e]) / s);
}

void spectral_norm_backward(const Tensor& d_weight, const Tensor& d_weight_sn, const Tensor& weight,
                            const Tensor& u_new, const Tensor& v, const Tensor& sigma) {
  const std::int64_t rows = weight.dim(0);
  const std::int64_t cols = weight.dim(1);
  const float* g = d_weight_sn.data<float>();  // (O, K)
  const float* w = weight.data<float>();       // (O, K)
  const float* un = u_new.data<float>();       // (O)
  const float* vv = v.data<float>();           // (K)
  float* dw = d_weight.data<float>();          // (O, K), accumulated

  // ⟨G, W⟩: per-row partial sums, then the rows in order.
  std::vector<double> row_dot(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    double acc = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) acc += static_cast<double>(g[i * cols + j]) * w[i * cols + j];
    row_dot[static_cast<std::size_t>(i)] = acc;
  }
  double dot = 0.0;
  for (const double x : row_dot) dot += x;

  const double s = sigma.data<float>()[0];
  const double inv_sigma = 1.0 / s;
  const double c = dot / (s * s);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    const double cu = c * un[i];
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t e = i * cols + j;
      dw[e] = static_cast<float>(dw[e] + g[e] * inv_sigma - cu * vv[j]);
    }
  }
}

}  // namespace bigcolor::cpu
