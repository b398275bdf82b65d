// The narrow interface between the CPU-side Tensor code and the CUDA runtime. Implemented in
// tensor/cuda_memory.cu when the CUDA backend is built, and by tensor/no_cuda.cpp (which throws a clear
// Error) when it is not, so the tensor library's .cpp files never include a CUDA header.
#pragma once

#include <cstddef>

namespace bigcolor::cuda {

int device_count();  // 0 when no GPU (or no driver) is present
// The GPU this process computes on, before any CUDA work (one rank per GPU under mpirun: its local rank).
void select_device(int index);

// Caching allocator: freed blocks are kept per size class and reused; cudaMalloc runs only when the cache has no
// block of the class. On out-of-memory the cache is emptied and the allocation retried once.
void* allocate(std::size_t bytes);
void deallocate(void* ptr, std::size_t bytes);
void empty_cache();

struct MemoryStats {
  std::size_t in_use = 0;     // bytes handed out to tensors now
  std::size_t peak_in_use = 0;
  std::size_t reserved = 0;   // bytes held from cudaMalloc (in use + cached)
  std::size_t cuda_malloc_calls = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind);  // synchronous
void memset_zero(void* dst, std::size_t bytes);
void synchronize();

}  // namespace bigcolor::cuda
