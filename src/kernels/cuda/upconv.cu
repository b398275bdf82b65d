// The upsampling convolution out = conv3x3(upsample_nearest2x(in), w, padding 1) + bias on the GPU, without the
// upsampled tensor (see kernels/cpu/upconv.cpp for the algebra; both backends use the same decompositions).
//
// Forward: output phase (a, b) ∈ {0,1}² is a 2×2 convolution of the 1-padded input with summed taps,
//   out[2i+a][2j+b] = Σ_{r,s} K_ab[r][s] · P[i+a+r][j+b+s]        (16 multiply-adds per input pixel and channel pair)
// upconv_phase_weights_kernel writes the 16 summed kernels once per call as Wp (Cin_pad, 16, Cout_pad), zero padded
// to whole channel chunks, so the main kernel loads them with aligned 16-byte copies and no bounds checks.
// upconv_forward_kernel: an implicit GEMM. A block owns 16 output channels × a 16×16 tile of input pixels (all 4
// phases: 32×32 output pixels); 8 warps = 2 row phases a × 4 groups of 4 channels; lane = 16·h + row owns input
// row `row` of the tile and columns 8h … 8h+7, for both column phases b: 4 channels × 8 pixels × 2 phases = 64
// accumulators. Input channels stream in chunks of 8 through a 3-stage cp.async pipeline: per chunk the input tile
// with its 1-pixel halo (8 × 18 × 18, zero outside the image) and the chunk's summed weights (8 × 16 × 16). Per
// channel a thread reads 2 rows × 10 input values (float4, float4, float2) and 8 float4 of weights (a broadcast:
// one address per warp) for 256 FMAs. When the grid is too small to fill the GPU (batch 1, small images), the
// input channels are split over several blocks writing partial sums; a second kernel adds them in order, plus bias.
//
// Backward: the pooled maps D_t[co][y][x] (t = 3·ky + kx, the sum of the 2×2 block of d_out that tap t sends to
// input pixel (y, x)) turn both gradients into plain GEMMs with 9 multiply-adds per channel pair and pixel:
//   d_in[b]  (Cin × HW)   = Wtᵀ (Cin × 9·Cout) · D[b] (9·Cout × HW),   Wt[(t·Cout + co)][ci] = w[co][ci][t]
//   dWt      (9·Cout × Cin) = Σ_b D[b] · in[b]ᵀ                        folded into d_weight[co][ci][t]
// upconv_pool_kernel writes D for a chunk of samples (at most 256 MB of maps at a time); gemm_tile::gemm_kernel
// (gemm_tile.cuh) is one handwritten FP32 GEMM (128 × 128 block tile, 8 × 8 per thread in two 4×4 quadrants, k-tiles of 8, double-buffered
// shared memory fed from registers), with operands in either layout, batched over samples, and split over K with
// partial sums in a workspace when the output alone gives too few blocks. d_bias is one block per channel
// (block_sum). No atomics anywhere: every result is deterministic.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/gemm_tile.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "tensor/error.h"

