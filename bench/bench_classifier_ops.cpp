// Benchmarks of the classifiers' forward-only ops (kernels/inference_signatures.inc) at real layer shapes, batch 8,
// CPU and (when a GPU is visible) CUDA:
//   depthwise_<k>x<k>_s<s>/<dev>/C_HxW   EfficientNet-B0's depthwise convolutions (TF "same" padding) at 224 px:
//                                       GB/s counting the input read and the output written once (the kernel's floor)
//   conv_window_stem_same|pad1/<dev>    the 3×3 / stride-2 stems, 3 -> 32 at 224 px: TF same (0 before, 1 after: the
//                                       CUDA path pads a copy first) and symmetric pad 1 (cuDNN pads); GFLOP/s
//   maxpool_3s2p1/<dev>/64_112x112       ResNet's stem pool; GB/s as above
// Run: ./bigcolor_bench --benchmark_filter='depthwise|conv_window|maxpool_3'
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace {

using bigcolor::ConvWindow;
using bigcolor::Device;
using bigcolor::DType;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;

constexpr std::int64_t kBatch = 8;

Tensor random_tensor(const Shape& shape, Device device, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  bigcolor::Rng rng(seed);
  rng.fill_normal(t, 0.0f, 1.0f);
  return t;
}

// Times `body` per iteration (synchronizing the device) and reports billions of `units` per second as `counter`.
template <typename Body>
void run_timed(benchmark::State& state, Device device, double units, const char* counter, Body body) {
  double seconds = 0.0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    if (device == Device::CUDA) bigcolor::cuda::synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    seconds += s;
    state.SetIterationTime(s);
  }
  state.counters[counter] = units * static_cast<double>(state.iterations()) / seconds * 1e-9;
}

struct DepthwiseCase {
  std::int64_t channels, size;
  int kernel, stride;
};

void bm_depthwise(benchmark::State& state, Device device, DepthwiseCase c) {
  const ConvWindow window = ConvWindow::same(c.stride, c.size, c.size, c.kernel, c.kernel);
  const Tensor in = random_tensor({kBatch, c.channels, c.size, c.size}, device, 1);
  const Tensor weight = random_tensor({c.channels, 1, c.kernel, c.kernel}, device, 2);
  const Tensor bias = random_tensor({c.channels}, device, 3);
  const Tensor out = Tensor::empty({kBatch, c.channels, window.out_h(c.size, c.kernel), window.out_w(c.size, c.kernel)},
                                   DType::F32, device);
  const double bytes = static_cast<double>(in.nbytes() + out.nbytes());
  run_timed(state, device, bytes, "GB/s", [&] { ops::depthwise_conv2d_forward(out, in, weight, bias, window); });
}

void bm_conv_stem(benchmark::State& state, Device device, ConvWindow window) {
  const Tensor in = random_tensor({kBatch, 3, 224, 224}, device, 4);
  const Tensor weight = random_tensor({32, 3, 3, 3}, device, 5);
  const Tensor out =
      Tensor::empty({kBatch, 32, window.out_h(224, 3), window.out_w(224, 3)}, DType::F32, device);
  const double flops = 2.0 * static_cast<double>(out.numel()) * 3 * 9;
  run_timed(state, device, flops, "GFLOP/s", [&] { ops::conv2d_window_forward(out, in, weight, Tensor{}, window); });
}

void bm_maxpool(benchmark::State& state, Device device) {
  const Tensor in = random_tensor({kBatch, 64, 112, 112}, device, 6);
  const Tensor out = Tensor::empty({kBatch, 64, 56, 56}, DType::F32, device);
  const double bytes = static_cast<double>(in.nbytes() + out.nbytes());
  run_timed(state, device, bytes, "GB/s", [&] { ops::maxpool2d_forward(out, in, 3, 2, 1); });
}

template <typename... Args>
void add(const std::string& name, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

// Registers the cases at static-initialization time (bench_conv.cpp owns main()).
struct Registrar {
  Registrar() {
    std::vector<Device> devices = {Device::CPU};
    if (bigcolor::cuda_available()) devices.push_back(Device::CUDA);
    // EfficientNet-B0 at 224 px: stage 1 (k3 s1), the stride-2 entries of stages 2-4 and 6, and stage 5 (k5 s1).
    const DepthwiseCase depthwise[] = {{32, 112, 3, 1}, {96, 112, 3, 2}, {144, 56, 5, 2},
                                       {240, 28, 3, 2}, {672, 14, 5, 1}, {672, 14, 5, 2}};
    for (const Device d : devices) {
      std::string dev = "/";  // built with += (GCC 12 warns falsely on "literal" + std::string&&)
      dev += bigcolor::device_name(d);
      for (const DepthwiseCase& c : depthwise) {
        std::string name = "depthwise_";
        name += std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + "_s" + std::to_string(c.stride);
        name += dev + "/" + std::to_string(c.channels) + "_" + std::to_string(c.size) + "x" + std::to_string(c.size);
        add(name, bm_depthwise, d, c);
      }
      add("conv_window_stem_same" + dev, bm_conv_stem, d, ConvWindow::same(2, 224, 224, 3, 3));
      add("conv_window_stem_pad1" + dev, bm_conv_stem, d, ConvWindow::symmetric(2, 1));
      add("maxpool_3s2p1" + dev + "/64_112x112", bm_maxpool, d);
    }
  }
};
const Registrar registrar;

}  // namespace
