// Small device and launch helpers shared by the kernels of this folder: launch geometry (ceil_div, grid_blocks,
// sm_count), alignment tests, warp and block reductions, and the cp.async copies into shared memory.
// Error checks and the library handles are in cuda_check.h (included here, since sm_count checks its calls).
//
// Every reduction here has a fixed order (a fixed shuffle tree), so results are deterministic run to run; the
// kernels' determinism tests (tests/op_table.cpp, "deterministic" entries) rely on that.
// Only .cu files of kernels/cuda include this header.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"

namespace bigcolor::cuda {

// ---- launch geometry ----------------------------------------------------------------------------------------------

// ⌈a / b⌉ for positive b, in the common type of a and b (int for two ints, std::int64_t when either is).
template <typename A, typename B>
__host__ __device__ constexpr std::common_type_t<A, B> ceil_div(A a, B b) {
  using T = std::common_type_t<A, B>;
  return (static_cast<T>(a) + static_cast<T>(b) - 1) / static_cast<T>(b);
}

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, capped so huge tensors loop instead.
inline unsigned int grid_blocks(long long n, int threads_per_block) {
  const long long wanted = (n + threads_per_block - 1) / threads_per_block;
  constexpr long long kMaxBlocks = 65536;
  return static_cast<unsigned int>(wanted < 1 ? 1 : (wanted > kMaxBlocks ? kMaxBlocks : wanted));
}

// Streaming multiprocessors of the current device, asked once per process.
inline int sm_count() {
  static const int count = [] {
    int device = 0, n = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    return n;
  }();
  return count;
}

// A pointer that float4 loads and stores may use.
inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

#ifdef __CUDACC__
// ---- warp and block reductions ------------------------------------------------------------------------------------

// Sum over the 32 lanes by a shuffle-down tree: complete in lane 0 only.
__device__ inline double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;  // complete in lane 0
}

// Butterfly (xor) reductions over aligned groups of WIDTH lanes (32: the warp, 16: a half-warp): every lane of the
// group receives the result.
template <int WIDTH>
__device__ __forceinline__ float xor_sum(float v) {
  for (int offset = WIDTH / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
template <int WIDTH>
__device__ __forceinline__ float xor_max(float v) {
  for (int offset = WIDTH / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum of `value` over the whole block, returned to every thread. Deterministic: a fixed shuffle tree inside each
// warp, then warp 0 adds the per-warp sums in a fixed tree. Requirements: blockDim.x is a multiple of 32 (at most
// 1024), blockDim.y == blockDim.z == 1, and every thread of the block calls it (no thread may have returned).
__device__ inline double block_sum(double value) {
  __shared__ double warp_sums[32];
  __shared__ double total;
  const unsigned lane = threadIdx.x & 31u;
  const unsigned warp = threadIdx.x >> 5;
  const unsigned warps = blockDim.x >> 5;
  value = warp_sum(value);
  __syncthreads();  // an earlier call may still be reading warp_sums / total
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < warps ? warp_sums[lane] : 0.0;
    value = warp_sum(value);
    if (lane == 0) total = value;
  }
  __syncthreads();
  return total;
}

// ---- cp.async: global -> shared copies that bypass the registers (sm_80+) -----------------------------------------

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// 4 bytes from src, or zeros when !valid (src is then not read but must be a valid address).
__device__ __forceinline__ void cp_async4(float* dst, const float* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
// 16 bytes from a 16-byte aligned src into a 16-byte aligned dst.
__device__ __forceinline__ void cp_async16(float* dst, const float* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(dst)), "l"(src));
}
// 16 bytes from src, or zeros when !valid (src must still be a valid address).
__device__ __forceinline__ void cp_async16(float* dst, const float* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
// Closes the group of copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most N committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
// Commits what was issued and waits for every copy.
__device__ __forceinline__ void cp_async_wait_all() {
  cp_async_commit();
  cp_async_wait<0>();
}
#endif

}  // namespace bigcolor::cuda