namespace bigcolor::cuda {

namespace {

using gemm_tile::GemmParams;
using gemm_tile::kBK;
using gemm_tile::kBM;
using gemm_tile::kBN;
using gemm_tile::launch_gemm;

// Parts to split a loop of `iterations` into, given `blocks` blocks without the split: the split that minimizes
// (waves of blocks) × (iterations per block), with two resident blocks per SM and at least `min_per_part`
// iterations per part; ties go to fewer parts. Partial sums cost memory traffic, so unless they are small
// (`cheap_partials`: the weight gradient) only a grid of less than one wave is split. Returns {parts, iterations
// per part}, no part empty.
std::pair<int, int> split_loop(std::int64_t blocks, int iterations, int min_per_part, bool cheap_partials = false) {
  const std::int64_t slots = 2LL * sm_count();
  iterations = std::max(iterations, 1);
  if (!cheap_partials && blocks >= slots) return {1, iterations};
  const auto waves = [&](std::int64_t n) { return (n + slots - 1) / slots; };
  int best_parts = 1, best_per = iterations;
  std::int64_t best_cost = waves(blocks) * iterations;
  for (int parts = 2; parts <= std::min(64, iterations / min_per_part); ++parts) {
    const int per = ceil_div(iterations, parts), used = ceil_div(iterations, per);
    const std::int64_t cost = waves(blocks * used) * per;
    if (cost < best_cost) best_cost = cost, best_parts = used, best_per = per;
  }
  return {best_parts, best_per};
}

// ---- forward ------------------------------------------------------------------------------------------------------

constexpr int kThreads = 256;
constexpr int kTile = 16;                       // input pixels per tile side
constexpr int kHalo = kTile + 2;                // tile rows/columns with the halo
constexpr int kInPitch = 20;                    // floats per tile row in shared memory (16-byte aligned rows)
constexpr int kInPlane = kHalo * kInPitch;      // one channel's tile
constexpr int kCiChunk = 8;                     // input channels per pipeline stage
constexpr int kCoBlock = 16;                    // output channels per block
constexpr int kStages = 3;
constexpr int kStageFloats = kCiChunk * (kInPlane + 16 * kCoBlock);
constexpr int kForwardSmemBytes = kStages * kStageFloats * static_cast<int>(sizeof(float));

struct UpGeom {
  int batch, cin, cout, h, w;
  int cin_pad, cout_pad;   // multiples of kCiChunk / kCoBlock
  int tiles_x, tiles_y;
  int chunks, splits, chunks_per_split;
};

// Wp[(ci · 16 + 4·(2a + b) + 2r + s) · Cout_pad + co] = K_ab[r][s] of w[co][ci], zero in the padding.
// Tap row ky goes to 2×2 row ⌊(a + ky + 1)/2⌋ − a of phase a (columns likewise).
__global__ void upconv_phase_weights_kernel(float* __restrict__ wp, const float* __restrict__ w, UpGeom g) {
  const std::int64_t total = static_cast<std::int64_t>(g.cin_pad) * g.cout_pad;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const int ci = static_cast<int>(i / g.cout_pad), co = static_cast<int>(i - static_cast<std::int64_t>(ci) * g.cout_pad);
    float k[16] = {};
    if (ci < g.cin && co < g.cout) {
      const float* src = w + (static_cast<std::int64_t>(co) * g.cin + ci) * 9;
#pragma unroll
      for (int ky = 0; ky < 3; ++ky)
#pragma unroll
        for (int kx = 0; kx < 3; ++kx) {
          const float v = src[3 * ky + kx];
#pragma unroll
          for (int a = 0; a < 2; ++a)
#pragma unroll
            for (int b = 0; b < 2; ++b) {
              const int r = (a + ky + 1) / 2 - a, s = (b + kx + 1) / 2 - b;
              k[4 * (2 * a + b) + 2 * r + s] += v;
            }
        }
    }
#pragma unroll
    for (int pt = 0; pt < 16; ++pt) wp[(static_cast<std::int64_t>(ci) * 16 + pt) * g.cout_pad + co] = k[pt];
  }
}

// Grid: x = tiles_y · tiles_x, y = Cout_pad / 16, z = batch · splits. Writes out (splits == 1, with bias) or the
// partial sums ws (splits, B, Cout, 2H, 2W).
__global__ void __launch_bounds__(kThreads, 2) upconv_forward_kernel(float* __restrict__ out,
                                                                      const float* __restrict__ in,
                                                                      const float* __restrict__ wp,
                                                                      const float* __restrict__ bias, UpGeom g) {
  extern __shared__ __align__(16) float smem[];
  const int t = static_cast<int>(threadIdx.x), warp = t >> 5, lane = t & 31;
  const int a = warp >> 2, cog = warp & 3, row = lane & 15, h = lane >> 4;
  const int tile = static_cast<int>(blockIdx.x), tile_y = tile / g.tiles_x, tile_x = tile - tile_y * g.tiles_x;
  const int i0 = tile_y * kTile, j0 = tile_x * kTile;
  const int co0 = static_cast<int>(blockIdx.y) * kCoBlock;
  const int b = static_cast<int>(blockIdx.z) / g.splits, split = static_cast<int>(blockIdx.z) - b * g.splits;
  const int ch_begin = split * g.chunks_per_split, ch_end = min(g.chunks, ch_begin + g.chunks_per_split);
  const int n_chunks = max(ch_end - ch_begin, 0);
  const float* in_b = in + static_cast<std::int64_t>(b) * g.cin * g.h * g.w;

  const auto load_stage = [&](int stage, int chunk) {
    float* in_s = smem + stage * kStageFloats;
    float* w_s = in_s + kCiChunk * kInPlane;
    const int ci0 = chunk * kCiChunk;
    for (int e = t; e < kCiChunk * 16 * kCoBlock / 4; e += kThreads) {  // weights: 512 float4
      const int c = e >> 6, pt = (e >> 2) & 15, q = e & 3;
      cp_async16(w_s + (c * 16 + pt) * kCoBlock + 4 * q,
                 wp + (static_cast<std::int64_t>(ci0 + c) * 16 + pt) * g.cout_pad + co0 + 4 * q);
    }
    for (int e = t; e < kCiChunk * kHalo * kHalo; e += kThreads) {  // input tile with halo
      const int c = e / (kHalo * kHalo), rem = e - c * (kHalo * kHalo), tr = rem / kHalo, u = rem - tr * kHalo;
      const int ci = ci0 + c, y = i0 - 1 + tr, x = j0 - 1 + u;
      const bool ok = ci < g.cin && y >= 0 && y < g.h && x >= 0 && x < g.w;
      cp_async4(in_s + c * kInPlane + tr * kInPitch + u,
                ok ? in_b + (static_cast<std::int64_t>(ci) * g.h + y) * g.w + x : in, ok);
    }
  };

  float acc[2][4][8] = {};  // [column phase b][channel co0 + 4·cog + i][pixel j0 + 8h + jj] of row i0 + row, phase a
  if (n_chunks > 0) load_stage(0, ch_begin);
  cp_async_commit();
  if (n_chunks > 1) load_stage(1, ch_begin + 1);
  cp_async_commit();
  for (int it = 0; it < n_chunks; ++it) {
    cp_async_wait<1>();  // groups committed: it + 2; all but the newest are done, so chunk `it` has landed
    __syncthreads();     // ... for every thread; and stage (it + 2) % 3 (computed at it − 1) is free
    if (it + 2 < n_chunks) load_stage((it + 2) % kStages, ch_begin + it + 2);
    cp_async_commit();
    const float* in_s = smem + (it % kStages) * kStageFloats;
    const float* w_s = in_s + kCiChunk * kInPlane;
#pragma unroll 1
    for (int c = 0; c < kCiChunk; ++c) {
#pragma unroll 1
      for (int r = 0; r < 2; ++r) {
        const float* xr = in_s + c * kInPlane + (row + a + r) * kInPitch + 8 * h;
        const float4 x0 = *reinterpret_cast<const float4*>(xr);
        const float4 x1 = *reinterpret_cast<const float4*>(xr + 4);
        const float2 x2 = *reinterpret_cast<const float2*>(xr + 8);
        const float x[10] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w, x2.x, x2.y};
#pragma unroll
        for (int bb = 0; bb < 2; ++bb)
#pragma unroll
          for (int s = 0; s < 2; ++s) {
            const float4 wv =
                *reinterpret_cast<const float4*>(w_s + (c * 16 + 4 * (2 * a + bb) + 2 * r + s) * kCoBlock + 4 * cog);
            const float wk[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
              for (int jj = 0; jj < 8; ++jj) acc[bb][i][jj] = fmaf(wk[i], x[jj + bb + s], acc[bb][i][jj]);
          }
      }
    }
  }
  cp_async_wait<0>();  // nothing may be in flight when the block exits

  const int iy = i0 + row, jx0 = j0 + 8 * h;
  if (iy >= g.h || jx0 >= g.w) return;
  const std::int64_t oh = 2LL * g.h, ow = 2LL * g.w;
  float* base = out + static_cast<std::int64_t>(split) * g.batch * g.cout * oh * ow;
  const bool vec = (g.w % 2 == 0) && jx0 + 7 < g.w;  // 16 consecutive outputs, 16-byte aligned
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int co = co0 + 4 * cog + i;
    if (co >= g.cout) break;
    const float add = (bias != nullptr && g.splits == 1) ? bias[co] : 0.0f;
    float* dst = base + ((static_cast<std::int64_t>(b) * g.cout + co) * oh + 2 * iy + a) * ow + 2 * jx0;
    if (vec) {
#pragma unroll
      for (int q = 0; q < 4; ++q)
        reinterpret_cast<float4*>(dst)[q] = make_float4(acc[0][i][2 * q] + add, acc[1][i][2 * q] + add,
                                                        acc[0][i][2 * q + 1] + add, acc[1][i][2 * q + 1] + add);
    } else {
#pragma unroll
      for (int jj = 0; jj < 8; ++jj)
        if (jx0 + jj < g.w) {
          dst[2 * jj] = acc[0][i][jj] + add;
          dst[2 * jj + 1] = acc[1][i][jj] + add;
        }
    }
  }
}

