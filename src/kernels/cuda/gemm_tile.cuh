// A general FP32 GEMM for the CUDA kernels, in one kernel template: a 128 × 128 block tile, 8 × 8 outputs per thread
// in two 4×4 quadrants (256 threads = 16 × 16), k-tiles of 8 fed straight into double-buffered shared memory by
// cp.async (zero fill outside the matrices), operands in either layout, batched over blockIdx.z and optionally
// split over K into partial sums (the caller adds them). FP32 FMAs in a fixed order: deterministic.
// Used by the upsampling convolution's backward (upconv.cu); see GemmParams for the operand layouts.
#pragma once

#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "tensor/error.h"

namespace bigcolor::cuda::gemm_tile {

constexpr int kGemmThreads = 256;  // 16 × 16 threads, 8 × 8 outputs each
constexpr int kBM = 128, kBN = 128, kBK = 8;
constexpr int kAPitch = kBM + 4, kBPitch = kBN + 4;  // +4: conflict-free transposed stores, 16-byte aligned rows

// C (M × N) (+)= Σ_kb Σ_k A_kb(m, k) · B_kb(k, n), batched over z.
//   A(m, k) = a[k · lda + m] (A_KMAJOR) or a[m · lda + k];  B(k, n) = b[k · ldb + n] (B_KMAJOR) or b[n · ldb + k].
//   K is kb_count blocks of kb_len (A and B advance by a_kb_stride, b_kb_stride between blocks); its k-tiles of 8
//   are split over `splits` blocks (tiles_per_split each), which write C + split · c_split_stride.
//   Output batch zb = blockIdx.z / splits offsets A, B and C by their z strides.
struct GemmParams {
  const float* a;
  const float* b;
  float* c;
  int m, n, kb_len, kb_count;
  std::int64_t lda, ldb, ldc;
  std::int64_t a_kb_stride, b_kb_stride;
  std::int64_t a_z_stride, b_z_stride, c_z_stride, c_split_stride;
  int splits, tiles_per_split;
  bool accumulate;              // C += result, else C = result
  bool vec_a, vec_b, vec_c;     // 16-byte global accesses are aligned and in bounds by whole vectors
};

template <bool A_KMAJOR, bool B_KMAJOR>
__global__ void __launch_bounds__(kGemmThreads, 2) gemm_kernel(GemmParams p) {
  __shared__ __align__(16) float as[2][kBK][kAPitch];
  __shared__ __align__(16) float bs[2][kBK][kBPitch];
  const int t = static_cast<int>(threadIdx.x), tx = t & 15, ty = t >> 4;
  const int m0 = static_cast<int>(blockIdx.y) * kBM, n0 = static_cast<int>(blockIdx.x) * kBN;
  const int zb = static_cast<int>(blockIdx.z) / p.splits, split = static_cast<int>(blockIdx.z) - zb * p.splits;
  const float* a_z = p.a + zb * p.a_z_stride;
  const float* b_z = p.b + zb * p.b_z_stride;
  const int tiles_per_kb = ceil_div(p.kb_len, kBK), total = p.kb_count * tiles_per_kb;
  const int tile_begin = split * p.tiles_per_split, tile_end = min(total, tile_begin + p.tiles_per_split);

  // Each thread copies one 4-float piece of each operand tile straight into shared memory (cp.async):
  //   k-major: row t/32 of the k-tile, 4 consecutive m (n) at 4·(t%32) (one 16-byte copy when vec);
  //   m-major: m (n) = t/2, 4 consecutive k at 4·(t%2), transposed into 4 rows (four 4-byte copies).
  // Out-of-bounds elements are zero-filled.
  const auto load = [&](int tile, int buf) {
    const int kb = tile / tiles_per_kb, k0 = (tile - kb * tiles_per_kb) * kBK;
    const float* a = a_z + kb * p.a_kb_stride;
    const float* b = b_z + kb * p.b_kb_stride;
    if (A_KMAJOR) {
      const int gk = k0 + (t >> 5), gm = m0 + 4 * (t & 31);
      const float* src = a + static_cast<std::int64_t>(gk) * p.lda + gm;
      float* dst = &as[buf][t >> 5][4 * (t & 31)];
      if (p.vec_a) {
        const bool ok = gk < p.kb_len && gm < p.m;
        cp_async16(dst, ok ? src : p.a, ok);
      } else {
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const bool ok = gk < p.kb_len && gm + u < p.m;
          cp_async4(dst + u, ok ? src + u : p.a, ok);
        }
      }
    } else {
      const int gm = m0 + (t >> 1), gk = k0 + 4 * (t & 1);
      const float* src = a + static_cast<std::int64_t>(gm) * p.lda + gk;
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const bool ok = gm < p.m && gk + u < p.kb_len;
        cp_async4(&as[buf][4 * (t & 1) + u][t >> 1], ok ? src + u : p.a, ok);
      }
    }
    if (B_KMAJOR) {
      const int gk = k0 + (t >> 5), gn = n0 + 4 * (t & 31);
      const float* src = b + static_cast<std::int64_t>(gk) * p.ldb + gn;
      float* dst = &bs[buf][t >> 5][4 * (t & 31)];
      if (p.vec_b) {
        const bool ok = gk < p.kb_len && gn < p.n;
        cp_async16(dst, ok ? src : p.b, ok);
      } else {
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const bool ok = gk < p.kb_len && gn + u < p.n;
          cp_async4(dst + u, ok ? src + u : p.b, ok);
        }
      }
    } else {
      const int gn = n0 + (t >> 1), gk = k0 + 4 * (t & 1);
      const float* src = b + static_cast<std::int64_t>(gn) * p.ldb + gk;
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const bool ok = gn < p.n && gk + u < p.kb_len;
        cp_async4(&bs[buf][4 * (t & 1) + u][t >> 1], ok ? src + u : p.b, ok);
      }
    }
  };

  float acc[8][8] = {};  // rows m0 + 64·(i/4) + 4·ty + i%4, columns n0 + 64·(j/4) + 4·tx + j%4
  if (tile_begin < tile_end) load(tile_begin, 0);
  cp_async_commit();
  for (int tile = tile_begin; tile < tile_end; ++tile) {
    const int buf = (tile - tile_begin) & 1;
    if (tile + 1 < tile_end) load(tile + 1, buf ^ 1);  // buf ^ 1 was last read before the previous barrier
    cp_async_commit();
    cp_async_wait<1>();  // this tile's group has landed (the next one may still be in flight)
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&as[buf][kk][4 * ty]);
      const float4 a1 = *reinterpret_cast<const float4*>(&as[buf][kk][64 + 4 * ty]);
      const float4 b0 = *reinterpret_cast<const float4*>(&bs[buf][kk][4 * tx]);
      const float4 b1 = *reinterpret_cast<const float4*>(&bs[buf][kk][64 + 4 * tx]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();  // everyone is done with buf before the next iteration refills it
  }
  cp_async_wait<0>();

  float* c = p.c + zb * p.c_z_stride + split * p.c_split_stride;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int gm = m0 + 64 * (i >> 2) + 4 * ty + (i & 3);
    if (gm >= p.m) continue;
