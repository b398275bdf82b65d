// The self-attention core on the GPU, flash style: the (N × M) score matrix is never stored.
//
// Notation (per batch): θ (Ck, N) queries, φ (Ck, M) keys, g (Cv, M) values, S = θᵀφ (N × M),
// P = softmax_rows(S), out (Cv, N) = g · Pᵀ, lse[n] = log Σ_m exp S[n, m].
//
// Every kernel works on "pair tiles" of queries × 32 keys with 256 threads, thread t = 16·hi + lo, and keeps its
// operands in shared memory in their global layout ([channel][query] for θ and d_out, [channel][key] for φ and g),
// filled by cp.async (16-byte copies when the row length is a multiple of 4, else 4-byte copies; zero fill outside
// the tensor). Channel counts of any size are handled in chunks of 64 (Ck) or CVC (Cv, 96 or 192 by template): a
// reduction over channels (the scores S, dP) loops over the chunks, an output over channels is split over
// blockIdx.z. When a tensor fits in one chunk it is loaded once and stays resident.
//
// forward (grid: query tiles of 64 × batch × (Cv chunks · key splits)): for each 32-key tile, S (64 × 32, thread 4 queries ×
//   2 keys, K = Ck), online softmax (running max and sum per query, combined across the 16 lanes of a half-warp
//   with a fixed shuffle tree), P written transposed to shared memory, then O (CVC × 64, thread CVT channels ×
//   4 queries, in registers) = O·α + g_tile · Pᵀ. At the end out = O / l and lse = m + log l. When the query
//   tiles alone cannot fill the GPU (batch 1), the keys are split over several blocks, each writing its O, m and l;
//   attention_combine_kernel merges them in a fixed order.
// backward, with D[n] = Σ_c d_out[c, n] · out[c, n] (attention_dsum_kernel), P = exp(S − lse), dP = d_outᵀ g,
//   dS = P ⊙ (dP − D):
//   key kernel (grid: 32-key tiles × batch × (channel chunks · query splits)): loops over 32-query tiles and keeps
//     d_g (CVC × 32, thread CVT × 2) += d_out · P and d_phi (64 × 32, thread 4 × 2) += θ · dS in registers;
//   query kernel (grid: 64-query tiles × batch × (Ck chunks · key splits)): loops over 32-key tiles and keeps
//     d_theta (64 × 64, thread 4 × 4) += φ · dSᵀ in registers.
//   When the grid would be too small to fill the GPU, the query (key) range is split over several blocks that
//   write partial sums to a workspace; a second kernel adds them in a fixed order. No atomics: every result is
//   deterministic.
// Multiply-adds per (query, key) pair: forward Ck + Cv; backward 2·Ck + 2·Cv (key kernel) + 2·Ck + Cv (query
// kernel). Exponentials use expf (full precision; --use_fast_math is not used), FP32 FMAs throughout.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "tensor/error.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kKeys = 32;          // keys per tile (all kernels)
constexpr int kKeyPitch = kKeys + 4;  // row pitch of [channel][key] and [query][key] tiles (16-byte aligned rows)
constexpr int kQF = 64;            // queries per block: forward and query kernel
constexpr int kQFPitch = kQF + 4;
constexpr int kQA = 32;            // queries per tile: key kernel
constexpr int kQAPitch = kQA + 4;
constexpr int kCkChunk = 64;       // θ/φ channels per chunk (= the d_phi / d_theta rows a block owns)

// dst[r · dst_pitch + j] (r < rows, j < COLS) = src[r · src_pitch + col0 + j] when r < rows_valid and
// col0 + j < col_limit, else 0. vec4: src_pitch, col0 and the src base are multiples of 4 floats (16-byte copies).
template <int COLS>
__device__ __forceinline__ void load_tile(float* dst, int dst_pitch, const float* src, std::int64_t src_pitch,
                                          int rows, int rows_valid, int col0, int col_limit, bool vec4) {
  if (vec4) {
    constexpr int kVecs = COLS / 4;
#pragma unroll 1
    for (int e = static_cast<int>(threadIdx.x); e < rows * kVecs; e += kThreads) {
      const int r = e / kVecs, v = e - r * kVecs, col = col0 + 4 * v;
      const bool ok = r < rows_valid && col < col_limit;  // col_limit is a multiple of 4 here
      cp_async16(dst + r * dst_pitch + 4 * v, ok ? src + r * src_pitch + col : src, ok);
    }
  } else {
#pragma unroll 1
    for (int e = static_cast<int>(threadIdx.x); e < rows * COLS; e += kThreads) {
      const int r = e / COLS, j = e - r * COLS, col = col0 + j;
      const bool ok = r < rows_valid && col < col_limit;
      cp_async4(dst + r * dst_pitch + j, ok ? src + r * src_pitch + col : src, ok);
    }
  }
}

// ---- register micro-kernels ---------------------------------------------------------------------------------------

template <int N>
__device__ __forceinline__ void load_vec(float (&v)[N], const float* p) {
  static_assert(N == 2 || N == 4, "vector of 2 or 4 floats");
  if constexpr (N == 4) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
  } else {
    const float2 x = *reinterpret_cast<const float2*>(p);
    v[0] = x.x, v[1] = x.y;
  }
}

// acc[i][j] += Σ_{c < rows} xs[c][x0 + i] · ys[c][y0 + j]   (both operands channel-major: an outer product per c)
// UNROLL: the channel loop's unrolling (register pressure against instruction-level parallelism).
template <int UNROLL, int TX, int TY>
__device__ __forceinline__ void outer_fma(float (&acc)[TX][TY], const float* xs, int x_pitch, int x0,
                                          const float* ys, int y_pitch, int y0, int rows) {
#pragma unroll UNROLL
  for (int c = 0; c < rows; ++c) {
    float xv[TX], yv[TY];
    load_vec(xv, xs + c * x_pitch + x0);
    load_vec(yv, ys + c * y_pitch + y0);
#pragma unroll
    for (int i = 0; i < TX; ++i)
#pragma unroll
      for (int j = 0; j < TY; ++j) acc[i][j] = fmaf(xv[i], yv[j], acc[i][j]);
  }
}