// out[i] = bias[channel of i] + Σ_s ws[s · count + i], in order. plane = 4HW, channels = Cout.
__global__ void upconv_sum_splits_kernel(float* __restrict__ out, const float* __restrict__ ws,
                                         const float* __restrict__ bias, std::int64_t count, std::int64_t plane,
                                         int channels, int splits) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float s = ws[i];
    for (int k = 1; k < splits; ++k) s += ws[k * count + i];
    if (bias != nullptr) s += bias[(i / plane) % channels];
    out[i] = s;
  }
}

// ---- backward: pooled maps, weight rearrangement, GEMM -----------------------------------------------------------

// pooled (nb, 9, Cout, H, W) from d_out (nb, Cout, 2H, 2W): tap t = 3·ky + kx sums rows {2y+1−ky, 2y+2−ky} and
// columns {2x+1−kx, 2x+2−kx} (zero outside). From the 4×4 window v of rows 2y−1 … 2y+2 and columns 2x−1 … 2x+2:
// D_t = Σ_{dy,dx ∈ {0,1}} v[2 − ky + dy][2 − kx + dx].
__global__ void upconv_pool_kernel(float* __restrict__ pooled, const float* __restrict__ d_out, int nb, int cout,
                                   int h, int w) {
  const std::int64_t hw = static_cast<std::int64_t>(h) * w, total = static_cast<std::int64_t>(nb) * cout * hw;
  const int oh = 2 * h, ow = 2 * w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t plane = i / hw;  // b · Cout + co
    const int p = static_cast<int>(i - plane * hw), y = p / w, x = p - y * w;
    const std::int64_t b = plane / cout, co = plane - b * cout;
    const float* src = d_out + plane * oh * ow;
    float v[4][4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int yy = 2 * y - 1 + r;
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int xx = 2 * x - 1 + c;
        v[r][c] = (yy >= 0 && yy < oh && xx >= 0 && xx < ow) ? src[static_cast<std::int64_t>(yy) * ow + xx] : 0.0f;
      }
    }
    float cols[4][3];  // column-pair sums: cols[r][kx] = v[r][2 − kx] + v[r][3 − kx]
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int kx = 0; kx < 3; ++kx) cols[r][kx] = v[r][2 - kx] + v[r][3 - kx];
    float* dst = pooled + (b * 9 * cout + co) * hw + p;