#pragma unroll
    for (int jh = 0; jh < 2; ++jh) {
      const int gn = n0 + 64 * jh + 4 * tx;
      float* dst = c + static_cast<std::int64_t>(gm) * p.ldc + gn;
      const float* v = &acc[i][4 * jh];
      if (p.vec_c && gn < p.n) {  // n % 4 == 0: the whole vector is in bounds
        float4 r = make_float4(v[0], v[1], v[2], v[3]);
        if (p.accumulate) {
          const float4 old = *reinterpret_cast<const float4*>(dst);
          r.x += old.x, r.y += old.y, r.z += old.z, r.w += old.w;
        }
        *reinterpret_cast<float4*>(dst) = r;
      } else {
#pragma unroll
        for (int u = 0; u < 4; ++u)
          if (gn + u < p.n) dst[u] = p.accumulate ? dst[u] + v[u] : v[u];
      }
    }
  }
}

template <bool A_KMAJOR, bool B_KMAJOR>
void launch_gemm(const GemmParams& p, int z_count) {
  const dim3 grid(ceil_div(p.n, kBN), ceil_div(p.m, kBM), z_count * p.splits);
  BIGCOLOR_CHECK(grid.y <= 65535u && grid.z <= 65535u, "cuda upconv: GEMM grid too large");
  gemm_kernel<A_KMAJOR, B_KMAJOR><<<grid, kGemmThreads>>>(p);
  check_launch();
}

}  // namespace bigcolor::cuda::gemm_tile