// acc[i][j] += Σ_{k < K} a[m0 + i][k] · b[k][n0 + j]   (a row-major with k contiguous, b k-major; K % 4 == 0)
template <int UNROLL, int TM, int TN, int K>
__device__ __forceinline__ void rows_fma(float (&acc)[TM][TN], const float* a, int a_pitch, int m0, const float* b,
                                         int b_pitch, int n0) {
#pragma unroll UNROLL
  for (int kk = 0; kk < K; kk += 4) {
    float bv[4][TN];
#pragma unroll
    for (int u = 0; u < 4; ++u) load_vec(bv[u], b + (kk + u) * b_pitch + n0);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const float4 av = *reinterpret_cast<const float4*>(a + (m0 + i) * a_pitch + kk);
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        acc[i][j] = fmaf(av.x, bv[0][j], acc[i][j]);
        acc[i][j] = fmaf(av.y, bv[1][j], acc[i][j]);
        acc[i][j] = fmaf(av.z, bv[2][j], acc[i][j]);
        acc[i][j] = fmaf(av.w, bv[3][j], acc[i][j]);
      }
    }
  }
}

struct Dims {
  int ck, cv, n, m;
  bool vec_n, vec_m;  // N % 4 == 0, M % 4 == 0: 16-byte copies along queries / keys
};

__host__ __device__ constexpr int ck_chunks(const Dims& d) { return d.ck > 0 ? ceil_div(d.ck, kCkChunk) : 1; }
template <int CVC>
__host__ __device__ constexpr int cv_chunks(const Dims& d) { return d.cv > 0 ? ceil_div(d.cv, CVC) : 1; }

// ---- forward ------------------------------------------------------------------------------------------------------

// Shared memory (floats): θ chunk [min(Ck,64)][68], φ chunk [min(Ck,64)][36], g chunk [CVC][36], P [32][68] ([key][query]),
// α [64], l [64].
template <int CVC>
std::size_t forward_smem_floats(const Dims& d) {
  const int ck_rows = std::max(1, std::min(d.ck, kCkChunk));
  return static_cast<std::size_t>(ck_rows) * (kQFPitch + kKeyPitch) + CVC * kKeyPitch + kKeys * kQFPitch + 2 * kQF;
}

