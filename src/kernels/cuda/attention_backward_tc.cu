// The attention core's backward on tensor cores, for the native bf16 / fp16 engine (lowp_engine.h): its five
// matrix products through cuBLAS with operands in the format and F32 results (gemm_rows.h), over blocks of queries
// so that the scores of only one block are ever stored.
//
// Per batch: θ (Ck, N) queries, φ (Ck, M) keys, g (Cv, M) values, dO (Cv, N) the gradient of out, lse (N) the
// forward's log-sum-exp. With S = θᵀφ (N × M), P = exp(S − lse) (the forward's softmax) and D[n] = Σ_c dO[c, n]·out[c, n]:
//   dg = dO · P   (Cv × M),    dP = dOᵀ · g   (N × M),    dS = P ∘ (dP − D)   (N × M),
//   dθ = φ · dSᵀ  (Ck × N),    dφ = θ · dS    (Ck × M).
// For a block of nc queries n0..n0+nc−1 (columns of θ and dO, rows of S): S and dP (nc × M) are two products into
// F32 scratch; one elementwise kernel turns them into P and dS rounded to the format (autocast's bf16 bmm reads its
// softmax output and incoming gradient in the format too); dθ's block is one product, and dg and dφ accumulate one
// product per block (beta = 1 after the first). θ, φ, g and dO are converted to the format once per call, rounded
// by tensor/half.h's rules as ops::round_to: the emulated engine multiplies the same operands, and the two differ by
// P's and dS's rounding (about u) and the order of F32 sums. D reads the rounded dO, as the emulated engine does.
//
// Scratch: 12 bytes per score of a block (S, dP in F32, P, dS in the format); blocks hold at most kBlockScores
// scores (384 MB), a multiple of 64 queries so every block's first column is 128-byte aligned in the format.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/gemm_rows.h"
#include "kernels/cuda/lowp_engine.h"
#include "kernels/cuda/workspace.h"
#include "tensor/half.h"

namespace bigcolor::cuda::lowp {

namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kBlockScores = std::int64_t{1} << 25;
constexpr std::int64_t kQueryAlign = 64;

// dsum (B, N) = Σ_c d_out[b, c, n] · out[b, c, n]; d_out (B, Cv, N) in the format, out F32. One thread per (b, n):
// neighbouring threads read neighbouring n, so every channel's loads are coalesced.
__global__ void output_dot_kernel(float* __restrict__ dsum, const std::uint16_t* __restrict__ d_out,
                                  const float* __restrict__ out, bool bf16, std::int64_t batch, std::int64_t cv,
                                  std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < batch * n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / n, q = i % n;
    const std::int64_t base = b * cv * n + q;
    float acc = 0.0f;
    for (std::int64_t c = 0; c < cv; ++c) acc += float_from_16bit(d_out[base + c * n], bf16) * out[base + c * n];
    dsum[i] = acc;
  }
}

// For a block of `rows` queries: p = exp(s − lse[r]), ds = p · (dp − dsum[r]), both (rows × m) in the format;
// s, dp (rows × m) F32; lse and dsum point at the block's first query.
__global__ void softmax_backward_kernel(std::uint16_t* __restrict__ p, std::uint16_t* __restrict__ ds,
                                        const float* __restrict__ s, const float* __restrict__ dp,
                                        const float* __restrict__ lse, const float* __restrict__ dsum, bool bf16,
                                        std::int64_t rows, std::int64_t m) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < rows * m;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / m;
    const float prob = expf(s[i] - lse[r]);
    p[i] = float_to_16bit(prob, bf16);
    ds[i] = float_to_16bit(prob * (dp[i] - dsum[r]), bf16);
  }
}

