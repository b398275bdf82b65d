// Reductions on the GPU: sum / mean over trailing axes, and the MSE loss.
//
// A reduction over trailing axes views `in` as rows × cols: rows = out.numel() (the kept leading axes; 1 for a
// reduction over everything, out of shape (1) or ()), cols = in.numel() / rows, contiguous per row.
// Deterministic, no float atomics: each row is cut into `splits` chunks of consecutive columns; block (row, split)
// sums its chunk in double (per-thread sequential, then block_sum's fixed tree). With one split the block writes
// the result; otherwise it writes a double partial to a workspace (rows, splits) and a second kernel adds the
// partials of each row in a fixed order. The split count depends only on the sizes.
//
// mse_loss: out (1) = Σ (a − b)² / n, the same machinery with rows = 1 and the squared difference as the element.
// Backward: d_a = 2·(a − b)/n · d_out[0], d_b = −d_a; d_out[0] is read on the device.
// l1_loss: the same with |a − b|; backward d_a = sign(a − b)/n · d_out[0].
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kColsPerSplit = 16 * kThreads;  // a block's share of a long row
constexpr std::int64_t kMaxSplits = 1024;
constexpr std::int64_t kRowsForOneSplit = 256;  // this many rows fill the GPU without splitting

// The element being summed: x[i], or (a[i] − b[i])² for the MSE loss.
struct Plain {
  const float* x;
  __device__ double operator()(std::int64_t i) const { return x[i]; }
};
struct SquaredDifference {
  const float* a;
  const float* b;
  __device__ double operator()(std::int64_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return d * d;
  }
};
struct AbsoluteDifference {
  const float* a;
  const float* b;
  __device__ double operator()(std::int64_t i) const { return fabs(static_cast<double>(a[i]) - b[i]); }
};

// grid: rows · splits blocks, block (row, split) = blockIdx.x / splits, blockIdx.x % splits.
// splits == 1: out[row] = scale · Σ_row. splits > 1: partial[row · splits + split] = Σ_chunk.
template <typename Element>
__global__ void reduce_rows_kernel(float* out, double* partial, Element element, std::int64_t cols,
                                   std::int64_t splits, std::int64_t chunk, double scale) {
  const std::int64_t row = blockIdx.x / splits;
  const std::int64_t split = blockIdx.x % splits;
  const std::int64_t begin = split * chunk;
  const std::int64_t end = begin + chunk < cols ? begin + chunk : cols;
  double acc = 0.0;
  for (std::int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) acc += element(row * cols + j);
  const double total = block_sum(acc);
  if (threadIdx.x == 0) {
    if (splits == 1) {
      out[row] = static_cast<float>(total * scale);
    } else {
      partial[blockIdx.x] = total;
    }
  }
}

// partial (rows, splits) -> out[row] = scale · Σ_split partial[row, split]; one block per row.
__global__ void finish_rows_kernel(float* out, const double* partial, std::int64_t splits, double scale) {
  const std::int64_t row = blockIdx.x;
  double acc = 0.0;
  for (std::int64_t s = threadIdx.x; s < splits; s += blockDim.x) acc += partial[row * splits + s];
  const double total = block_sum(acc);
  if (threadIdx.x == 0) out[row] = static_cast<float>(total * scale);
}

// out (rows) = scale · Σ_j element(row · cols + j), j < cols.
template <typename Element>
void reduce_rows(float* out, Element element, std::int64_t rows, std::int64_t cols, double scale) {
  if (rows == 0) return;
  std::int64_t splits = 1;
  if (rows < kRowsForOneSplit) {
    splits = (cols + kColsPerSplit - 1) / kColsPerSplit;
    if (splits > kMaxSplits) splits = kMaxSplits;
    if (splits < 1) splits = 1;
  }
  const std::int64_t chunk = splits == 1 ? cols : (cols + splits - 1) / splits;
  // Short rows do not need 256 threads: use the next multiple of 32 (block_sum needs whole warps).
  int threads = kThreads;
  if (splits == 1 && cols < kThreads) threads = cols <= 32 ? 32 : static_cast<int>((cols + 31) / 32 * 32);
  const unsigned int blocks = static_cast<unsigned int>(rows * splits);

  if (splits == 1) {
    reduce_rows_kernel<<<blocks, threads>>>(out, nullptr, element, cols, splits, chunk, scale);
    check_launch();
    return;
  }
  const std::size_t bytes = static_cast<std::size_t>(rows * splits) * sizeof(double);
  auto* partial = static_cast<double*>(allocate(bytes));  // (rows, splits)
  try {
    reduce_rows_kernel<<<blocks, threads>>>(out, partial, element, cols, splits, chunk, scale);
    check_launch();
    finish_rows_kernel<<<static_cast<unsigned int>(rows), kThreads>>>(out, partial, splits, scale);
    check_launch();
  } catch (...) {
    deallocate(partial, bytes);
    throw;
  }
  // Safe to recycle at once: any later user of the block is queued behind these kernels on the default stream.
  deallocate(partial, bytes);
}