template <int CVT>
__global__ void __launch_bounds__(kThreads, 2) attention_forward_kernel(float* __restrict__ out, float* __restrict__ lse,
                                                                     const float* __restrict__ theta,
                                                                     const float* __restrict__ phi,
                                                                     const float* __restrict__ g, Dims d,
                                                                     float* __restrict__ ws_o,
                                                                     float* __restrict__ ws_ml, int batch,
                                                                     int splits, int k_tiles_per_split) {
  constexpr int CVC = 16 * CVT;
  extern __shared__ __align__(16) float smem[];
  const int ck_rows = max(1, min(d.ck, kCkChunk));
  float* th_s = smem;                            // [ck_rows][kQFPitch]
  float* ph_s = th_s + ck_rows * kQFPitch;       // [ck_rows][kKeyPitch]
  float* g_s = ph_s + ck_rows * kKeyPitch;       // [CVC][kKeyPitch]
  float* p_s = g_s + CVC * kKeyPitch;            // [kKeys][kQFPitch]
  float* alpha_s = p_s + kKeys * kQFPitch;       // [kQF]
  float* l_s = alpha_s + kQF;                    // [kQF]

  const int t = static_cast<int>(threadIdx.x), hi = t >> 4, lo = t & 15;
  const int q0 = static_cast<int>(blockIdx.x) * kQF, b = static_cast<int>(blockIdx.y);
  const int n_cv = cv_chunks<CVC>(d);
  const int zc = static_cast<int>(blockIdx.z) % n_cv, split = static_cast<int>(blockIdx.z) / n_cv;
  const int cv0 = zc * CVC, cv_valid = min(CVC, d.cv - cv0);
  const int k_begin = split * k_tiles_per_split * kKeys, k_end = min(d.m, k_begin + k_tiles_per_split * kKeys);
  const float* th_b = theta + static_cast<std::int64_t>(b) * d.ck * d.n;
  const float* ph_b = phi + static_cast<std::int64_t>(b) * d.ck * d.m;
  const float* g_b = g + (static_cast<std::int64_t>(b) * d.cv + cv0) * d.m;
  const int n_ck = ck_chunks(d);
  const bool theta_resident = n_ck == 1;

  float o[CVT][4] = {};  // out[cv0 + hi·CVT + i][q0 + 4·lo + j], unnormalized
  float m_run[4];        // running max of the queries q0 + 4·hi + i (the same in the 16 lanes of a half-warp)
#pragma unroll
  for (int i = 0; i < 4; ++i) m_run[i] = -INFINITY;
  // The running sums live in l_s; entry 4·hi + i is read and written only by the lane lo == 0 of half-warp hi.
  if (lo == 0) *reinterpret_cast<float4*>(l_s + 4 * hi) = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

  if (theta_resident) load_tile<kQF>(th_s, kQFPitch, th_b, d.n, ck_rows, d.ck, q0, d.n, d.vec_n);

  for (int k0 = k_begin; k0 < k_end; k0 += kKeys) {
    // Scores S (4 queries × 2 keys per thread), g tile loaded alongside the first chunk.
    load_tile<kKeys>(g_s, kKeyPitch, g_b, d.m, CVC, cv_valid, k0, d.m, d.vec_m);
    float s[4][2] = {};
    for (int ch = 0; ch < n_ck; ++ch) {
      const int c0 = ch * kCkChunk, rows = min(kCkChunk, d.ck - c0);
      if (ch > 0) __syncthreads();  // the previous chunk's readers are done
      if (!theta_resident)
        load_tile<kQF>(th_s, kQFPitch, th_b + static_cast<std::int64_t>(c0) * d.n, d.n, ck_rows, rows, q0, d.n,
                       d.vec_n);
      load_tile<kKeys>(ph_s, kKeyPitch, ph_b + static_cast<std::int64_t>(c0) * d.m, d.m, ck_rows, rows, k0, d.m,
                       d.vec_m);
      cp_async_wait_all();
      __syncthreads();
      outer_fma<2>(s, th_s, kQFPitch, 4 * hi, ph_s, kKeyPitch, 2 * lo, max(rows, 0));
    }
    // Online softmax: keys past M are masked. Every tile holds at least one valid key (k0 < M), so m_new is finite.
#pragma unroll
    for (int j = 0; j < 2; ++j)
      if (k0 + 2 * lo + j >= d.m)
#pragma unroll
        for (int i = 0; i < 4; ++i) s[i][j] = -INFINITY;
    float p[4][2], alpha[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float m_new = fmaxf(m_run[i], xor_max<16>(fmaxf(s[i][0], s[i][1])));
      alpha[i] = expf(m_run[i] - m_new);  // 0 on the first tile (m_run = −∞)
      p[i][0] = expf(s[i][0] - m_new);
      p[i][1] = expf(s[i][1] - m_new);
      const float row_sum = xor_sum<16>(p[i][0] + p[i][1]);
      if (lo == 0) l_s[4 * hi + i] = l_s[4 * hi + i] * alpha[i] + row_sum;
      m_run[i] = m_new;
    }
#pragma unroll
    for (int j = 0; j < 2; ++j)
      *reinterpret_cast<float4*>(p_s + (2 * lo + j) * kQFPitch + 4 * hi) = make_float4(p[0][j], p[1][j], p[2][j], p[3][j]);
    if (lo == 0) *reinterpret_cast<float4*>(alpha_s + 4 * hi) = make_float4(alpha[0], alpha[1], alpha[2], alpha[3]);
    __syncthreads();
    // O = O·α + g_tile (CVC × 32) · Pᵀ (32 × 64).
    float a4[4];
    load_vec(a4, alpha_s + 4 * lo);
#pragma unroll
    for (int i = 0; i < CVT; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) o[i][j] *= a4[j];
    rows_fma<1, CVT, 4, kKeys>(o, g_s, kKeyPitch, CVT * hi, p_s, kQFPitch, 4 * lo);
    __syncthreads();
  }

  // Epilogue. One split: out = O / l and lse. Several: this key range's unnormalized O, and m, l per query.
  float scale[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  if (splits == 1) {
    __syncthreads();  // l_s complete
#pragma unroll
    for (int j = 0; j < 4; ++j) scale[j] = 1.0f / l_s[4 * lo + j];
  }
  if (zc == 0 && lo == 0)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int q = q0 + 4 * hi + i;
      if (q >= d.n) continue;
      if (splits == 1) {
        lse[static_cast<std::int64_t>(b) * d.n + q] = m_run[i] + logf(l_s[4 * hi + i]);
      } else {
        float* ml = ws_ml + ((static_cast<std::int64_t>(split) * batch + b) * d.n + q) * 2;
        ml[0] = m_run[i], ml[1] = l_s[4 * hi + i];
      }
    }
  float* base = splits == 1 ? out : ws_o + static_cast<std::int64_t>(split) * batch * d.cv * d.n;
  const int qb = q0 + 4 * lo;
#pragma unroll
  for (int i = 0; i < CVT; ++i) {
    const int c = cv0 + CVT * hi + i;
    if (c >= d.cv) break;
    float* dst = base + (static_cast<std::int64_t>(b) * d.cv + c) * d.n + qb;
    if (d.vec_n && qb + 3 < d.n) {
      *reinterpret_cast<float4*>(dst) =
          make_float4(o[i][0] * scale[0], o[i][1] * scale[1], o[i][2] * scale[2], o[i][3] * scale[3]);
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (qb + j < d.n) dst[j] = o[i][j] * scale[j];
    }
  }
}

// Combines the key splits of the forward: with m_s, l_s, O_s of split s and M = max_s m_s,
// out = Σ_s e^{m_s − M} O_s / Σ_s e^{m_s − M} l_s and lse = M + log Σ_s e^{m_s − M} l_s (splits in order).
__global__ void attention_combine_kernel(float* __restrict__ out, float* __restrict__ lse,
                                         const float* __restrict__ ws_o, const float* __restrict__ ws_ml, int batch,
                                         int cv, int n, int splits) {
  const std::int64_t plane = static_cast<std::int64_t>(cv) * n, total = batch * plane;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / plane, rem = i - b * plane, c = rem / n, q = rem - c * n;
    float m = -INFINITY;
    for (int s = 0; s < splits; ++s) m = fmaxf(m, ws_ml[((s * batch + b) * n + q) * 2]);
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float* ml = ws_ml + ((s * batch + b) * n + q) * 2;
      const float w = expf(ml[0] - m);
      num = fmaf(w, ws_o[(s * batch + b) * plane + c * n + q], num);
      den = fmaf(w, ml[1], den);
    }
    out[i] = num / den;
    if (c == 0) lse[b * n + q] = m + logf(den);
  }
}

// ---- backward -----------------------------------------------------------------------------------------------------