#pragma unroll
    for (int ky = 0; ky < 3; ++ky)
#pragma unroll
      for (int kx = 0; kx < 3; ++kx)
        dst[static_cast<std::int64_t>(3 * ky + kx) * cout * hw] = cols[2 - ky][kx] + cols[3 - ky][kx];
  }
}

// wt[(t · Cout + co) · Cin + ci] = w[(co · Cin + ci) · 9 + t]
__global__ void upconv_weight_taps_kernel(float* __restrict__ wt, const float* __restrict__ w, int cout, int cin) {
  const std::int64_t total = 9LL * cout * cin;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t row = i / cin, ci = i - row * cin;
    const std::int64_t tap = row / cout, co = row - tap * cout;
    wt[i] = w[(co * cin + ci) * 9 + tap];
  }
}

// d_weight[(co · Cin + ci) · 9 + t] += Σ_s ws[s][(t · Cout + co) · Cin + ci], in order.
__global__ void upconv_fold_weight_kernel(float* __restrict__ d_weight, const float* __restrict__ ws, int cout,
                                          int cin, int splits) {
  const std::int64_t total = 9LL * cout * cin;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t pair = i / 9, tap = i - pair * 9, co = pair / cin, ci = pair - co * cin;
    const std::int64_t j = (tap * cout + co) * cin + ci;
    float s = ws[j];
    for (int k = 1; k < splits; ++k) s += ws[k * total + j];
    d_weight[i] += s;
  }
}

