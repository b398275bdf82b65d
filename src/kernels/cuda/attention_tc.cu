// The attention core's forward on tensor cores, for the native bf16 / fp16 engine (lowp_engine.h): the flash-style
// computation of attention.cu's FP32 forward (the N × M score matrix is never stored), with both products on WMMA
// 16 × 16 × 16 fragments (operands in the format, FP32 accumulators) and the online softmax in FP32.
//
// Per batch: θ (Ck, N) queries, φ (Ck, M) keys, g (Cv, M) values; S = θᵀφ (N × M), P = softmax_rows(S),
// out (Cv, N) = g · Pᵀ, lse[n] = log Σ_m exp S[n, m].
//
// Grid: x = 64-query tiles, y = batch, z = 64-channel chunks of Cv. 256 threads (8 warps). Shared memory, 16-bit
// tiles with rows padded by 8 elements (WMMA's ldm must be a multiple of 8 elements, its pointers 32-byte aligned):
//   θ as [query][channel] (64 × Ck rounded up to 16), loaded once; per 32-key tile φ [channel][key], g
//   [channel][key]; the F32 scores S [query][key]; P [query][key] in the format; the F32 output O [channel][query]
//   (the accumulators live there between key tiles, so the softmax's rescaling by α = e^{m_old − m_new} needs no
//   knowledge of WMMA's register layout); the running max m, sum l and α per query.
// Per key tile: S = 8 fragments (one per warp, K = Ck in steps of 16; zero padding past Ck adds 0); the softmax
// (one thread per query; keys past M masked) updates m and l with the F32 probabilities and writes P rounded to the
// format, as the CPU's native engine does (dnnl_engine.h) and autocast's bf16 softmax output; O ·= α; O += g · Pᵀ
// (16 fragments, 2 per warp, K = 32 keys). Then out = O / l and lse = m + log l.
// The operands are rounded by tensor/half.h's rules, the same as ops::round_to: the emulated engine multiplies
// exactly these values, and the two differ by P's rounding (about u on out) and the order of F32 sums.
// Ck above kMaxCk (θ would not fit in shared memory next to the rest) is left to the emulated engine.
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/lowp_engine.h"
#include "tensor/half.h"

