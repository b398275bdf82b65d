// Spectral norm on the GPU: one power-iteration step and the gradient of W/σ (see fused_signatures.inc), handwritten
// (no cuBLAS), deterministic (every sum in double, in an order fixed by the sizes alone; no atomics), and with σ
// never leaving the device.
//
// weight W (O, K) row-major, u (O). Forward, five launches:
//   1. col_partial   grid (ceil(K / (32·VEC)), splits): block (tile, s) owns 32·VEC consecutive columns and the
//                    s-th run of rows; its 8 warps take rows w, w + 8, ...; lane l reads columns tile·32·VEC + l·VEC
//                    (+0..VEC−1), so a warp reads one contiguous 128·VEC-byte run per row (VEC = 4: float4).
//                    The 8 warp sums of each column are added in warp order through shared memory:
//                    partial[s, j] = Σ_{i in run s} u[i]·W[i, j]                                    (splits, K) double
//   2. col_finish    v_raw[j] = float(Σ_s partial[s, j]) (s in order)                                (K) float
//                    v_norm2_partial[block] = Σ_{j in block} v_raw[j]²                       (blocks) double
//   3. row_matvec    one warp per row (K < 1024) or one block per row (K >= 1024, so the GPU fills even at
//                    O = 384): t_raw[i] = Σ_j W[i, j]·v_raw[j] (lane-strided, a fixed shuffle tree, then the
//                    warps of a row in order); t_norm2_partial[block] = Σ_{its rows} t_raw[i]²  (O), (blocks) double
//   4. finalize      one block: ‖v_raw‖, then v = v_raw / nv with nv = max(‖v_raw‖, eps); t = W·v = t_raw / nv,
//                    nt = max(‖t‖, eps), u_new = t / nt, σ = t·u_new = ‖t‖² / nt. Writes sigma (1) and three
//                    doubles for step 5 (1/nv, 1/(nv·nt), σ).
//   5. scale         weight_sn = W · (1/σ) (float4 where aligned), plus v and u_new (grid-stride).
// Memory traffic: W is read three times (steps 1, 3, 5) and weight_sn written once, the floor for this algorithm:
// σ needs both matrix-vector products, and the second needs the first's complete, normalized result. (Weights up
// to ~40 MB, e.g. 768×6912 = 21 MB, fit the H100's 50 MB L2, so the second and third reads can hit L2.) The rest
// is small: v_raw, u and t are vectors, and the partial column sums are splits·K doubles with
// splits <= ceil(kTargetBlocks / col_tiles), i.e. at most about kTargetBlocks·32·VEC + K doubles (~1 MB with float4
// tiles: 1.1 MB against W's 85 MB at 1536×13824), written once and read once.
//
// Backward, three launches, with G = d_weight_sn:
//   1. dot_partial   partial[block] = Σ_{e in block's chunk} G[e]·W[e]   (fixed chunks of >= 4096 elements)
//   2. dot_finish    one block: c = (Σ partial) / σ², 1/σ, read from sigma on the device
//   3. apply         d_weight[i, j] += G[i, j]·(1/σ) − (c·u_new[i])·v[j]   (float4 along rows when K % 4 == 0)
// Memory traffic: G and W read once (1), G read again and d_weight read and written (3): five passes over O·K
// floats, the floor, since c needs the complete ⟨G, W⟩ before any element of d_weight can be written.
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/workspace.h"
#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr std::int64_t kTargetBlocks = 1024;     // col_partial: aim for this many blocks (fills any current GPU)
constexpr std::int64_t kMinRowsPerSplit = 32;    // col_partial: at least 4 rows per warp
constexpr std::int64_t kMinDotChunk = 4096;      // dot_partial: elements per block at least (16 per thread)
constexpr std::int64_t kMaxDotPartials = 1024;   // dot_partial: blocks at most
constexpr std::int64_t kLongRow = 1024;          // row_matvec: rows at least this long get a whole block
constexpr int kBatch = 4;                        // col_partial, row_matvec: loads issued together per thread

// Loads VEC consecutive floats (VEC = 4: one aligned float4) through the read-only path.
template <int VEC>
__device__ inline void load(const float* __restrict__ p, float (&x)[VEC]) {
  if constexpr (VEC == 4) {
    const float4 q = __ldg(reinterpret_cast<const float4*>(p));
    x[0] = q.x;
    x[1] = q.y;
    x[2] = q.z;
    x[3] = q.w;
  } else {
    x[0] = __ldg(p);
  }
}

