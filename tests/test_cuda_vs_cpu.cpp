// The CUDA backend against the CPU backend: every op of the op table (op_table.h), forward and backward, at its
// CUDA shapes: deliberately awkward sizes (batch 3, 7×5 images, channel counts that are not multiples of 4, odd
// pooling sizes, every transpose combination, sizes that are no multiples of the kernels' tiles) and real layer
// shapes for the fused kernels. One SUBCASE per op (`-sc=ccbn` runs one).
//
// Method (op_harness.h): random inputs are drawn on the CPU (seeded Rng) and copied to the GPU, so both backends see
// the same values; every output and every overwritten gradient is poisoned with NaN on both devices before the call,
// so an element a kernel forgets to write fails; accumulating gradients (d_weight, d_bias, d_table) start from the
// same non-zero random values on both devices, which proves they are added to rather than overwritten. The GPU
// result is compared with the CPU result by test::check_close at the project's float32 bar, normalized error 1e-5
// (where a case's rounding allows more, the table says so and why). Partial backward runs (some gradients not
// wanted) and, for the fused kernels, bitwise determinism are checked where the table asks.
// Below the table loop: the ops without a backward (copy_columns, the optimizer updates: bit-exact), relu in
// place, and the caching allocator.
//
// Every TEST_CASE returns at once when no GPU is visible; the runner's --require-gpu additionally reports the whole
// "cuda" suite as skipped (exit 77) then. The file uses only public headers and compiles in a CPU-only build.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "op_harness.h"
#include "op_table.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "test_util.h"

namespace {

using bigcolor::Device;
using bigcolor::DType;
using bigcolor::Rng;
using bigcolor::Shape;
using bigcolor::Tensor;
using bigcolor::test::Pair;
namespace ops = bigcolor::ops;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-5;  // the project's float32 bar

Pair random_normal(const Shape& shape, Rng& rng) { return test::to_pair(test::random_normal(shape, rng)); }

Pair random_uniform(const Shape& shape, Rng& rng, float low, float high) {
  return test::to_pair(test::random_uniform(shape, rng, low, high));
}

}  // namespace

// Without a GPU, doctest reports every case of this suite as skipped (never as passed).
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda every op of the op table matches the CPU, forward and backward") {
  for (const test::OpEntry& entry : test::op_table()) {
    SUBCASE(entry.op.c_str()) {
      Rng rng(entry.cuda_seed);
      const std::vector<test::OpCase> cases = entry.cuda_cases(rng);
      REQUIRE_FALSE(cases.empty());
      for (const test::OpCase& c : cases) test::check_case_cuda_vs_cpu(c, rng);
    }
  }
}

TEST_CASE("cuda relu in place matches the CPU") {
  Rng rng(606);
  const Shape shape = {3, 5, 7, 5};
  const Pair a = random_normal(shape, rng);
  // out aliases in (allowed for the activations)
  const Pair x = test::to_pair(a.cpu.clone());
  const Tensor ref = test::poisoned(shape);
  ops::relu_forward(ref, a.cpu);
  ops::relu_forward(x.gpu, x.gpu);
  test::check_close(x.gpu, ref, kTolerance, "relu in place");
}

TEST_CASE("cuda copy_columns matches the CPU") {
  Rng rng(77);
  const Tensor src = test::random_normal({5, 11}, rng);
  const Tensor dst_cpu = test::random_normal({5, 9}, rng);
  const Tensor dst_gpu = dst_cpu.to(Device::CUDA);
  ops::copy_columns(dst_cpu, 2, src, 3, 6);
  ops::copy_columns(dst_gpu, 2, src.to(Device::CUDA), 3, 6);
  CHECK(dst_gpu.to_vector() == dst_cpu.to_vector());  // a copy: bit-exact
}

TEST_CASE("cuda adam_update and ema_update match the CPU") {
  Rng rng(78);
  for (const float beta1 : {0.0f, 0.9f}) {
    const Pair param = random_normal({1001}, rng), m = random_normal({1001}, rng);
    const Pair v = random_uniform({1001}, rng, 0.0f, 2.0f), g = random_normal({1001}, rng);
    ops::adam_update(param.cpu, m.cpu, v.cpu, g.cpu, beta1, 0.999f, 1e-8f, 1e-3f, 0.0447f);
    ops::adam_update(param.gpu, m.gpu, v.gpu, g.gpu, beta1, 0.999f, 1e-8f, 1e-3f, 0.0447f);
    // The same arithmetic in the same order, without FMA contraction on the GPU: bit-exact.
    CHECK(param.gpu.to_vector() == param.cpu.to_vector());
    CHECK(m.gpu.to_vector() == m.cpu.to_vector());
    CHECK(v.gpu.to_vector() == v.cpu.to_vector());
  }
  const Pair shadow = random_normal({777}, rng), param = random_normal({777}, rng);
  ops::ema_update(shadow.cpu, param.cpu, 0.0123f);
  ops::ema_update(shadow.gpu, param.gpu, 0.0123f);
  CHECK(shadow.gpu.to_vector() == shadow.cpu.to_vector());
}

TEST_CASE("cuda caching allocator reuses freed blocks and keeps its statistics") {
  namespace cuda = bigcolor::cuda;
  for (const std::size_t bytes : {std::size_t{1000}, std::size_t{3} << 20}) {  // a small and a large size class
    CAPTURE(bytes);
    const cuda::MemoryStats before = cuda::memory_stats();
    void* first = cuda::allocate(bytes);
    REQUIRE(first != nullptr);
    const cuda::MemoryStats held = cuda::memory_stats();
    CHECK(held.in_use >= before.in_use + bytes);
    CHECK(held.peak_in_use >= held.in_use);
    CHECK(held.reserved >= held.in_use);

    cuda::deallocate(first, bytes);
    const cuda::MemoryStats freed = cuda::memory_stats();
    CHECK(freed.in_use == before.in_use);
    CHECK(freed.reserved == held.reserved);  // kept in the cache, not returned to the driver

    void* second = cuda::allocate(bytes);
    const cuda::MemoryStats again = cuda::memory_stats();
    CHECK(second == first);  // the cached block of the same class is handed out again
    CHECK(again.cuda_malloc_calls == held.cuda_malloc_calls);
    CHECK(again.in_use == held.in_use);
    cuda::deallocate(second, bytes);
  }

  // Tensors go through the same allocator: creating and dropping one returns in_use to where it was.
  const std::size_t in_use = cuda::memory_stats().in_use;
  {
    const Tensor t = Tensor::zeros({3, 5, 7, 5}, DType::F32, Device::CUDA);
    CHECK(cuda::memory_stats().in_use > in_use);
  }
  CHECK(cuda::memory_stats().in_use == in_use);

  cuda::empty_cache();
  const cuda::MemoryStats emptied = cuda::memory_stats();
  CHECK(emptied.reserved == emptied.in_use);

  cuda::reset_peak_memory();
  CHECK(cuda::memory_stats().peak_in_use == cuda::memory_stats().in_use);

  // An impossible request is a bigcolor::Error (after emptying the cache and retrying), and the GPU stays usable.
  CHECK_THROWS_AS(cuda::allocate(std::size_t{1} << 50), bigcolor::Error);
  const Tensor after = Tensor::full({4}, 2.0f, Device::CUDA);
  CHECK(after.to_vector() == std::vector<float>{2.0f, 2.0f, 2.0f, 2.0f});
}

}  // TEST_SUITE("cuda")