namespace bigcolor::cuda::lowp {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kThreads = 256;       // 8 warps
constexpr int kQ = 64;              // queries per block
constexpr int kK = 32;              // keys per tile
constexpr int kCv = 64;             // value channels per block
constexpr int kMaxCk = 256;
constexpr int kKP = kK + 8;         // pitch of the 16-bit [.][key] tiles
constexpr int kSP = kK + 4;         // pitch of S [query][key] (F32)
constexpr int kOP = kQ + 4;         // pitch of O [channel][query] (F32)

// Byte offsets of the shared-memory regions, each 128-byte aligned.
struct Layout {
  int ckp;  // Ck rounded up to 16 (the K of S's fragments)
  int thp;  // pitch of θ [query][channel]
  std::size_t theta, phi, g, p, s, o, stats, total;
};

__host__ __device__ constexpr std::size_t align128(std::size_t x) { return (x + 127) / 128 * 128; }

__host__ __device__ inline Layout layout(int ck) {
  Layout L{};
  L.ckp = (ck + 15) / 16 * 16;
  L.thp = L.ckp + 8;
  std::size_t at = 0;
  const auto region = [&at](std::size_t bytes) {
    const std::size_t start = at;
    at = align128(at + bytes);
    return start;
  };
  L.theta = region(std::size_t{kQ} * L.thp * 2);
  L.phi = region(std::size_t(L.ckp) * kKP * 2);
  L.g = region(std::size_t{kCv} * kKP * 2);
  L.p = region(std::size_t{kQ} * kKP * 2);
  L.s = region(std::size_t{kQ} * kSP * 4);
  L.o = region(std::size_t{kCv} * kOP * 4);
  L.stats = region(3 * kQ * 4);
  L.total = at;
  return L;
}

template <bool BF16>
__device__ __forceinline__ std::uint16_t narrow(float v) {
  return float_to_16bit(v, BF16);
}

template <bool BF16>
__global__ void __launch_bounds__(kThreads) attention_forward_tc_kernel(float* __restrict__ out,
                                                                        float* __restrict__ lse,
                                                                        const float* __restrict__ theta,
                                                                        const float* __restrict__ phi,
                                                                        const float* __restrict__ g, int ck, int cv,
                                                                        int n, int m) {
  using T = std::conditional_t<BF16, __nv_bfloat16, __half>;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
  using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major>;
  using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

  extern __shared__ __align__(128) unsigned char smem[];
  const Layout L = layout(ck);
  std::uint16_t* th_s = reinterpret_cast<std::uint16_t*>(smem + L.theta);  // [kQ][thp]: A(q, c) of S
  std::uint16_t* ph_s = reinterpret_cast<std::uint16_t*>(smem + L.phi);    // [ckp][kKP]: B(c, k) of S
  std::uint16_t* g_s = reinterpret_cast<std::uint16_t*>(smem + L.g);       // [kCv][kKP]: A(c, k) of O
  std::uint16_t* p_s = reinterpret_cast<std::uint16_t*>(smem + L.p);       // [kQ][kKP]: B(k, q) of O, column-major
  float* s_s = reinterpret_cast<float*>(smem + L.s);                       // [kQ][kSP]
  float* o_s = reinterpret_cast<float*>(smem + L.o);                       // [kCv][kOP]
  float* m_s = reinterpret_cast<float*>(smem + L.stats);                   // [kQ] running max
  float* l_s = m_s + kQ;                                                   // [kQ] running sum
  float* alpha_s = l_s + kQ;                                               // [kQ] this tile's rescaling

  const int t = static_cast<int>(threadIdx.x), warp = t / 32;
  const int q0 = static_cast<int>(blockIdx.x) * kQ, b = static_cast<int>(blockIdx.y);
  const int c0 = static_cast<int>(blockIdx.z) * kCv, cv_valid = min(kCv, cv - c0);
  const float* th_b = theta + static_cast<std::int64_t>(b) * ck * n;
  const float* ph_b = phi + static_cast<std::int64_t>(b) * ck * m;
  const float* g_b = g + (static_cast<std::int64_t>(b) * cv + c0) * m;

  // θ transposed into [query][channel], zero past N and Ck; O = 0; m = −∞, l = 0.
  for (int e = t; e < L.ckp * kQ; e += kThreads) {
    const int c = e / kQ, q = e % kQ;
    const float v = c < ck && q0 + q < n ? th_b[static_cast<std::int64_t>(c) * n + q0 + q] : 0.0f;
    th_s[q * L.thp + c] = narrow<BF16>(v);
  }
  for (int e = t; e < kCv * kQ; e += kThreads) o_s[(e / kQ) * kOP + e % kQ] = 0.0f;
  if (t < kQ) m_s[t] = -INFINITY, l_s[t] = 0.0f;

  for (int k0 = 0; k0 < m; k0 += kK) {
    // φ and g tiles, zero past M (those keys are also masked in the softmax), Ck and Cv.
    for (int e = t; e < L.ckp * kK; e += kThreads) {
      const int c = e / kK, k = e % kK;
      const float v = c < ck && k0 + k < m ? ph_b[static_cast<std::int64_t>(c) * m + k0 + k] : 0.0f;
      ph_s[c * kKP + k] = narrow<BF16>(v);
    }
    for (int e = t; e < kCv * kK; e += kThreads) {
      const int c = e / kK, k = e % kK;
      const float v = c < cv_valid && k0 + k < m ? g_b[static_cast<std::int64_t>(c) * m + k0 + k] : 0.0f;
      g_s[c * kKP + k] = narrow<BF16>(v);
    }
    __syncthreads();  // θ (first tile), φ, g written; the previous tile's readers of S and P are done

    // S (64 × 32): warp w owns the fragment of queries 16·(w / 2)… and keys 16·(w % 2)….
    {
      const int qi = warp / 2, ki = warp % 2;
      FragC acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int c = 0; c < L.ckp; c += 16) {
        FragA a;
        FragBRow bf;
        wmma::load_matrix_sync(a, reinterpret_cast<const T*>(th_s + qi * 16 * L.thp + c), L.thp);
        wmma::load_matrix_sync(bf, reinterpret_cast<const T*>(ph_s + c * kKP + ki * 16), kKP);
        wmma::mma_sync(acc, a, bf, acc);
      }
      wmma::store_matrix_sync(s_s + qi * 16 * kSP + ki * 16, acc, kSP, wmma::mem_row_major);
    }
    __syncthreads();

    // Online softmax, one thread per query. Every tile holds a valid key (k0 < M), so the new max is finite.
    if (t < kQ) {
      const int valid = min(kK, m - k0);
      const float* s_row = s_s + t * kSP;
      float m_new = m_s[t];
      for (int k = 0; k < valid; ++k) m_new = fmaxf(m_new, s_row[k]);
      const float alpha = expf(m_s[t] - m_new);  // 0 on the first tile (m = −∞)
      float sum = 0.0f;
      for (int k = 0; k < kK; ++k) {
        const float p = k < valid ? expf(s_row[k] - m_new) : 0.0f;
        sum += p;
        p_s[t * kKP + k] = narrow<BF16>(p);
      }
      l_s[t] = l_s[t] * alpha + sum;
      m_s[t] = m_new;
      alpha_s[t] = alpha;
    }
    __syncthreads();
    for (int e = t; e < kCv * kQ; e += kThreads) o_s[(e / kQ) * kOP + e % kQ] *= alpha_s[e % kQ];
    __syncthreads();

    // O (64 channels × 64 queries) += g (64 × 32 keys) · Pᵀ (32 × 64): 16 fragments, 2 per warp.
    for (int f = warp; f < (kCv / 16) * (kQ / 16); f += kThreads / 32) {
      const int ci = f / (kQ / 16), qj = f % (kQ / 16);
      float* o_tile = o_s + ci * 16 * kOP + qj * 16;
      FragC acc;
      wmma::load_matrix_sync(acc, o_tile, kOP, wmma::mem_row_major);
      for (int k = 0; k < kK; k += 16) {
        FragA a;
        FragBCol bf;
        wmma::load_matrix_sync(a, reinterpret_cast<const T*>(g_s + ci * 16 * kKP + k), kKP);
        wmma::load_matrix_sync(bf, reinterpret_cast<const T*>(p_s + qj * 16 * kKP + k), kKP);
        wmma::mma_sync(acc, a, bf, acc);
      }
      wmma::store_matrix_sync(o_tile, acc, kOP, wmma::mem_row_major);
    }
    __syncthreads();  // O complete before the next tile rescales it (and before the epilogue)
  }