// ---- forward ------------------------------------------------------------------------------------------------------

// grid (ceil(cols / (32·VEC)), splits), block kThreads. partial (splits, cols). VEC = 4 needs cols % 4 == 0 and
// an aligned w, so a lane's first column col0 < cols implies all four are.
template <int VEC>
__global__ void __launch_bounds__(kThreads) col_partial_kernel(double* __restrict__ partial,
                                                               const float* __restrict__ w,
                                                               const float* __restrict__ u, std::int64_t rows,
                                                               std::int64_t cols, std::int64_t rows_per_split) {
  constexpr int kTile = 32 * VEC;
  __shared__ double warp_acc[kWarps][kTile];
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const int warp = static_cast<int>(threadIdx.x >> 5);
  const std::int64_t tile_begin = static_cast<std::int64_t>(blockIdx.x) * kTile;
  const std::int64_t col0 = tile_begin + lane * VEC;
  const std::int64_t split = blockIdx.y;
  const std::int64_t row_begin = split * rows_per_split;
  const std::int64_t row_end = row_begin + rows_per_split < rows ? row_begin + rows_per_split : rows;

  double acc[VEC];
#pragma unroll
  for (int k = 0; k < VEC; ++k) acc[k] = 0.0;
  if (col0 < cols) {
    std::int64_t i = row_begin + warp;
    // Batches of kBatch rows: all loads first, so kBatch·VEC floats per thread are in flight.
    for (; i + (kBatch - 1) * kWarps < row_end; i += kBatch * kWarps) {
      float x[kBatch][VEC];
      float ui[kBatch];
#pragma unroll
      for (int r = 0; r < kBatch; ++r) {
        ui[r] = __ldg(u + i + r * kWarps);
        load<VEC>(w + (i + r * kWarps) * cols + col0, x[r]);
      }
#pragma unroll
      for (int r = 0; r < kBatch; ++r) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc[k] += static_cast<double>(ui[r]) * static_cast<double>(x[r][k]);
      }
    }
    for (; i < row_end; i += kWarps) {
      const double ui = __ldg(u + i);
      float x[VEC];
      load<VEC>(w + i * cols + col0, x);
#pragma unroll
      for (int k = 0; k < VEC; ++k) acc[k] += ui * static_cast<double>(x[k]);
    }
  }
#pragma unroll
  for (int k = 0; k < VEC; ++k) warp_acc[warp][lane * VEC + k] = acc[k];
  __syncthreads();
  for (int t = static_cast<int>(threadIdx.x); t < kTile; t += kThreads) {
    const std::int64_t col = tile_begin + t;
    if (col < cols) {
      double sum = 0.0;
#pragma unroll
      for (int k = 0; k < kWarps; ++k) sum += warp_acc[k][t];
      partial[split * cols + col] = sum;
    }
  }
}

// grid ceil(cols / kThreads) (at least 1). v_raw (cols) float; v_norm2_partial (gridDim.x).
__global__ void __launch_bounds__(kThreads) col_finish_kernel(float* __restrict__ v_raw,
                                                              double* __restrict__ v_norm2_partial,
                                                              const double* __restrict__ partial,
                                                              std::int64_t splits, std::int64_t cols) {
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  double square = 0.0;
  if (j < cols) {
    double sum = 0.0;
    for (std::int64_t s = 0; s < splits; ++s) sum += partial[s * cols + j];
    const float rounded = static_cast<float>(sum);
    v_raw[j] = rounded;
    square = static_cast<double>(rounded) * static_cast<double>(rounded);
  }
  const double total = block_sum(square);
  if (threadIdx.x == 0) v_norm2_partial[blockIdx.x] = total;
}

