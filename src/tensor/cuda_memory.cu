// The CUDA runtime side of tensor/cuda_memory.h: device discovery, the caching allocator and copies. (The cuBLAS /
// cuDNN handles declared in kernels/cuda/cuda_check.h belong to the kernels: kernels/cuda/library_handles.cu.)
//
// Caching allocator. A request is rounded up to its size class: a multiple of 512 B below 1 MiB, a multiple of
// 2 MiB from 1 MiB on. Freed blocks go to the free list of their class (LIFO) and are handed out again for the
// same class; cudaMalloc runs only when that list is empty. Blocks are never split or merged. On
// cudaErrorMemoryAllocation every cached block is released (cudaFree) and the cudaMalloc retried once; if it fails
// again, bigcolor::Error reports the request and the allocator's state. One mutex guards everything.
//
// Stream safety: every kernel and library call of the backend runs on the legacy default stream, so a block that
// is freed while kernels using it are still queued can only be reused by work queued after them.
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

// ---- devices ------------------------------------------------------------------------------------------------------

int device_count() {
  // Asked once: the answer does not change while the process runs, and cuda_available() is called often.
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the error (no driver, no device) so later checks do not see it
      return 0;
    }
    return n;
  }();
  return count;
}

void select_device(int index) {
  BIGCOLOR_CHECK(index >= 0 && index < device_count(), "GPU ", index, " requested, ", device_count(), " visible");
  CUDA_CHECK(cudaSetDevice(index));
}

// ---- caching allocator --------------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kSmallGranule = 512;                // classes below kLargeThreshold
constexpr std::size_t kLargeThreshold = std::size_t{1} << 20;  // 1 MiB
constexpr std::size_t kLargeGranule = std::size_t{2} << 20;    // 2 MiB

std::size_t size_class(std::size_t bytes) {
  if (bytes == 0) bytes = 1;  // a zero-byte tensor still gets a real (smallest) block, so its pointer is valid
  const std::size_t granule = bytes < kLargeThreshold ? kSmallGranule : kLargeGranule;
  return (bytes + granule - 1) / granule * granule;
}

class CachingAllocator {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t block = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* ptr = nullptr;
    auto cached = free_lists_.find(block);
    if (cached != free_lists_.end() && !cached->second.empty()) {
      ptr = cached->second.back();
      cached->second.pop_back();
    } else {
      ptr = cuda_malloc(bytes, block);
      stats_.reserved += block;
      ++stats_.cuda_malloc_calls;
    }
    live_.emplace(ptr, block);
    stats_.in_use += block;
    if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
    return ptr;
  }

  // Never throws: it runs from Storage's destructor.
  void deallocate(void* ptr) noexcept {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) {
      std::fprintf(stderr, "bigcolor: cuda::deallocate of a pointer the allocator did not hand out (%p)\n", ptr);
      return;
    }
    const std::size_t block = it->second;
    live_.erase(it);
    stats_.in_use -= block;
    try {
      free_lists_[block].push_back(ptr);
    } catch (...) {  // no memory for the list entry: give the block back to the driver instead
      if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
      stats_.reserved -= block;
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_blocks();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_in_use = stats_.in_use;
  }

 private:
  // Called with mutex_ held.
  void* cuda_malloc(std::size_t requested, std::size_t block) {
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, block);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // out-of-memory is not sticky; clear it before retrying
      release_cached_blocks();
      status = cudaMalloc(&ptr, block);
      if (status == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        std::size_t free_bytes = 0;
        std::size_t total_bytes = 0;
        if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
        ::bigcolor::detail::throw_error("CUDA out of memory: asked for ", requested, " bytes (block of ", block,
                                        " bytes); the allocator has ", stats_.in_use, " bytes in use by tensors (",
                                        stats_.reserved, " reserved after emptying its cache); the device has ",
                                        free_bytes, " of ", total_bytes, " bytes free");
      }
    }
    CUDA_CHECK(status);
    return ptr;
  }

  // Called with mutex_ held.
  void release_cached_blocks() {
    for (auto& [block, pointers] : free_lists_) {
      for (void* ptr : pointers) {
        CUDA_CHECK(cudaFree(ptr));
        stats_.reserved -= block;
      }
      pointers.clear();
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists_;  // size class -> cached blocks
  std::unordered_map<void*, std::size_t> live_;                     // handed-out block -> its size class
  MemoryStats stats_;
};

CachingAllocator& allocator() {
  // Deliberately leaked: tensors destroyed during static destruction may still return blocks to it.
  static CachingAllocator* const instance = new CachingAllocator();
  return *instance;
}

}  // namespace

void* allocate(std::size_t bytes) { return allocator().allocate(bytes); }

// The size class is looked up from the pointer, so `bytes` is only informative.
void deallocate(void* ptr, std::size_t /*bytes*/) { allocator().deallocate(ptr); }

void empty_cache() { allocator().empty_cache(); }

MemoryStats memory_stats() { return allocator().stats(); }

void reset_peak_memory() { allocator().reset_peak(); }

// ---- copies -------------------------------------------------------------------------------------------------------

void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind) {
  if (bytes == 0) return;
  cudaMemcpyKind direction = cudaMemcpyDeviceToDevice;
  switch (kind) {
    case CopyKind::HostToDevice: direction = cudaMemcpyHostToDevice; break;
    case CopyKind::DeviceToHost: direction = cudaMemcpyDeviceToHost; break;
    case CopyKind::DeviceToDevice: direction = cudaMemcpyDeviceToDevice; break;
  }
  // Host<->device copies return when the data has arrived. A device-to-device cudaMemcpy may return to the host
  // before the copy has run, but it is ordered on the default stream before every later kernel and copy, which is
  // all that is observable (the host only sees device memory through a later, waiting, device-to-host copy).
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, direction));
}

void memset_zero(void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemset(dst, 0, bytes));
}

void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace bigcolor::cuda