// dsum[b, n] = Σ_c d_out[b, c, n] · out[b, c, n]
__global__ void attention_dsum_kernel(float* __restrict__ dsum, const float* __restrict__ d_out,
                                      const float* __restrict__ out, int batch, int cv, int n) {
  const std::int64_t total = static_cast<std::int64_t>(batch) * n;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = i / n, q = i - b * n;
    const float* dy = d_out + b * cv * n + q;
    const float* y = out + b * cv * n + q;
    float s = 0.0f;
    for (int c = 0; c < cv; ++c) s = fmaf(dy[static_cast<std::int64_t>(c) * n], y[static_cast<std::int64_t>(c) * n], s);
    dsum[i] = s;
  }
}

// Key kernel. Shared memory (floats): φ [min(Ck,64)][36], g [min(Cv,CVC)][36], θ [64][36], d_out [CVC][36],
// P [32][36] and dS [32][36] ([query][key]), lse [32], D [32].
template <int CVC>
std::size_t key_smem_floats(const Dims& d) {
  const int ck_rows = std::max(1, std::min(d.ck, kCkChunk)), cv_rows = std::max(1, std::min(d.cv, CVC));
  return static_cast<std::size_t>(ck_rows + cv_rows) * kKeyPitch + (kCkChunk + CVC) * kQAPitch +
         2 * kQA * kKeyPitch + 2 * kQA;
}

