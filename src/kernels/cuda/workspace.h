// Device scratch memory for one op call, from the caching allocator and returned to it when the object dies.
// Returning it while the kernels that use it are still queued is safe: every later user of the block is queued
// behind them on the default stream. At least 256 bytes are allocated (so data() is never null, even for size 0),
// and size() is what was asked for.
#pragma once

#include <cstddef>

#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

class Workspace {
 public:
  explicit Workspace(std::size_t bytes)
      : size_(bytes), allocated_(bytes < 256 ? 256 : bytes), ptr_(allocate(allocated_)) {}
  ~Workspace() { deallocate(ptr_, allocated_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  char* data() const { return static_cast<char*>(ptr_); }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_, allocated_;
  void* ptr_;
};

}  // namespace bigcolor::cuda