  for (int e = t; e < kCv * kQ; e += kThreads) {
    const int c = e / kQ, q = e % kQ;
    if (c < cv_valid && q0 + q < n)
      out[(static_cast<std::int64_t>(b) * cv + c0 + c) * n + q0 + q] = o_s[c * kOP + q] / l_s[q];
  }
  if (blockIdx.z == 0 && t < kQ && q0 + t < n) lse[static_cast<std::int64_t>(b) * n + q0 + t] = m_s[t] + logf(l_s[t]);
}

template <bool BF16>
void launch_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  const int batch = static_cast<int>(theta.dim(0)), ck = static_cast<int>(theta.dim(1));
  const int n = static_cast<int>(theta.dim(2)), m = static_cast<int>(phi.dim(2)), cv = static_cast<int>(g.dim(1));
  const Layout L = layout(ck);
  const auto kernel = attention_forward_tc_kernel<BF16>;
  if (L.total > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(L.total)));
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kQ)), static_cast<unsigned>(batch),
                  static_cast<unsigned>(ceil_div(cv, kCv)));
  kernel<<<grid, kThreads, L.total>>>(out.data<float>(), lse.data<float>(), theta.data<float>(), phi.data<float>(),
                                      g.data<float>(), ck, cv, n, m);
  check_launch();
}

}  // namespace

bool attention_forward_supported(std::int64_t ck) { return ck >= 1 && ck <= kMaxCk; }

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g,
                       DType format) {
  if (theta.dim(0) == 0 || theta.dim(2) == 0) return;  // nothing to write
  if (format == DType::BF16)
    launch_forward<true>(out, lse, theta, phi, g);
  else
    launch_forward<false>(out, lse, theta, phi, g);
}

}  // namespace bigcolor::cuda::lowp