// d_in[i] = scale · d_out[i / cols], i < rows · cols.
__global__ void broadcast_rows_kernel(float* d_in, const float* d_out, std::int64_t n, std::int64_t cols,
                                      float scale) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    d_in[i] = scale * d_out[i / cols];
  }
}

// d_a = (factor / n) · d_out[0] · slope(a, b), d_b = −d_a (either may be null).
struct DifferenceSlope {  // the MSE's, with factor 2
  __device__ float operator()(float a, float b) const { return a - b; }
};
struct SignSlope {  // the L1's, with factor 1: sign(a − b), 0 where a = b
  __device__ float operator()(float a, float b) const { return a > b ? 1.0f : a < b ? -1.0f : 0.0f; }
};
template <typename Slope>
__global__ void pair_loss_backward_kernel(float* d_a, float* d_b, const float* d_out, const float* a, const float* b,
                                          std::int64_t n, float factor, Slope slope) {
  const float g = d_out[0] * (factor / static_cast<float>(n));
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float grad = g * slope(a[i], b[i]);
    if (d_a != nullptr) d_a[i] = grad;
    if (d_b != nullptr) d_b[i] = -grad;
  }
}

// Rows of a trailing-axes reduction from `in` to `out`: out.numel() (1 for shapes (1) and ()).
struct RowsCols {
  std::int64_t rows, cols;
};
RowsCols rows_cols(const Tensor& out, const Tensor& in) {
  const std::int64_t rows = out.numel();
  return {rows, rows == 0 ? 0 : in.numel() / rows};
}

void sum_or_mean(const Tensor& out, const Tensor& in, bool mean) {
  const RowsCols rc = rows_cols(out, in);
  if (rc.rows == 0) return;
  // cols = 0 (empty input): the kernel writes 0 for a sum, and 0 · (1/0) = NaN for a mean, as 0/0 would.
  const double scale = mean ? 1.0 / static_cast<double>(rc.cols) : 1.0;
  reduce_rows(out.data<float>(), Plain{rc.cols == 0 ? nullptr : in.data<float>()}, rc.rows, rc.cols, scale);
}

void sum_or_mean_backward(const Tensor& d_in, const Tensor& d_out, bool mean) {
  if (!d_in.defined()) return;
  const std::int64_t n = d_in.numel();
  if (n == 0) return;
  const RowsCols rc = rows_cols(d_out, d_in);
  const float scale = mean ? static_cast<float>(1.0 / static_cast<double>(rc.cols)) : 1.0f;
  broadcast_rows_kernel<<<grid_blocks(n, kThreads), kThreads>>>(d_in.data<float>(), d_out.data<float>(), n,
                                                                rc.cols, scale);
  check_launch();
}

float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

}  // namespace

void sum_forward(const Tensor& out, const Tensor& in) { sum_or_mean(out, in, false); }
void sum_backward(const Tensor& d_in, const Tensor& d_out) { sum_or_mean_backward(d_in, d_out, false); }
void mean_forward(const Tensor& out, const Tensor& in) { sum_or_mean(out, in, true); }
void mean_backward(const Tensor& d_in, const Tensor& d_out) { sum_or_mean_backward(d_in, d_out, true); }

namespace {

// out (1) = mean of Element over a and b (n = 0: 0 · (1/0) = NaN, the mean of nothing).
template <typename Element>
void pair_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const std::int64_t n = a.numel();
  const double scale = 1.0 / static_cast<double>(n);
  reduce_rows(out.data<float>(), Element{n == 0 ? nullptr : a.data<float>(), n == 0 ? nullptr : b.data<float>()}, 1,
              n, scale);
}

template <typename Slope>
void pair_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b,
                        float factor) {
  const std::int64_t n = a.numel();
  if ((!d_a.defined() && !d_b.defined()) || n == 0) return;
  pair_loss_backward_kernel<<<grid_blocks(n, kThreads), kThreads>>>(ptr_or_null(d_a), ptr_or_null(d_b),
                                                                    d_out.data<float>(), a.data<float>(),
                                                                    b.data<float>(), n, factor, Slope{});
  check_launch();
}

}  // namespace

void mse_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  pair_loss_forward<SquaredDifference>(out, a, b);
}

void mse_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a,
                       const Tensor& b) {
  pair_loss_backward<DifferenceSlope>(d_a, d_b, d_out, a, b, 2.0f);
}

void l1_loss_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  pair_loss_forward<AbsoluteDifference>(out, a, b);
}

void l1_loss_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  pair_loss_backward<SignSlope>(d_a, d_b, d_out, a, b, 1.0f);
}

}  // namespace bigcolor::cuda
