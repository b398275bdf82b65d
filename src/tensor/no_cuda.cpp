// Stand-in for the CUDA runtime in a CPU-only build (BIGCOLOR_CUDA=OFF or no toolkit): no GPU is ever reported,
// and anything that would need one is a clear Error rather than a link failure or a crash.
#include "tensor/cuda_memory.h"
#include "tensor/error.h"

namespace bigcolor::cuda {

namespace {
[[noreturn]] void no_cuda() { throw Error("this build of bigcolor has no CUDA backend (configured without CUDA)"); }
}  // namespace

int device_count() { return 0; }
void select_device(int) { no_cuda(); }
void* allocate(std::size_t) { no_cuda(); }
void deallocate(void*, std::size_t) {}
void empty_cache() {}
MemoryStats memory_stats() { return {}; }
void reset_peak_memory() {}
void copy(void*, const void*, std::size_t, CopyKind) { no_cuda(); }
void memset_zero(void*, std::size_t) { no_cuda(); }
void synchronize() {}

}  // namespace bigcolor::cuda