// Grid: x = key tiles of 32, y = batch, z = zc · splits (zc channel chunks: d_g rows z·CVC…, d_phi rows z·64…).
// Writes d_g / d_phi (splits == 1) or ws_g (splits, B, Cv, M) / ws_phi (splits, B, Ck, M).
template <int CVT>
__global__ void __launch_bounds__(kThreads, 2) attention_backward_key_kernel(
    float* __restrict__ d_phi, float* __restrict__ d_g, const float* __restrict__ d_out,
    const float* __restrict__ theta, const float* __restrict__ phi, const float* __restrict__ g,
    const float* __restrict__ lse, const float* __restrict__ dsum, Dims d, int batch, int zc, int splits,
    int q_tiles_per_split, bool want_phi, bool want_g) {
  constexpr int CVC = 16 * CVT;
  extern __shared__ __align__(16) float smem[];
  const int ck_rows = max(1, min(d.ck, kCkChunk)), cv_rows = max(1, min(d.cv, CVC));
  float* ph_s = smem;                          // [ck_rows][kKeyPitch]
  float* g_s = ph_s + ck_rows * kKeyPitch;     // [cv_rows][kKeyPitch]
  float* th_s = g_s + cv_rows * kKeyPitch;     // [kCkChunk][kQAPitch]
  float* do_s = th_s + kCkChunk * kQAPitch;    // [CVC][kQAPitch]
  float* p_s = do_s + CVC * kQAPitch;          // [kQA][kKeyPitch]
  float* ds_s = p_s + kQA * kKeyPitch;         // [kQA][kKeyPitch]
  float* lse_s = ds_s + kQA * kKeyPitch;       // [kQA]
  float* d_s = lse_s + kQA;                    // [kQA]

  const int t = static_cast<int>(threadIdx.x), hi = t >> 4, lo = t & 15;
  const int k0 = static_cast<int>(blockIdx.x) * kKeys, b = static_cast<int>(blockIdx.y);
  const int z = static_cast<int>(blockIdx.z) % zc, split = static_cast<int>(blockIdx.z) / zc;
  const int n_ck = ck_chunks(d), n_cv = cv_chunks<CVC>(d);
  const bool acc_g = want_g && z < n_cv, acc_phi = want_phi && z < n_ck;
  const int g_rows_z = acc_g ? min(CVC, d.cv - z * CVC) : 0, phi_rows_z = acc_phi ? min(kCkChunk, d.ck - z * kCkChunk) : 0;
  const float* th_b = theta + static_cast<std::int64_t>(b) * d.ck * d.n;
  const float* ph_b = phi + static_cast<std::int64_t>(b) * d.ck * d.m;
  const float* g_b = g + static_cast<std::int64_t>(b) * d.cv * d.m;
  const float* do_b = d_out + static_cast<std::int64_t>(b) * d.cv * d.n;
  const bool phi_resident = n_ck == 1, g_resident = n_cv == 1;

  float acc_dg[CVT][2] = {};   // d_g[z·CVC + CVT·hi + i][k0 + 2·lo + j]
  float acc_dphi[4][2] = {};   // d_phi[z·64 + 4·hi + i][k0 + 2·lo + j]

  if (phi_resident) load_tile<kKeys>(ph_s, kKeyPitch, ph_b, d.m, ck_rows, d.ck, k0, d.m, d.vec_m);
  if (g_resident && want_phi) load_tile<kKeys>(g_s, kKeyPitch, g_b, d.m, cv_rows, d.cv, k0, d.m, d.vec_m);

  const int q_begin = split * q_tiles_per_split * kQA;
  const int q_end = min(d.n, q_begin + q_tiles_per_split * kQA);
  for (int q0 = q_begin; q0 < q_end; q0 += kQA) {
    // lse and D of the tile's queries (zeros past N).
    if (t < kQA) {
      const int q = q0 + t;
      const bool ok = q < d.n;
      cp_async4(lse_s + t, ok ? lse + static_cast<std::int64_t>(b) * d.n + q : lse, ok);
      if (want_phi) cp_async4(d_s + t, ok ? dsum + static_cast<std::int64_t>(b) * d.n + q : dsum, ok);
    }
    // S = θᵀφ (2 queries × 2 keys per thread), chunk by chunk.
    float s[2][2] = {}, dp[2][2] = {};
    for (int ch = 0; ch < n_ck; ++ch) {
      const int c0 = ch * kCkChunk, rows = min(kCkChunk, d.ck - c0);
      if (ch > 0) __syncthreads();
      load_tile<kQA>(th_s, kQAPitch, th_b + static_cast<std::int64_t>(c0) * d.n, d.n, kCkChunk, rows, q0, d.n, d.vec_n);
      if (!phi_resident)
        load_tile<kKeys>(ph_s, kKeyPitch, ph_b + static_cast<std::int64_t>(c0) * d.m, d.m, ck_rows, rows, k0, d.m,
                         d.vec_m);
      cp_async_wait_all();
      __syncthreads();
      outer_fma<4>(s, th_s, kQAPitch, 2 * hi, ph_s, kKeyPitch, 2 * lo, max(rows, 0));
    }
    int th_chunk = n_ck - 1;  // the θ chunk now in th_s
    // dP = d_outᵀ g (needed for dS, i.e. for d_phi only).
    int do_chunk = -1;        // the d_out chunk now in do_s
    if (want_phi) {
      for (int ch = 0; ch < n_cv; ++ch) {
        const int c0 = ch * CVC, rows = min(CVC, d.cv - c0);
        __syncthreads();
        load_tile<kQA>(do_s, kQAPitch, do_b + static_cast<std::int64_t>(c0) * d.n, d.n, CVC, rows, q0, d.n, d.vec_n);
        if (!g_resident)
          load_tile<kKeys>(g_s, kKeyPitch, g_b + static_cast<std::int64_t>(c0) * d.m, d.m, cv_rows, rows, k0, d.m,
                           d.vec_m);
        cp_async_wait_all();
        __syncthreads();
        outer_fma<4>(dp, do_s, kQAPitch, 2 * hi, g_s, kKeyPitch, 2 * lo, max(rows, 0));
      }
      do_chunk = n_cv - 1;
    }
    // P and dS of the tile; zero for queries past N and keys past M.
    float p[2][2], ds[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int ql = 2 * hi + i;
      const bool q_ok = q0 + ql < d.n;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const bool ok = q_ok && k0 + 2 * lo + j < d.m;
        p[i][j] = ok ? expf(s[i][j] - lse_s[ql]) : 0.0f;
        ds[i][j] = ok && want_phi ? p[i][j] * (dp[i][j] - d_s[ql]) : 0.0f;
      }
      *reinterpret_cast<float2*>(p_s + ql * kKeyPitch + 2 * lo) = make_float2(p[i][0], p[i][1]);
      *reinterpret_cast<float2*>(ds_s + ql * kKeyPitch + 2 * lo) = make_float2(ds[i][0], ds[i][1]);
    }
    // The operands of this block's output chunk z: θ chunk z (d_phi) and d_out chunk z (d_g).
    const bool need_th = acc_phi && th_chunk != z, need_do = acc_g && do_chunk != z;
    if (need_th || need_do) {
      __syncthreads();  // everyone is done reading th_s / do_s
      if (need_th)
        load_tile<kQA>(th_s, kQAPitch, th_b + static_cast<std::int64_t>(z) * kCkChunk * d.n, d.n, kCkChunk,
                       phi_rows_z, q0, d.n, d.vec_n);
      if (need_do)
        load_tile<kQA>(do_s, kQAPitch, do_b + static_cast<std::int64_t>(z) * CVC * d.n, d.n, CVC, g_rows_z, q0, d.n,
                       d.vec_n);
      cp_async_wait_all();
    }
    __syncthreads();
    if (acc_g) rows_fma<2, CVT, 2, kQA>(acc_dg, do_s, kQAPitch, CVT * hi, p_s, kKeyPitch, 2 * lo);
    if (acc_phi) rows_fma<2, 4, 2, kQA>(acc_dphi, th_s, kQAPitch, 4 * hi, ds_s, kKeyPitch, 2 * lo);
    __syncthreads();
  }

  cp_async_wait_all();  // nothing in flight at exit (the loop always ran; this is a guard)
  const int k = k0 + 2 * lo;
  const bool two = d.vec_m && k + 1 < d.m;  // M even and both keys valid: one 8-byte store
  if (acc_g) {
    float* base = splits == 1 ? d_g : d_g + static_cast<std::int64_t>(split) * batch * d.cv * d.m;
#pragma unroll
    for (int i = 0; i < CVT; ++i) {
      const int c = z * CVC + CVT * hi + i;
      if (CVT * hi + i >= g_rows_z) break;
      float* dst = base + (static_cast<std::int64_t>(b) * d.cv + c) * d.m + k;
      if (two) {
        *reinterpret_cast<float2*>(dst) = make_float2(acc_dg[i][0], acc_dg[i][1]);
      } else {
        if (k < d.m) dst[0] = acc_dg[i][0];
        if (k + 1 < d.m) dst[1] = acc_dg[i][1];
      }
    }
  }
  if (acc_phi) {
    float* base = splits == 1 ? d_phi : d_phi + static_cast<std::int64_t>(split) * batch * d.ck * d.m;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int c = z * kCkChunk + 4 * hi + i;
      if (4 * hi + i >= phi_rows_z) break;
      float* dst = base + (static_cast<std::int64_t>(b) * d.ck + c) * d.m + k;
      if (two) {
        *reinterpret_cast<float2*>(dst) = make_float2(acc_dphi[i][0], acc_dphi[i][1]);
      } else {
        if (k < d.m) dst[0] = acc_dphi[i][0];
        if (k + 1 < d.m) dst[1] = acc_dphi[i][1];
      }
    }
  }
}