// kWarpsPerRow warps share a row (1: a warp per row, for short rows; kWarps: the whole block per row, for long
// rows, so even O = 384 rows give 384 blocks); a block owns kRows = kWarps / kWarpsPerRow consecutive rows.
// grid ceil(rows / kRows) (at least 1). Warp w takes row blockIdx.x·kRows + w / kWarpsPerRow and, within it, the
// columns ((w % kWarpsPerRow)·32 + lane)·VEC + m·32·VEC·kWarpsPerRow (+0..VEC−1). The warps' sums of a row are added
// in warp order by thread 0. t_raw (rows) double; t_norm2_partial (gridDim.x) = Σ_{block's rows} t_raw².
// VEC = 4 needs cols % 4 == 0 and aligned w, v_raw.
template <int VEC, int kWarpsPerRow>
__global__ void __launch_bounds__(kThreads) row_matvec_kernel(double* __restrict__ t_raw,
                                                              double* __restrict__ t_norm2_partial,
                                                              const float* __restrict__ w,
                                                              const float* __restrict__ v_raw, std::int64_t rows,
                                                              std::int64_t cols) {
  constexpr int kRows = kWarps / kWarpsPerRow;
  constexpr std::int64_t kStride = 32 * VEC * kWarpsPerRow;
  __shared__ double warp_dot[kWarps];
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const int warp = static_cast<int>(threadIdx.x >> 5);
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kRows + warp / kWarpsPerRow;
  double acc = 0.0;
  if (i < rows) {
    const float* row = w + i * cols;
    std::int64_t j = (static_cast<std::int64_t>(warp % kWarpsPerRow) * 32 + lane) * VEC;
    // Batches of kBatch loads of W and of v first, then the products.
    for (; j + (kBatch - 1) * kStride < cols; j += kBatch * kStride) {
      float a[kBatch][VEC], b[kBatch][VEC];
#pragma unroll
      for (int r = 0; r < kBatch; ++r) {
        load<VEC>(row + j + r * kStride, a[r]);
        load<VEC>(v_raw + j + r * kStride, b[r]);
      }
#pragma unroll
      for (int r = 0; r < kBatch; ++r) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc += static_cast<double>(a[r][k]) * static_cast<double>(b[r][k]);
      }
    }
    for (; j < cols; j += kStride) {
      float a[VEC], b[VEC];
      load<VEC>(row + j, a);
      load<VEC>(v_raw + j, b);
#pragma unroll
      for (int k = 0; k < VEC; ++k) acc += static_cast<double>(a[k]) * static_cast<double>(b[k]);
    }
  }
  acc = warp_sum(acc);  // every lane of every warp takes part (no early return above)
  if (lane == 0) warp_dot[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double square = 0.0;
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRows + r;
      double dot = 0.0;
#pragma unroll
      for (int p = 0; p < kWarpsPerRow; ++p) dot += warp_dot[r * kWarpsPerRow + p];
      if (row < rows) {
        t_raw[row] = dot;
        square += dot * dot;
      }
    }
    t_norm2_partial[blockIdx.x] = square;
  }
}

// One block of kThreads. scalars[0] = 1/nv, scalars[1] = 1/(nv·nt), scalars[2] = σ; sigma[0] = float(σ).
__global__ void __launch_bounds__(kThreads) finalize_kernel(double* __restrict__ scalars, float* __restrict__ sigma,
                                                            const double* __restrict__ v_norm2_partial,
                                                            std::int64_t v_partials,
                                                            const double* __restrict__ t_norm2_partial,
                                                            std::int64_t t_partials, float eps) {
  double a = 0.0;
  for (std::int64_t k = threadIdx.x; k < v_partials; k += kThreads) a += v_norm2_partial[k];
  const double v_norm2 = block_sum(a);
  double b = 0.0;
  for (std::int64_t k = threadIdx.x; k < t_partials; k += kThreads) b += t_norm2_partial[k];
  const double t_raw_norm2 = block_sum(b);
  if (threadIdx.x == 0) {
    const double e = static_cast<double>(eps);
    const double nv = fmax(sqrt(v_norm2), e);
    const double t_norm = sqrt(t_raw_norm2) / nv;  // ‖W·v‖, v = v_raw / nv
    const double nt = fmax(t_norm, e);
    const double s = t_norm * t_norm / nt;          // σ = t · u_new = ‖t‖² / nt
    scalars[0] = 1.0 / nv;
    scalars[1] = 1.0 / (nv * nt);
    scalars[2] = s;
    sigma[0] = static_cast<float>(s);
  }
}

