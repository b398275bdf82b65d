#include "tensor/host_cache.h"

#include <cstdlib>
#include <map>
#include <mutex>

namespace bigcolor {

namespace {

constexpr std::size_t kAlignment = 64;                 // a cache line; also enough for AVX-512 loads
constexpr std::size_t kGranule = std::size_t{1} << 16;  // cached sizes are rounded up to 64 KiB

struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, void*> blocks;  // rounded size -> block
  std::size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed by other static destructors
  return *c;
}

std::size_t rounded_size(std::size_t bytes) {
  if (bytes < kMinCachedBytes) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  return (bytes + kGranule - 1) / kGranule * kGranule;
}

}  // namespace

void* host_allocate(std::size_t bytes) {
  const std::size_t size = rounded_size(bytes);
  if (size >= kMinCachedBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    const auto it = c.blocks.find(size);
    if (it != c.blocks.end()) {
      void* p = it->second;
      c.blocks.erase(it);
      c.bytes -= size;
      return p;
    }
  }
  return std::aligned_alloc(kAlignment, size);
}

void host_release(void* ptr, std::size_t bytes) {
  if (ptr == nullptr) return;
  const std::size_t size = rounded_size(bytes);
  if (size >= kMinCachedBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.bytes + size <= kMaxCachedBytes) {
      c.blocks.emplace(size, ptr);
      c.bytes += size;
      return;
    }
  }
  std::free(ptr);
}

std::size_t host_cache_clear() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (const auto& [size, p] : c.blocks) std::free(p);
  c.blocks.clear();
  const std::size_t freed = c.bytes;
  c.bytes = 0;
  return freed;
}

std::size_t host_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace bigcolor