// Query kernel. Shared memory (floats): θ [min(Ck,64)][68], φ [64][36], d_out [min(Cv,CVC)][68],
// g [min(Cv,CVC)][36], dS [32][68] ([key][query]), lse [64], D [64].
template <int CVC>
std::size_t query_smem_floats(const Dims& d) {
  const int ck_rows = std::max(1, std::min(d.ck, kCkChunk)), cv_rows = std::max(1, std::min(d.cv, CVC));
  return static_cast<std::size_t>(ck_rows) * kQFPitch + kCkChunk * kKeyPitch +
         static_cast<std::size_t>(cv_rows) * (kQFPitch + kKeyPitch) + kKeys * kQFPitch + 2 * kQF;
}

// Grid: x = query tiles of 64, y = batch, z = ck_chunks · splits (d_theta rows z·64…, key range of the split).
// Writes d_theta (splits == 1) or ws (splits, B, Ck, N).
template <int CVC>
__global__ void __launch_bounds__(kThreads, 2) attention_backward_query_kernel(
    float* __restrict__ d_theta, const float* __restrict__ d_out, const float* __restrict__ theta,
    const float* __restrict__ phi, const float* __restrict__ g, const float* __restrict__ lse,
    const float* __restrict__ dsum, Dims d, int batch, int splits, int k_tiles_per_split) {
  extern __shared__ __align__(16) float smem[];
  const int ck_rows = max(1, min(d.ck, kCkChunk)), cv_rows = max(1, min(d.cv, CVC));
  float* th_s = smem;                          // [ck_rows][kQFPitch]
  float* ph_s = th_s + ck_rows * kQFPitch;     // [kCkChunk][kKeyPitch]
  float* do_s = ph_s + kCkChunk * kKeyPitch;   // [cv_rows][kQFPitch]
  float* g_s = do_s + cv_rows * kQFPitch;      // [cv_rows][kKeyPitch]
  float* ds_s = g_s + cv_rows * kKeyPitch;     // [kKeys][kQFPitch]
  float* lse_s = ds_s + kKeys * kQFPitch;      // [kQF]
  float* d_s = lse_s + kQF;                    // [kQF]

  const int t = static_cast<int>(threadIdx.x), hi = t >> 4, lo = t & 15;
  const int q0 = static_cast<int>(blockIdx.x) * kQF, b = static_cast<int>(blockIdx.y);
  const int n_ck = ck_chunks(d), n_cv = cv_chunks<CVC>(d);
  const int z = static_cast<int>(blockIdx.z) % n_ck, split = static_cast<int>(blockIdx.z) / n_ck;
  const int rows_z = min(kCkChunk, d.ck - z * kCkChunk);
  const float* th_b = theta + static_cast<std::int64_t>(b) * d.ck * d.n;
  const float* ph_b = phi + static_cast<std::int64_t>(b) * d.ck * d.m;
  const float* g_b = g + static_cast<std::int64_t>(b) * d.cv * d.m;
  const float* do_b = d_out + static_cast<std::int64_t>(b) * d.cv * d.n;
  const bool theta_resident = n_ck == 1, do_resident = n_cv == 1;

  float acc[4][4] = {};  // d_theta[z·64 + 4·hi + i][q0 + 4·lo + j]

  if (t < kQF) {
    const int q = q0 + t;
    const bool ok = q < d.n;
    cp_async4(lse_s + t, ok ? lse + static_cast<std::int64_t>(b) * d.n + q : lse, ok);
    cp_async4(d_s + t, ok ? dsum + static_cast<std::int64_t>(b) * d.n + q : dsum, ok);
  }
  if (theta_resident) load_tile<kQF>(th_s, kQFPitch, th_b, d.n, ck_rows, d.ck, q0, d.n, d.vec_n);
  if (do_resident) load_tile<kQF>(do_s, kQFPitch, do_b, d.n, cv_rows, d.cv, q0, d.n, d.vec_n);

  const int k_begin = split * k_tiles_per_split * kKeys;
  const int k_end = min(d.m, k_begin + k_tiles_per_split * kKeys);
  for (int k0 = k_begin; k0 < k_end; k0 += kKeys) {
    float s[4][2] = {}, dp[4][2] = {};
    for (int ch = 0; ch < n_ck; ++ch) {  // S = θᵀφ
      const int c0 = ch * kCkChunk, rows = min(kCkChunk, d.ck - c0);
      if (ch > 0) __syncthreads();
      if (!theta_resident)
        load_tile<kQF>(th_s, kQFPitch, th_b + static_cast<std::int64_t>(c0) * d.n, d.n, ck_rows, rows, q0, d.n,
                       d.vec_n);
      load_tile<kKeys>(ph_s, kKeyPitch, ph_b + static_cast<std::int64_t>(c0) * d.m, d.m, kCkChunk, rows, k0, d.m,
                       d.vec_m);
      cp_async_wait_all();
      __syncthreads();
      outer_fma<4>(s, th_s, kQFPitch, 4 * hi, ph_s, kKeyPitch, 2 * lo, max(rows, 0));
    }
    for (int ch = 0; ch < n_cv; ++ch) {  // dP = d_outᵀ g
      const int c0 = ch * CVC, rows = min(CVC, d.cv - c0);
      __syncthreads();
      if (!do_resident)
        load_tile<kQF>(do_s, kQFPitch, do_b + static_cast<std::int64_t>(c0) * d.n, d.n, cv_rows, rows, q0, d.n,
                       d.vec_n);
      load_tile<kKeys>(g_s, kKeyPitch, g_b + static_cast<std::int64_t>(c0) * d.m, d.m, cv_rows, rows, k0, d.m,
                       d.vec_m);
      cp_async_wait_all();
      __syncthreads();
      outer_fma<4>(dp, do_s, kQFPitch, 4 * hi, g_s, kKeyPitch, 2 * lo, max(rows, 0));
    }
    // dS, stored transposed ([key][query]); zero for queries past N and keys past M.
    float ds[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int ql = 4 * hi + i;
      const bool q_ok = q0 + ql < d.n;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const bool ok = q_ok && k0 + 2 * lo + j < d.m;
        ds[i][j] = ok ? expf(s[i][j] - lse_s[ql]) * (dp[i][j] - d_s[ql]) : 0.0f;
      }
    }
#pragma unroll
    for (int j = 0; j < 2; ++j)
      *reinterpret_cast<float4*>(ds_s + (2 * lo + j) * kQFPitch + 4 * hi) =
          make_float4(ds[0][j], ds[1][j], ds[2][j], ds[3][j]);
    // φ chunk z for the product (the last chunk is still there when z is the last chunk).
    if (n_ck > 1 && z != n_ck - 1) {
      __syncthreads();
      load_tile<kKeys>(ph_s, kKeyPitch, ph_b + static_cast<std::int64_t>(z) * kCkChunk * d.m, d.m, kCkChunk, rows_z,
                       k0, d.m, d.vec_m);
      cp_async_wait_all();
    }
    __syncthreads();
    rows_fma<2, 4, 4, kKeys>(acc, ph_s, kKeyPitch, 4 * hi, ds_s, kQFPitch, 4 * lo);
    __syncthreads();
  }

  cp_async_wait_all();  // nothing in flight at exit (the loop always ran; this is a guard)
  float* base = splits == 1 ? d_theta : d_theta + static_cast<std::int64_t>(split) * batch * d.ck * d.n;
  const int qb = q0 + 4 * lo;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (4 * hi + i >= rows_z) break;
    const int c = z * kCkChunk + 4 * hi + i;
    float* dst = base + (static_cast<std::int64_t>(b) * d.ck + c) * d.n + qb;
    if (d.vec_n && qb + 3 < d.n) {
      *reinterpret_cast<float4*>(dst) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (qb + j < d.n) dst[j] = acc[i][j];
    }
  }
}

