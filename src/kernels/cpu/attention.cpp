// The self-attention core on the CPU: out = g · softmax(θᵀφ)ᵀ per batch, never holding more than a block of
// queries' scores (block × M floats) at a time.
//
// Forward, per batch and per block of q queries (columns n0 … n0+q of θ):
//   S (q × M) = θ[:, block]ᵀ · φ                  one GEMM (K = Ck)
//   P = row softmax of S, lse[n] = max + log Σ exp(S − max)
//   out[:, block] (Cv × q) = g · Pᵀ               one GEMM (K = M)
// Backward, per block, rebuilding P = exp(S − lse) from the saved log-sum-exp:
//   d_g (Cv × M)     += d_out[:, block] · P                (overwrite: the first block stores, later ones add)
//   dP (q × M)        = d_out[:, block]ᵀ · g
//   D[n]              = Σ_c d_out[c, n] · out[c, n]         (= Σ_m P[n, m] · dP[n, m], the softmax correction)
//   dS                = P ⊙ (dP − D)
//   d_theta[:, block] = φ · dSᵀ                             (Ck × q)
//   d_phi (Ck × M)   += θ[:, block] · dS                    (overwrite likewise)
// The block size keeps the score buffers (two of block × M floats) at about 8 MB or less.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {

// Queries per block: up to 256, fewer when M is large (score buffers of about 1M floats each).
std::int64_t query_block(std::int64_t n, std::int64_t m) {
  constexpr std::int64_t kMaxBlock = 256, kScoreBudget = std::int64_t{1} << 20;
  return std::clamp<std::int64_t>(kScoreBudget / std::max<std::int64_t>(m, 1), 1, std::min(kMaxBlock, std::max<std::int64_t>(n, 1)));
}

// C = alpha · op(A) · op(B) + beta · C, also for an empty inner dimension (k = 0: C = beta · C).
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (k > 0) {
    sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

struct AttentionShape {
  std::int64_t batch, ck, n, m, cv;
};

AttentionShape shape_of(const Tensor& theta, const Tensor& g) {
  return {theta.dim(0), theta.dim(1), theta.dim(2), g.dim(2), g.dim(1)};
}

// scores (q × M) = θ[:, n0 : n0+q]ᵀ · φ for one batch (th: (Ck, N), ph: (Ck, M)).
void scores(float* s, const float* th, const float* ph, const AttentionShape& a, std::int64_t n0, std::int64_t q) {
  gemm(true, false, q, a.m, a.ck, th + n0, a.n, ph, a.m, 0.0f, s, a.m);
}

}  // namespace

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  const AttentionShape a = shape_of(theta, g);
  const std::int64_t block = query_block(a.n, a.m);
  std::vector<float> s(static_cast<std::size_t>(block * a.m));
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* th = theta.data<float>() + b * a.ck * a.n;
    const float* ph = phi.data<float>() + b * a.ck * a.m;
    const float* gg = g.data<float>() + b * a.cv * a.m;
    float* o = out.data<float>() + b * a.cv * a.n;
    float* l = lse.data<float>() + b * a.n;
    for (std::int64_t n0 = 0; n0 < a.n; n0 += block) {
      const std::int64_t q = std::min(block, a.n - n0);
      scores(s.data(), th, ph, a, n0, q);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < q; ++i) {  // row softmax, in place, and its log-sum-exp
        float* row = s.data() + i * a.m;
        const float mx = *std::max_element(row, row + a.m);
        double sum = 0.0;
        for (std::int64_t j = 0; j < a.m; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const auto inv = static_cast<float>(1.0 / sum);
        for (std::int64_t j = 0; j < a.m; ++j) row[j] *= inv;
        l[n0 + i] = mx + static_cast<float>(std::log(sum));
      }
      gemm(false, true, a.cv, q, a.m, gg, a.m, s.data(), a.m, 0.0f, o + n0, a.n);  // (Cv × q) = g · Pᵀ
    }
  }
}

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse) {
  const bool want_theta = d_theta.defined(), want_phi = d_phi.defined(), want_g = d_g.defined();
  if (!want_theta && !want_phi && !want_g) return;
  const AttentionShape a = shape_of(theta, g);
  const std::int64_t block = query_block(a.n, a.m);
  std::vector<float> p(static_cast<std::size_t>(block * a.m));                             // P
  std::vector<float> ds(want_theta || want_phi ? static_cast<std::size_t>(block * a.m) : 0);  // dP, then dS
  std::vector<float> dsum(static_cast<std::size_t>(block));                               // D per query
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* th = theta.data<float>() + b * a.ck * a.n;
    const float* ph = phi.data<float>() + b * a.ck * a.m;
    const float* gg = g.data<float>() + b * a.cv * a.m;
    const float* dy = d_out.data<float>() + b * a.cv * a.n;
    const float* y = out.data<float>() + b * a.cv * a.n;
    const float* l = lse.data<float>() + b * a.n;
    if (a.n == 0) {  // no queries: the key-side gradients are zero
      if (want_phi) std::fill_n(d_phi.data<float>() + b * a.ck * a.m, a.ck * a.m, 0.0f);
      if (want_g) std::fill_n(d_g.data<float>() + b * a.cv * a.m, a.cv * a.m, 0.0f);
    }
    for (std::int64_t n0 = 0; n0 < a.n; n0 += block) {
      const std::int64_t q = std::min(block, a.n - n0);
      const float beta = n0 == 0 ? 0.0f : 1.0f;  // the first block overwrites d_phi and d_g
      scores(p.data(), th, ph, a, n0, q);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < q; ++i) {
        float* row = p.data() + i * a.m;
        const float li = l[n0 + i];
        for (std::int64_t j = 0; j < a.m; ++j) row[j] = std::exp(row[j] - li);
      }
      if (want_g)  // d_g (Cv × M) += d_out[:, block] (Cv × q) · P (q × M)
        gemm(false, false, a.cv, a.m, q, dy + n0, a.n, p.data(), a.m, beta, d_g.data<float>() + b * a.cv * a.m, a.m);
      if (!want_theta && !want_phi) continue;
      gemm(true, false, q, a.m, a.cv, dy + n0, a.n, gg, a.m, 0.0f, ds.data(), a.m);  // dP (q × M) = d_outᵀ · g
      std::fill(dsum.begin(), dsum.end(), 0.0f);
      for (std::int64_t c = 0; c < a.cv; ++c)
        for (std::int64_t i = 0; i < q; ++i) dsum[i] += dy[c * a.n + n0 + i] * y[c * a.n + n0 + i];
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < q; ++i) {  // dS = P ⊙ (dP − D)
        float* row = ds.data() + i * a.m;
        const float* prow = p.data() + i * a.m;
        for (std::int64_t j = 0; j < a.m; ++j) row[j] = prow[j] * (row[j] - dsum[i]);
      }
      if (want_theta)  // d_theta[:, block] (Ck × q) = φ (Ck × M) · dSᵀ (M × q)
        gemm(false, true, a.ck, q, a.m, ph, a.m, ds.data(), a.m, 0.0f, d_theta.data<float>() + b * a.ck * a.n + n0,
             a.n);
      if (want_phi)  // d_phi (Ck × M) += θ[:, block] (Ck × q) · dS (q × M)
        gemm(false, false, a.ck, a.m, q, th + n0, a.n, ds.data(), a.m, beta, d_phi.data<float>() + b * a.ck * a.m,
             a.m);
    }
  }
}

}  // namespace bigcolor::cpu
