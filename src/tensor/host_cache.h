// Reuse of large host blocks. glibc hands blocks above its mmap threshold (at most 32 MiB, often far less) back to
// the kernel when they are freed, so every forward pass faulted in its big activations page by page again: 19% of
// a bf16 colorize forward at 256×256 was kernel time in page faults (perf, 2026-12-02, 2-core Sapphire Rapids).
// Blocks of at least kMinCachedBytes freed by tensors are therefore kept, by size (rounded up to 64 KiB), and the
// next allocation of that rounded size takes one back; at most kMaxCachedBytes wait there, a block beyond that is
// freed at once. The in-use statistics (tensor.h) count only live tensors, never cached blocks.
#pragma once

#include <cstddef>

namespace bigcolor {

constexpr std::size_t kMinCachedBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 30;

// `bytes` of 64-byte aligned host memory (a cached block when one of the same rounded size waits), or nullptr when
// the system has none. host_release takes the same `bytes`.
void* host_allocate(std::size_t bytes);
void host_release(void* ptr, std::size_t bytes);
// Frees every cached block (the memory returns to the system); returns the bytes freed.
std::size_t host_cache_clear();
// Bytes waiting in the cache now.
std::size_t host_cache_bytes();

}  // namespace bigcolor