// out[i] = Σ_{s < splits} ws[s · count + i], in order.
__global__ void sum_splits_kernel(float* __restrict__ out, const float* __restrict__ ws, std::int64_t count,
                                  int splits) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float s = ws[i];
    for (int k = 1; k < splits; ++k) s += ws[k * count + i];
    out[i] = s;
  }
}

// ---- host side ----------------------------------------------------------------------------------------------------

template <typename Kernel>
void set_smem(Kernel kernel, std::size_t floats, const char* what) {
  const std::size_t bytes = floats * sizeof(float);
  int device = 0, limit = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  BIGCOLOR_CHECK(bytes <= static_cast<std::size_t>(limit), what, ": needs ", bytes, " bytes of shared memory, the GPU ",
                 "offers ", limit);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

Dims dims_of(const Tensor& theta, const Tensor& g) {
  const std::int64_t ck = theta.dim(1), n = theta.dim(2), cv = g.dim(1), m = g.dim(2);
  constexpr std::int64_t kMax = std::int64_t{1} << 30;
  BIGCOLOR_CHECK(ck < kMax && n < kMax && cv < kMax && m < kMax && theta.dim(0) < 65536, "cuda attention: sizes too large");
  return {static_cast<int>(ck), static_cast<int>(cv), static_cast<int>(n), static_cast<int>(m), n % 4 == 0,
          m % 4 == 0};
}

// How many parts to split a loop of `tiles` iterations into, given `blocks` blocks without the split. Only a grid
// of less than one wave (two resident blocks per SM) is split, since partial sums cost memory traffic; then the
// split minimizes (waves of blocks) × (iterations per block), with at least 2 iterations per part, ties going to
// fewer parts. Returns {parts, tiles per part}, no part empty.
std::pair<int, int> split_loop(int tiles, std::int64_t blocks) {
  const std::int64_t slots = 2LL * sm_count();
  tiles = std::max(tiles, 1);
  if (blocks >= slots) return {1, tiles};
  const auto waves = [&](std::int64_t n) { return (n + slots - 1) / slots; };
  int best_parts = 1, best_per = tiles;
  std::int64_t best_cost = waves(blocks) * tiles;
  for (int parts = 2; parts <= std::min(64, tiles / 2); ++parts) {
    const int per = ceil_div(tiles, parts), used = ceil_div(tiles, per);
    const std::int64_t cost = waves(blocks * used) * per;
    if (cost < best_cost) best_cost = cost, best_parts = used, best_per = per;
  }
  return {best_parts, best_per};
}

void sum_splits(float* out, const float* ws, std::int64_t count, int splits) {
  sum_splits_kernel<<<grid_blocks(count, 256), 256>>>(out, ws, count, splits);
  check_launch();
}

template <int CVT>
void launch_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g,
                    const Dims& d, int batch) {
  constexpr int CVC = 16 * CVT;
  const int q_tiles = ceil_div(d.n, kQF), n_cv = cv_chunks<CVC>(d), k_tiles = ceil_div(d.m, kKeys);
  // Too few query tiles to fill the GPU (batch 1): split the keys too, and combine the partial softmaxes.
  const auto [splits, per] = split_loop(k_tiles, static_cast<std::int64_t>(q_tiles) * batch * n_cv);
  Tensor ws_o, ws_ml;
  if (splits > 1) {
    ws_o = Tensor::empty({splits, batch, d.cv, d.n}, DType::F32, Device::CUDA);
    ws_ml = Tensor::empty({splits, batch, d.n, 2}, DType::F32, Device::CUDA);
  }
  const std::size_t floats = forward_smem_floats<CVC>(d);
  set_smem(attention_forward_kernel<CVT>, floats, "cuda::attention_forward");
  const dim3 grid(q_tiles, batch, n_cv * splits);
  attention_forward_kernel<CVT><<<grid, kThreads, floats * sizeof(float)>>>(
      out.data<float>(), lse.data<float>(), theta.data<float>(), phi.data<float>(), g.data<float>(), d,
      splits > 1 ? ws_o.data<float>() : nullptr, splits > 1 ? ws_ml.data<float>() : nullptr, batch, splits, per);
  check_launch();
  if (splits > 1) {
    const std::int64_t count = static_cast<std::int64_t>(batch) * d.cv * d.n;
    attention_combine_kernel<<<grid_blocks(count, 256), 256>>>(out.data<float>(), lse.data<float>(),
                                                               ws_o.data<float>(), ws_ml.data<float>(), batch, d.cv,
                                                               d.n, splits);
    check_launch();
  }
}