// Queries per block: as many as kBlockScores allows, a multiple of kQueryAlign, at least kQueryAlign, at most n.
std::int64_t block_queries(std::int64_t n, std::int64_t m) {
  const std::int64_t fit = std::max(kQueryAlign, kBlockScores / m / kQueryAlign * kQueryAlign);
  return std::min(n, fit);
}

}  // namespace

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out, const Tensor& lse,
                        DType format) {
  const std::int64_t batch = theta.dim(0), ck = theta.dim(1), n = theta.dim(2), m = phi.dim(2), cv = g.dim(1);
  const bool bf16 = format == DType::BF16;
  const Tensor th = in_format(theta, format), ph = in_format(phi, format), gv = in_format(g, format);
  const Tensor dy = in_format(d_out, format);
  const auto* th16 = static_cast<const std::uint16_t*>(th.raw());
  const auto* ph16 = static_cast<const std::uint16_t*>(ph.raw());
  const auto* g16 = static_cast<const std::uint16_t*>(gv.raw());
  const auto* dy16 = static_cast<const std::uint16_t*>(dy.raw());

  Workspace dsum(static_cast<std::size_t>(batch * n) * sizeof(float));
  auto* dsum_p = reinterpret_cast<float*>(dsum.data());
  output_dot_kernel<<<grid_blocks(batch * n, kThreads), kThreads>>>(dsum_p, dy16, out.data<float>(), bf16, batch, cv,
                                                                    n);
  check_launch();

  const std::int64_t nb = block_queries(n, m);
  // The four buffers start 128-byte aligned (the pitch between them is a multiple of 64 elements), as cuBLAS's
  // tensor-core kernels prefer.
  const std::size_t pitch = static_cast<std::size_t>((nb * m + 63) / 64 * 64);
  Workspace scratch(pitch * (2 * sizeof(float) + 2 * sizeof(std::uint16_t)));
  auto* s = reinterpret_cast<float*>(scratch.data());
  float* dp = s + pitch;
  auto* p16 = reinterpret_cast<std::uint16_t*>(dp + pitch);
  std::uint16_t* ds16 = p16 + pitch;
  const auto view = [format](const std::uint16_t* at, std::int64_t ld) { return MatrixView{at, format, ld, 0}; };

  for (std::int64_t b = 0; b < batch; ++b) {
    const std::uint16_t* th_b = th16 + b * ck * n;
    const std::uint16_t* ph_b = ph16 + b * ck * m;
    const std::uint16_t* g_b = g16 + b * cv * m;
    const std::uint16_t* dy_b = dy16 + b * cv * n;
    for (std::int64_t n0 = 0; n0 < n; n0 += nb) {
      const std::int64_t nc = std::min(nb, n - n0);
      const float beta = n0 == 0 ? 0.0f : 1.0f;  // dg and dφ: the first block overwrites, the rest accumulate
      // S (nc × M) = θ[:, block]ᵀ · φ: θ's block is stored (Ck × nc) with row pitch N.
      gemm_rows(true, false, nc, m, ck, 1.0f, view(th_b + n0, n), view(ph_b, m), 0.0f, s, m, 0, 1);
      // dP (nc × M) = dO[:, block]ᵀ · g.
      gemm_rows(true, false, nc, m, cv, 1.0f, view(dy_b + n0, n), view(g_b, m), 0.0f, dp, m, 0, 1);
      softmax_backward_kernel<<<grid_blocks(nc * m, kThreads), kThreads>>>(
          p16, ds16, s, dp, lse.data<float>() + b * n + n0, dsum_p + b * n + n0, bf16, nc, m);
      check_launch();
      // dg (Cv × M) (+)= dO[:, block] (Cv × nc) · P (nc × M).
      if (d_g.defined())
        gemm_rows(false, false, cv, m, nc, 1.0f, view(dy_b + n0, n), view(p16, m), beta, d_g.data<float>() + b * cv * m,
                  m, 0, 1);
      // dθ[:, block] (Ck × nc) = φ (Ck × M) · dSᵀ (M × nc); dS is stored (nc × M), and dθ's block has row pitch N.
      if (d_theta.defined())
        gemm_rows(false, true, ck, nc, m, 1.0f, view(ph_b, m), view(ds16, m), 0.0f,
                  d_theta.data<float>() + b * ck * n + n0, n, 0, 1);
      // dφ (Ck × M) (+)= θ[:, block] (Ck × nc) · dS (nc × M).
      if (d_phi.defined())
        gemm_rows(false, false, ck, m, nc, 1.0f, view(th_b + n0, n), view(ds16, m), beta,
                  d_phi.data<float>() + b * ck * m, m, 0, 1);
    }
  }
}

}  // namespace bigcolor::cuda::lowp