// Grid-stride: weight_sn = W · float(1/σ) over n = rows·cols elements (float4 body when vec4, then a scalar tail),
// v[j] = v_raw[j]·scalars[0] (j < cols), u_new[i] = t_raw[i]·scalars[1] (i < rows).
__global__ void __launch_bounds__(kThreads) scale_kernel(float* __restrict__ weight_sn, float* __restrict__ v,
                                                         float* __restrict__ u_new, const float* __restrict__ w,
                                                         const float* __restrict__ v_raw,
                                                         const double* __restrict__ t_raw,
                                                         const double* __restrict__ scalars, std::int64_t rows,
                                                         std::int64_t cols, bool vec4) {
  const std::int64_t gid = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  const double v_scale = scalars[0];
  const double u_scale = scalars[1];
  const float inv_sigma = static_cast<float>(1.0 / scalars[2]);
  const std::int64_t n = rows * cols;
  std::int64_t scalar_begin = 0;
  if (vec4) {
    const std::int64_t n4 = n / 4;
    const auto* w4 = reinterpret_cast<const float4*>(w);
    auto* out4 = reinterpret_cast<float4*>(weight_sn);
    for (std::int64_t q = gid; q < n4; q += stride) {
      float4 a = __ldg(w4 + q);
      a.x *= inv_sigma;
      a.y *= inv_sigma;
      a.z *= inv_sigma;
      a.w *= inv_sigma;
      out4[q] = a;
    }
    scalar_begin = n4 * 4;
  }
  for (std::int64_t e = scalar_begin + gid; e < n; e += stride) weight_sn[e] = w[e] * inv_sigma;
  for (std::int64_t j = gid; j < cols; j += stride) v[j] = static_cast<float>(static_cast<double>(v_raw[j]) * v_scale);
  for (std::int64_t i = gid; i < rows; i += stride) u_new[i] = static_cast<float>(t_raw[i] * u_scale);
}

// ---- backward -----------------------------------------------------------------------------------------------------

// grid ceil(n / chunk); block b sums G·W over [b·chunk, min(n, (b+1)·chunk)). chunk % 4 == 0, so with vec4 (both
// pointers aligned) every chunk starts on a float4; the last chunk may end in a scalar tail.
__global__ void __launch_bounds__(kThreads) dot_partial_kernel(double* __restrict__ partial,
                                                               const float* __restrict__ g,
                                                               const float* __restrict__ w, std::int64_t n,
                                                               std::int64_t chunk, bool vec4) {
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x) * chunk;
  const std::int64_t end = begin + chunk < n ? begin + chunk : n;
  double acc = 0.0;
  std::int64_t scalar_begin = begin;
  if (vec4) {
    const auto* g4 = reinterpret_cast<const float4*>(g);
    const auto* w4 = reinterpret_cast<const float4*>(w);
    const std::int64_t q_end = end / 4;
#pragma unroll 4
    for (std::int64_t q = begin / 4 + threadIdx.x; q < q_end; q += kThreads) {
      const float4 a = __ldg(g4 + q);
      const float4 b = __ldg(w4 + q);
      acc += static_cast<double>(a.x) * b.x + static_cast<double>(a.y) * b.y + static_cast<double>(a.z) * b.z +
             static_cast<double>(a.w) * b.w;
    }
    scalar_begin = q_end * 4;
  }
  for (std::int64_t e = scalar_begin + threadIdx.x; e < end; e += kThreads) {
    acc += static_cast<double>(__ldg(g + e)) * static_cast<double>(__ldg(w + e));
  }
  const double total = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// One block. scalars[0] = 1/σ, scalars[1] = ⟨G, W⟩/σ².
__global__ void __launch_bounds__(kThreads) dot_finish_kernel(double* __restrict__ scalars,
                                                              const double* __restrict__ partial,
                                                              std::int64_t partials, const float* __restrict__ sigma) {
  double a = 0.0;
  for (std::int64_t k = threadIdx.x; k < partials; k += kThreads) a += partial[k];
  const double dot = block_sum(a);
  if (threadIdx.x == 0) {
    const double s = sigma[0];
    scalars[0] = 1.0 / s;
    scalars[1] = dot / (s * s);
  }
}