template <int CVT>
void launch_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                     const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& lse, const Tensor& dsum,
                     const Dims& d, int batch) {
  constexpr int CVC = 16 * CVT;
  const bool want_theta = d_theta.defined(), want_phi = d_phi.defined(), want_g = d_g.defined();
  const float* dsum_p = dsum.defined() ? dsum.data<float>() : lse.data<float>();  // unread when !dsum
  if (want_phi || want_g) {
    const int zc = std::max(want_g ? cv_chunks<CVC>(d) : 1, want_phi ? ck_chunks(d) : 1);
    const int key_tiles = ceil_div(d.m, kKeys), q_tiles = ceil_div(d.n, kQA);
    const auto [splits, per] = split_loop(q_tiles, static_cast<std::int64_t>(key_tiles) * batch * zc);
    Tensor ws_phi, ws_g;
    float* out_phi = want_phi ? d_phi.data<float>() : nullptr;
    float* out_g = want_g ? d_g.data<float>() : nullptr;
    if (splits > 1) {
      if (want_phi) ws_phi = Tensor::empty({splits, batch, d.ck, d.m}, DType::F32, Device::CUDA), out_phi = ws_phi.data<float>();
      if (want_g) ws_g = Tensor::empty({splits, batch, d.cv, d.m}, DType::F32, Device::CUDA), out_g = ws_g.data<float>();
    }
    const std::size_t floats = key_smem_floats<CVC>(d);
    set_smem(attention_backward_key_kernel<CVT>, floats, "cuda::attention_backward");
    const dim3 grid(key_tiles, batch, zc * splits);
    attention_backward_key_kernel<CVT><<<grid, kThreads, floats * sizeof(float)>>>(
        out_phi, out_g, d_out.data<float>(), theta.data<float>(), phi.data<float>(), g.data<float>(),
        lse.data<float>(), dsum_p, d, batch, zc, splits, per, want_phi, want_g);
    check_launch();
    if (splits > 1) {
      if (want_phi) sum_splits(d_phi.data<float>(), ws_phi.data<float>(), d_phi.numel(), splits);
      if (want_g) sum_splits(d_g.data<float>(), ws_g.data<float>(), d_g.numel(), splits);
    }
  }
  if (want_theta) {
    const int n_ck = ck_chunks(d), q_tiles = ceil_div(d.n, kQF), k_tiles = ceil_div(d.m, kKeys);
    const auto [splits, per] = split_loop(k_tiles, static_cast<std::int64_t>(q_tiles) * batch * n_ck);
    Tensor ws;
    float* out_theta = d_theta.data<float>();
    if (splits > 1) ws = Tensor::empty({splits, batch, d.ck, d.n}, DType::F32, Device::CUDA), out_theta = ws.data<float>();
    const std::size_t floats = query_smem_floats<CVC>(d);
    set_smem(attention_backward_query_kernel<CVC>, floats, "cuda::attention_backward");
    const dim3 grid(q_tiles, batch, n_ck * splits);
    attention_backward_query_kernel<CVC><<<grid, kThreads, floats * sizeof(float)>>>(
        out_theta, d_out.data<float>(), theta.data<float>(), phi.data<float>(), g.data<float>(), lse.data<float>(),
        dsum_p, d, batch, splits, per);
    check_launch();
    if (splits > 1) sum_splits(d_theta.data<float>(), ws.data<float>(), d_theta.numel(), splits);
  }
}

}  // namespace

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  const Dims d = dims_of(theta, g);
  const int batch = static_cast<int>(theta.dim(0));
  if (batch == 0 || d.n == 0) return;
  if (d.cv <= 96)
    launch_forward<6>(out, lse, theta, phi, g, d, batch);
  else
    launch_forward<12>(out, lse, theta, phi, g, d, batch);
}

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse) {
  const bool want_theta = d_theta.defined(), want_phi = d_phi.defined(), want_g = d_g.defined();
  if (!want_theta && !want_phi && !want_g) return;
  const Dims d = dims_of(theta, g);
  const int batch = static_cast<int>(theta.dim(0));
  if (batch == 0) return;
  if (d.n == 0) {  // no queries: the key-side gradients are zero
    if (want_phi) d_phi.zero();
    if (want_g) d_g.zero();
    return;
  }
  Tensor dsum;
  if (want_theta || want_phi) {
    dsum = Tensor::empty({batch, d.n}, DType::F32, Device::CUDA);
    const std::int64_t count = static_cast<std::int64_t>(batch) * d.n;
    attention_dsum_kernel<<<grid_blocks(count, 256), 256>>>(dsum.data<float>(), d_out.data<float>(),
                                                            out.data<float>(), batch, d.cv, d.n);
    check_launch();
  }
  if (d.cv <= 96)
    launch_backward<6>(d_theta, d_phi, d_g, d_out, theta, phi, g, lse, dsum, d, batch);
  else
    launch_backward<12>(d_theta, d_phi, d_g, d_out, theta, phi, g, lse, dsum, d, batch);
}

}  // namespace bigcolor::cuda
