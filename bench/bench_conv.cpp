// Convolution benchmarks at BigColor's real shapes, forward and backward, CPU and (when present) CUDA.
//
// Each case reports GFLOP/s (a multiply-add counts 2) and `sgemm_ratio`: that rate divided by the same device's
// single-precision GEMM rate, measured once at start-up on a large square product (the ceiling im2col + GEMM can
// reach). Target for the CPU path: forward at >= 0.6 of sgemm.
// Reduced precision (issue 11): the same cases under --precision bf16 (CPU: oneDNN on AMX; CUDA: cuDNN on the
// tensor cores) and fp16 (CUDA), named .../bf16 and .../fp16. On the GPU they also report `lowp_gemm_ratio`: the
// rate over the same format's GEMM rate (cuBLAS, 8192³, F32 accumulation), the tensor cores' practical ceiling.
//   ./bigcolor_bench --benchmark_filter=cpu      (CPU only)
//   ./bigcolor_bench --benchmark_filter=cuda     (CUDA only)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "kernels/cpu/blas.h"
#include "kernels/ops.h"
#include "kernels/precision.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

using namespace bigcolor;

namespace {

double g_sgemm_gflops[2] = {0.0, 0.0};  // per device: [CPU, CUDA]
double g_cuda_lowp_gflops[2] = {0.0, 0.0};  // CUDA GEMM in [bf16, fp16]

void sync(Device device) {
  if (device == Device::CUDA) cuda::synchronize();
}

Tensor random_tensor(const Shape& shape, Device device, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  Rng rng(seed);
  rng.fill_normal(t, 0.0f, 1.0f);
  return t;
}

// Best-of-reps GEMM rate of `device` under `precision`: n×n×n through the CPU BLAS or cuBLAS (bmm, batch 1).
double measure_gemm_gflops(Device device, std::int64_t n, int reps, Precision precision = Precision::FP32) {
  const PrecisionScope scope(precision);
  Tensor a = random_tensor({1, n, n}, device, 1), b = random_tensor({1, n, n}, device, 2);
  Tensor c = Tensor::empty({1, n, n}, DType::F32, device);
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {  // the first run warms up (thread pools, cuBLAS handle)
    sync(device);
    auto t0 = std::chrono::steady_clock::now();
    ops::bmm_forward(c, a, b, false, false);
    sync(device);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * n * n * n / best * 1e-9;
}

struct ConvCase {
  std::int64_t batch, in_c, out_c, size;  // 3×3, padding 1, size×size
};

// Times `body` per iteration (synchronizing the device) under `precision` and reports GFLOP/s and the ratios.
template <typename Body>
void run_timed(benchmark::State& state, Device device, Precision precision, double flops, Body body) {
  const PrecisionScope scope(precision);
  double seconds = 0.0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    body();
    sync(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    seconds += s;
    state.SetIterationTime(s);
  }
  const double gflops = flops * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.counters["GFLOP/s"] = gflops;
  const double ceiling = g_sgemm_gflops[device == Device::CUDA ? 1 : 0];
  if (ceiling > 0) state.counters["sgemm_ratio"] = gflops / ceiling;
  if (device == Device::CUDA && precision != Precision::FP32) {
    const double lowp = g_cuda_lowp_gflops[precision == Precision::BF16 ? 0 : 1];
    if (lowp > 0) state.counters["lowp_gemm_ratio"] = gflops / lowp;
  }
}

void bm_conv_forward(benchmark::State& state, Device device, Precision precision, ConvCase c) {
  Tensor in = random_tensor({c.batch, c.in_c, c.size, c.size}, device, 3);
  Tensor w = random_tensor({c.out_c, c.in_c, 3, 3}, device, 4);
  Tensor bias = random_tensor({c.out_c}, device, 5);
  Tensor out = Tensor::empty({c.batch, c.out_c, c.size, c.size}, DType::F32, device);
  const double flops = 2.0 * c.batch * c.out_c * c.in_c * 9 * c.size * c.size;
  run_timed(state, device, precision, flops, [&] { ops::conv2d_forward(out, in, w, bias, 1); });
}

// Both backward products (data and weight) and the bias: twice the forward's FLOPs.
void bm_conv_backward(benchmark::State& state, Device device, Precision precision, ConvCase c) {
  Tensor in = random_tensor({c.batch, c.in_c, c.size, c.size}, device, 3);
  Tensor w = random_tensor({c.out_c, c.in_c, 3, 3}, device, 4);
  Tensor d_out = random_tensor({c.batch, c.out_c, c.size, c.size}, device, 6);
  Tensor d_in = Tensor::empty(in.shape(), DType::F32, device);
  Tensor d_w = Tensor::zeros(w.shape(), DType::F32, device);
  Tensor d_b = Tensor::zeros({c.out_c}, DType::F32, device);
  const double flops = 4.0 * c.batch * c.out_c * c.in_c * 9 * c.size * c.size;
  run_timed(state, device, precision, flops, [&] { ops::conv2d_backward(d_in, d_w, d_b, d_out, in, w, 1); });
}

void bm_gemm(benchmark::State& state, Device device, Precision precision, std::int64_t n) {
  Tensor a = random_tensor({1, n, n}, device, 1), b = random_tensor({1, n, n}, device, 2);
  Tensor c = Tensor::empty({1, n, n}, DType::F32, device);
  run_timed(state, device, precision, 2.0 * n * n * n, [&] { ops::bmm_forward(c, a, b, false, false); });
}

void register_all() {
  const ConvCase cases[] = {{1, 768, 768, 32},  {8, 768, 768, 32},  {1, 384, 192, 128},
                            {8, 384, 192, 128}, {1, 192, 96, 256},  {8, 192, 96, 256}};
  std::vector<Device> devices = {Device::CPU};
  if (cuda_available()) devices.push_back(Device::CUDA);
  for (Device d : devices) {
    const std::string dev = device_name(d);
    benchmark::RegisterBenchmark(("sgemm/" + dev + "/4096").c_str(), bm_gemm, d, Precision::FP32, std::int64_t{4096})
        ->UseManualTime()->Unit(benchmark::kMillisecond);
    // FP32, then bf16 (both devices) and fp16 (the GPU; the CPU's fp16 is emulated, slower than FP32).
    std::vector<Precision> precisions = {Precision::FP32, Precision::BF16};
    if (d == Device::CUDA) precisions.push_back(Precision::FP16);
    for (Precision p : precisions) {
      const std::string suffix = p == Precision::FP32 ? "" : std::string("/") + precision_name(p);
      if (d == Device::CUDA && p != Precision::FP32)
        benchmark::RegisterBenchmark(("gemm/" + dev + "/8192" + suffix).c_str(), bm_gemm, d, p, std::int64_t{8192})
            ->UseManualTime()->Unit(benchmark::kMillisecond);
      for (const ConvCase& c : cases) {
        const std::string shape = "/B" + std::to_string(c.batch) + "_" + std::to_string(c.in_c) + "to" +
                                  std::to_string(c.out_c) + "_" + std::to_string(c.size) + "x" +
                                  std::to_string(c.size) + suffix;
        benchmark::RegisterBenchmark(("conv3x3_forward/" + dev + shape).c_str(), bm_conv_forward, d, p, c)
            ->UseManualTime()->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("conv3x3_backward/" + dev + shape).c_str(), bm_conv_backward, d, p, c)
            ->UseManualTime()->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_sgemm_gflops[0] = measure_gemm_gflops(Device::CPU, 2048, 3);
  std::printf("sgemm ceiling: cpu %.1f GFLOP/s (2048^3, best of 3)\n", g_sgemm_gflops[0]);
  if (cuda_available()) {
    g_sgemm_gflops[1] = measure_gemm_gflops(Device::CUDA, 8192, 5);
    std::printf("sgemm ceiling: cuda %.1f GFLOP/s (8192^3 FP32, no TF32, best of 5)\n", g_sgemm_gflops[1]);
    g_cuda_lowp_gflops[0] = measure_gemm_gflops(Device::CUDA, 8192, 5, Precision::BF16);
    g_cuda_lowp_gflops[1] = measure_gemm_gflops(Device::CUDA, 8192, 5, Precision::FP16);
    std::printf("gemm ceiling: cuda bf16 %.1f, fp16 %.1f GFLOP/s (8192^3, F32 accumulation, best of 5)\n",
                g_cuda_lowp_gflops[0], g_cuda_lowp_gflops[1]);
  } else {
    std::printf("cuda: no GPU visible, CUDA benchmarks skipped\n");
  }
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