// Grid-stride over the (rows, cols) elements (VEC = 4: over float4s of a row, cols % 4 == 0 and every pointer
// aligned). Index is std::uint32_t when rows·cols < 2^31 (cheap division for the row), else std::uint64_t.
template <int VEC, typename Index>
__global__ void __launch_bounds__(kThreads) apply_kernel(float* __restrict__ d_weight, const float* __restrict__ g,
                                                         const float* __restrict__ u_new,
                                                         const float* __restrict__ v,
                                                         const double* __restrict__ scalars, Index rows,
                                                         Index cols) {
  const float inv_sigma = static_cast<float>(scalars[0]);
  const float c = static_cast<float>(scalars[1]);
  const Index items_per_row = cols / VEC;
  const Index items = rows * items_per_row;
  const Index stride = static_cast<Index>(gridDim.x) * kThreads;
  for (Index q = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x; q < items; q += stride) {
    const Index i = q / items_per_row;
    const Index jq = q - i * items_per_row;
    const float cu = c * __ldg(u_new + i);
    if constexpr (VEC == 4) {
      const float4 gg = __ldg(reinterpret_cast<const float4*>(g) + q);
      const float4 vv = __ldg(reinterpret_cast<const float4*>(v) + jq);
      float4 d = reinterpret_cast<const float4*>(d_weight)[q];
      d.x += gg.x * inv_sigma - cu * vv.x;
      d.y += gg.y * inv_sigma - cu * vv.y;
      d.z += gg.z * inv_sigma - cu * vv.z;
      d.w += gg.w * inv_sigma - cu * vv.w;
      reinterpret_cast<float4*>(d_weight)[q] = d;
    } else {
      d_weight[q] += __ldg(g + q) * inv_sigma - cu * __ldg(v + jq);
    }
  }
}

template <int VEC, typename Index>
void launch_apply(float* d_weight, const float* g, const float* u_new, const float* v, const double* scalars,
                  std::int64_t rows, std::int64_t cols) {
  apply_kernel<VEC, Index><<<grid_blocks(rows * cols / VEC, kThreads), kThreads>>>(
      d_weight, g, u_new, v, scalars, static_cast<Index>(rows), static_cast<Index>(cols));
  check_launch();
}

std::int64_t at_least_one(std::int64_t a) { return a < 1 ? 1 : a; }
std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

}  // namespace

void spectral_norm_forward(const Tensor& weight_sn, const Tensor& sigma, const Tensor& u_new, const Tensor& v,
                           const Tensor& weight, const Tensor& u, float eps) {
  const std::int64_t rows = weight.dim(0);  // O
  const std::int64_t cols = weight.dim(1);  // K
  const float* w = weight.numel() == 0 ? nullptr : weight.data<float>();
  const bool vec4 = cols % 4 == 0 && aligned16(w);
  const int vec = vec4 ? 4 : 1;

  // Sizes of the steps (all depend on O and K only, so results are reproducible run to run).
  const std::int64_t col_tiles = at_least_one(ceil_div(cols, 32 * vec));
  std::int64_t splits = ceil_div(kTargetBlocks, col_tiles);
  std::int64_t max_splits = at_least_one(rows / kMinRowsPerSplit);
  if (max_splits > 65535) max_splits = 65535;  // gridDim.y
  if (splits > max_splits) splits = max_splits;
  const std::int64_t rows_per_split = at_least_one(ceil_div(rows, splits));
  splits = at_least_one(ceil_div(rows, rows_per_split));
  const std::int64_t finish_blocks = at_least_one(ceil_div(cols, kThreads));
  const bool long_rows = cols >= kLongRow;
  const std::int64_t matvec_blocks = at_least_one(long_rows ? rows : ceil_div(rows, kWarps));

  // Workspace, in doubles; v_raw first so its float4 loads are aligned, every region a multiple of 16 bytes.
  const std::int64_t v_raw_doubles = round_up(cols, 4) / 2;                // (K) float
  const std::int64_t partial_doubles = round_up(splits * cols, 2);         // (splits, K)
  const std::int64_t v_norm2_doubles = round_up(finish_blocks, 2);
  const std::int64_t t_raw_doubles = round_up(rows, 2);                    // (O)
  const std::int64_t t_norm2_doubles = round_up(matvec_blocks, 2);
  const std::int64_t scalar_doubles = 4;
  Workspace ws(static_cast<std::size_t>(v_raw_doubles + partial_doubles + v_norm2_doubles + t_raw_doubles +
                                        t_norm2_doubles + scalar_doubles) *
               sizeof(double));
  auto* base = reinterpret_cast<double*>(ws.data());
  auto* v_raw = reinterpret_cast<float*>(base);
  double* partial = base + v_raw_doubles;
  double* v_norm2 = partial + partial_doubles;
  double* t_raw = v_norm2 + v_norm2_doubles;
  double* t_norm2 = t_raw + t_raw_doubles;
  double* scalars = t_norm2 + t_norm2_doubles;

  const float* u0 = rows == 0 ? nullptr : u.data<float>();
  const dim3 partial_grid(static_cast<unsigned int>(col_tiles), static_cast<unsigned int>(splits));
  if (vec4) {
    col_partial_kernel<4><<<partial_grid, kThreads>>>(partial, w, u0, rows, cols, rows_per_split);
  } else {
    col_partial_kernel<1><<<partial_grid, kThreads>>>(partial, w, u0, rows, cols, rows_per_split);
  }
  check_launch();
  col_finish_kernel<<<static_cast<unsigned int>(finish_blocks), kThreads>>>(v_raw, v_norm2, partial, splits, cols);
  check_launch();
  const auto matvec_grid = static_cast<unsigned int>(matvec_blocks);
  if (vec4 && long_rows) {
    row_matvec_kernel<4, kWarps><<<matvec_grid, kThreads>>>(t_raw, t_norm2, w, v_raw, rows, cols);
  } else if (vec4) {
    row_matvec_kernel<4, 1><<<matvec_grid, kThreads>>>(t_raw, t_norm2, w, v_raw, rows, cols);
  } else if (long_rows) {
    row_matvec_kernel<1, kWarps><<<matvec_grid, kThreads>>>(t_raw, t_norm2, w, v_raw, rows, cols);
  } else {
    row_matvec_kernel<1, 1><<<matvec_grid, kThreads>>>(t_raw, t_norm2, w, v_raw, rows, cols);
  }
  check_launch();
  finalize_kernel<<<1, kThreads>>>(scalars, sigma.data<float>(), v_norm2, finish_blocks, t_norm2, matvec_blocks,
                                   eps);
  check_launch();
  float* out = weight.numel() == 0 ? nullptr : weight_sn.data<float>();
  const bool scale_vec4 = aligned16(w) && aligned16(out);
  std::int64_t scale_items = scale_vec4 ? rows * cols / 4 : rows * cols;
  if (scale_items < rows) scale_items = rows;
  if (scale_items < cols) scale_items = cols;
  scale_kernel<<<grid_blocks(scale_items, kThreads), kThreads>>>(out, cols == 0 ? nullptr : v.data<float>(),
                                                                 rows == 0 ? nullptr : u_new.data<float>(), w, v_raw,
                                                                 t_raw, scalars, rows, cols, scale_vec4);
  check_launch();
}