// d_bias[co] += Σ over samples and pixels of d_out[b, co] (one block per channel, double sums, fixed tree).
__global__ void upconv_bias_kernel(float* __restrict__ d_bias, const float* __restrict__ d_out, int batch, int cout,
                                   std::int64_t plane) {
  const int co = static_cast<int>(blockIdx.x);
  double s = 0.0;
  for (int b = 0; b < batch; ++b) {
    const float* src = d_out + (static_cast<std::int64_t>(b) * cout + co) * plane;
    for (std::int64_t e = threadIdx.x; e < plane; e += blockDim.x) s += src[e];
  }
  s = block_sum(s);
  if (threadIdx.x == 0) d_bias[co] += static_cast<float>(s);
}

bool aligned4(std::int64_t v) { return v % 4 == 0; }

}  // namespace

void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  const std::int64_t batch = in.dim(0), cin = in.dim(1), h = in.dim(2), w = in.dim(3), cout = weight.dim(0);
  if (batch == 0 || cout == 0 || h == 0 || w == 0) return;
  constexpr std::int64_t kMax = std::int64_t{1} << 30;
  BIGCOLOR_CHECK(cin < kMax && cout < kMax && h < kMax / 2 && w < kMax / 2 && batch < kMax,
                 "cuda::upconv3x3_forward: sizes too large");
  UpGeom g{};
  g.batch = static_cast<int>(batch), g.cin = static_cast<int>(cin), g.cout = static_cast<int>(cout);
  g.h = static_cast<int>(h), g.w = static_cast<int>(w);
  g.cin_pad = ceil_div(g.cin, kCiChunk) * kCiChunk, g.cout_pad = ceil_div(g.cout, kCoBlock) * kCoBlock;
  g.tiles_x = ceil_div(g.w, kTile), g.tiles_y = ceil_div(g.h, kTile);
  g.chunks = g.cin_pad / kCiChunk;
  const std::int64_t blocks = static_cast<std::int64_t>(g.tiles_x) * g.tiles_y * (g.cout_pad / kCoBlock) * g.batch;
  const auto [splits, per] = split_loop(blocks, g.chunks, 4);
  g.splits = splits, g.chunks_per_split = per;
  const dim3 grid(g.tiles_x * g.tiles_y, g.cout_pad / kCoBlock, g.batch * g.splits);
  BIGCOLOR_CHECK(grid.y <= 65535u && grid.z <= 65535u, "cuda::upconv3x3_forward: grid too large");

  Tensor wp = Tensor::empty({std::max(g.cin_pad, 1), 16, g.cout_pad}, DType::F32, Device::CUDA);
  if (g.cin_pad > 0) {
    upconv_phase_weights_kernel<<<grid_blocks(static_cast<std::int64_t>(g.cin_pad) * g.cout_pad, 256), 256>>>(
        wp.data<float>(), weight.data<float>(), g);
    check_launch();
  }
  Tensor ws;
  float* dst = out.data<float>();
  if (g.splits > 1) {
    ws = Tensor::empty({g.splits, batch, cout, 2 * h, 2 * w}, DType::F32, Device::CUDA);
    dst = ws.data<float>();
  }
  CUDA_CHECK(cudaFuncSetAttribute(upconv_forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kForwardSmemBytes));
  const float* in_p = cin > 0 ? in.data<float>() : wp.data<float>();  // never read when there are no channels
  upconv_forward_kernel<<<grid, kThreads, kForwardSmemBytes>>>(dst, in_p, wp.data<float>(),
                                                               bias.defined() ? bias.data<float>() : nullptr, g);
  check_launch();
  if (g.splits > 1) {
    const std::int64_t count = out.numel();
    upconv_sum_splits_kernel<<<grid_blocks(count, 256), 256>>>(out.data<float>(), ws.data<float>(),
                                                               bias.defined() ? bias.data<float>() : nullptr, count,
                                                               4 * h * w, g.cout, g.splits);
    check_launch();
  }
}