void spectral_norm_backward(const Tensor& d_weight, const Tensor& d_weight_sn, const Tensor& weight,
                            const Tensor& u_new, const Tensor& v, const Tensor& sigma) {
  const std::int64_t rows = weight.dim(0);
  const std::int64_t cols = weight.dim(1);
  const std::int64_t n = rows * cols;
  if (n == 0) return;  // nothing to accumulate
  const float* g = d_weight_sn.data<float>();  // (O, K)
  const float* w = weight.data<float>();       // (O, K)
  const float* un = u_new.data<float>();       // (O)
  const float* vv = v.data<float>();           // (K)
  float* dw = d_weight.data<float>();          // (O, K)

  std::int64_t chunk = ceil_div(n, kMaxDotPartials);
  if (chunk < kMinDotChunk) chunk = kMinDotChunk;
  chunk = round_up(chunk, 4);
  const std::int64_t partials = ceil_div(n, chunk);
  Workspace ws(static_cast<std::size_t>(partials + 2) * sizeof(double));
  auto* partial = reinterpret_cast<double*>(ws.data());
  double* scalars = partial + partials;

  dot_partial_kernel<<<static_cast<unsigned int>(partials), kThreads>>>(partial, g, w, n, chunk,
                                                                        aligned16(g) && aligned16(w));
  check_launch();
  dot_finish_kernel<<<1, kThreads>>>(scalars, partial, partials, sigma.data<float>());
  check_launch();

  const bool vec4 = cols % 4 == 0 && aligned16(dw) && aligned16(g) && aligned16(vv);
  const bool small = n < (std::int64_t{1} << 31);
  if (vec4) {
    if (small) {
      launch_apply<4, std::uint32_t>(dw, g, un, vv, scalars, rows, cols);
    } else {
      launch_apply<4, std::uint64_t>(dw, g, un, vv, scalars, rows, cols);
    }
  } else if (small) {
    launch_apply<1, std::uint32_t>(dw, g, un, vv, scalars, rows, cols);
  } else {
    launch_apply<1, std::uint64_t>(dw, g, un, vv, scalars, rows, cols);
  }
}

}  // namespace bigcolor::cuda