void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight) {
  const std::int64_t batch = in.dim(0), cin = in.dim(1), h = in.dim(2), w = in.dim(3), cout = weight.dim(0);
  constexpr std::int64_t kMax = std::int64_t{1} << 30;
  BIGCOLOR_CHECK(cin < kMax && 9 * cout < kMax && h * w < kMax && batch < kMax,
                 "cuda::upconv3x3_backward: sizes too large");
  if (d_bias.defined() && cout > 0) {
    upconv_bias_kernel<<<static_cast<unsigned>(cout), 256>>>(d_bias.data<float>(), d_out.data<float>(),
                                                            static_cast<int>(batch), static_cast<int>(cout),
                                                            4 * h * w);
    check_launch();
  }
  if (!d_in.defined() && !d_weight.defined()) return;
  if (batch == 0 || cin == 0 || h == 0 || w == 0) return;  // d_in is empty, d_weight gets nothing
  if (cout == 0) {
    if (d_in.defined()) d_in.zero();
    return;
  }
  const int ci = static_cast<int>(cin), co = static_cast<int>(cout);
  const std::int64_t hw = h * w, k9 = 9 * cout;
  // Pooled maps for nb samples at a time: at most 64M floats (256 MB).
  constexpr std::int64_t kPoolBudget = std::int64_t{1} << 26;
  const std::int64_t nb = std::clamp<std::int64_t>(kPoolBudget / (k9 * hw), 1, batch);
  Tensor pooled = Tensor::empty({nb, k9, hw}, DType::F32, Device::CUDA);

  Tensor wt;
  if (d_in.defined()) {
    wt = Tensor::empty({k9, cin}, DType::F32, Device::CUDA);
    upconv_weight_taps_kernel<<<grid_blocks(k9 * cin, 256), 256>>>(wt.data<float>(), weight.data<float>(), co, ci);
    check_launch();
  }
  // d_weight: split over K = samples × pixels, fixed for all chunks (each split accumulates its own partial sums).
  Tensor ws_w;
  int splits_w = 1;
  const int k_tiles_px = ceil_div(static_cast<int>(hw), kBK);
  if (d_weight.defined()) {
    const std::int64_t blocks = static_cast<std::int64_t>(ceil_div(ci, kBN)) * ceil_div(static_cast<int>(k9), kBM);
    splits_w = split_loop(blocks, static_cast<int>(nb) * k_tiles_px, 16, true).first;
    ws_w = Tensor::empty({splits_w, k9, cin}, DType::F32, Device::CUDA);
  }
  for (std::int64_t b0 = 0; b0 < batch; b0 += nb) {
    const int n_here = static_cast<int>(std::min(nb, batch - b0));
    upconv_pool_kernel<<<grid_blocks(n_here * cout * hw, 256), 256>>>(pooled.data<float>(),
                                                                        d_out.data<float>() + b0 * cout * 4 * hw,
                                                                        n_here, co, static_cast<int>(h),
                                                                        static_cast<int>(w));
    check_launch();
    if (d_in.defined()) {  // d_in[b] (Cin × HW) = wtᵀ · D[b]
      GemmParams p{};
      p.a = wt.data<float>(), p.b = pooled.data<float>();
      p.m = ci, p.n = static_cast<int>(hw), p.kb_len = static_cast<int>(k9), p.kb_count = 1;
      p.lda = cin, p.ldb = hw, p.ldc = hw;
      p.a_z_stride = 0, p.b_z_stride = k9 * hw, p.c_z_stride = cin * hw;
      const std::int64_t blocks = static_cast<std::int64_t>(ceil_div(p.n, kBN)) * ceil_div(p.m, kBM) * n_here;
      const auto [splits, per] = split_loop(blocks, ceil_div(p.kb_len, kBK), 16);
      p.splits = splits, p.tiles_per_split = per;
      Tensor ws;
      float* dst = d_in.data<float>() + b0 * cin * hw;
      if (splits > 1) {
        ws = Tensor::empty({splits, n_here, cin, hw}, DType::F32, Device::CUDA);
        p.c = ws.data<float>(), p.c_split_stride = n_here * cin * hw;
      } else {
        p.c = dst;
      }
      p.accumulate = false;
      p.vec_a = aligned4(cin);
      p.vec_b = aligned4(hw);
      p.vec_c = aligned4(hw);
      launch_gemm<true, true>(p, n_here);
      if (splits > 1) {
        const std::int64_t count = n_here * cin * hw;
        upconv_sum_splits_kernel<<<grid_blocks(count, 256), 256>>>(dst, ws.data<float>(), nullptr, count, 1, 1,
                                                                   splits);
        check_launch();
      }
    }
    if (d_weight.defined()) {  // ws_w[s] (9·Cout × Cin) (+)= Σ_b D[b] · in[b]ᵀ over this split's part of K
      GemmParams p{};
      p.a = pooled.data<float>(), p.b = in.data<float>() + b0 * cin * hw, p.c = ws_w.data<float>();
      p.m = static_cast<int>(k9), p.n = ci, p.kb_len = static_cast<int>(hw), p.kb_count = n_here;
      p.lda = hw, p.ldb = hw, p.ldc = cin;
      p.a_kb_stride = k9 * hw, p.b_kb_stride = cin * hw;
      p.c_split_stride = k9 * cin;
      p.splits = splits_w, p.tiles_per_split = ceil_div(n_here * k_tiles_px, splits_w);
      p.accumulate = b0 > 0;
      p.vec_a = aligned4(hw);
      p.vec_b = aligned4(hw);
      p.vec_c = aligned4(cin);
      launch_gemm<false, false>(p, 1);
    }
  }
  if (d_weight.defined()) {
    upconv_fold_weight_kernel<<<grid_blocks(k9 * cin, 256), 256>>>(d_weight.data<float>(), ws_w.data<float>(), co, ci,
                                                                  splits_w);
    check_launch();
  }
}

}  // namespace bigcolor::cuda
