// End-to-end colorization at BigColor's full width (random weights; the cost does not depend on their values):
// the network forward for one photo, batch 1, at model inputs 256×256 and 768×1024 (a 1024×768 photo: both sides
// are multiples of 16, so --resize original runs it as is; powerof would shrink it to 256×352).
// Reports wall time per photo, peak tensor memory on the device that ran it (CPU: tensor storage; CUDA: the
// caching allocator's peak in use), and the process's peak resident size.
//   ./bigcolor_bench --benchmark_filter=colorize
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "api/pipeline.h"
#include "kernels/cpu/dnnl_engine.h"
#include "kernels/precision.h"
#include "models/colorizer.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"

using namespace bigcolor;

namespace {

// One full-width colorizer per device, built on first use (about a second, 1.5 GB of host memory while built).
Colorizer& model_on(Device device) {
  static std::unique_ptr<Colorizer> models[2];
  std::unique_ptr<Colorizer>& m = models[device == Device::CUDA ? 1 : 0];
  if (!m) {
    m = std::make_unique<Colorizer>(ColorizerConfig{});
    m->set_grad_enabled(false);
    Rng rng(1);
    for (const auto& s : m->state()) {
      if (s.name.find("stored_var") != std::string::npos)
        s.tensor.fill(1.0f);
      else if (s.name.find("stored_mean") == std::string::npos)
        rng.fill_normal(s.tensor, 0.0f, 0.02f);
    }
    m->place_for_inference(device);
    m->set_weights_fixed(true);  // as the library's Model::load does
  }
  return *m;
}

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void bm_colorize(benchmark::State& state, Device device, std::int64_t height, std::int64_t width,
                 Precision precision) {
  const PrecisionScope scope(precision);
  Colorizer& eg = model_on(device);
  Rng rng(2);
  Tensor x = Tensor::empty({1, 1, height, width}, DType::F32, device);
  rng.fill_uniform(x, 0.0f, 1.0f);
  Tensor z = Tensor::empty({1, 119}, DType::F32, device);
  rng.fill_normal(z, 0.0f, 0.8f);
  const Tensor classes = Tensor::from_indices({207}, {1}, device);
  eg.forward(x, classes, z);  // warm-up: cuDNN plans, thread pools, the allocator's cache
  if (device == Device::CUDA) {
    cuda::synchronize();
    cuda::reset_peak_memory();
  }
  reset_host_peak_memory();
  Tensor out;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    out = eg.forward(x, classes, z);
    if (device == Device::CUDA) cuda::synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (precision != Precision::FP32) {  // fidelity against FP32 on the same input (untimed)
    Tensor ref;
    {
      const PrecisionScope fp32(Precision::FP32);
      ref = eg.forward(x, classes, z);
    }
    const std::vector<float> a = out.to_vector(), b = ref.to_vector();
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      norm += static_cast<double>(b[i]) * b[i];
    }
    state.counters["output_error_vs_fp32"] = std::sqrt(diff / norm);
    // The fused 8-bit result (Lab fusion with the input's lightness, as colorize writes it).
    const Tensor x_host = x.to(Device::CPU);
    const std::vector<float> fa = finish_result(out.to(Device::CPU), x_host, x_host, false, false).to_vector();
    const std::vector<float> fb = finish_result(ref.to(Device::CPU), x_host, x_host, false, false).to_vector();
    std::size_t within = 0;
    for (std::size_t i = 0; i < fa.size(); ++i)
      within += std::abs(std::lround(fa[i] * 255.0f) - std::lround(fb[i] * 255.0f)) <= 2 ? 1 : 0;
    state.counters["fused_8bit_within_2_pct"] = 100.0 * static_cast<double>(within) / static_cast<double>(fa.size());
  }
  if (device == Device::CUDA) {
    state.counters["peak_device_MB"] = static_cast<double>(cuda::memory_stats().peak_in_use) / (1 << 20);
    state.counters["reserved_device_MB"] = static_cast<double>(cuda::memory_stats().reserved) / (1 << 20);
  }
  state.counters["peak_host_tensors_MB"] = static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20);
  state.counters["max_rss_MB"] = max_rss_mb();
}

struct Register {
  Register() {
    std::vector<Device> devices = {Device::CPU};
    if (cuda_available()) devices.push_back(Device::CUDA);
    // FP32 and bf16 side by side (fp16 on the GPU too: on the CPU it is emulated, no faster than FP32).
    benchmark::AddCustomContext("cpu_bf16_engine", std::string(cpu::dnnl_engine::isa_name()) +
                                                       (cpu::dnnl_engine::bf16_native() ? " (native)" : " (emulated)"));
    for (Device d : devices) {
      const std::string dev = device_name(d);
      std::vector<Precision> precisions = {Precision::FP32, Precision::BF16};
      if (d == Device::CUDA) precisions.push_back(Precision::FP16);
      for (Precision p : precisions) {
        const std::string tail = p == Precision::FP32 ? "" : std::string("/") + precision_name(p);
        benchmark::RegisterBenchmark(("colorize/" + dev + "/256x256" + tail).c_str(), bm_colorize, d,
                                     std::int64_t{256}, std::int64_t{256}, p)
            ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(d == Device::CPU ? 3 : 20);
        benchmark::RegisterBenchmark(("colorize/" + dev + "/768x1024" + tail).c_str(), bm_colorize, d,
                                     std::int64_t{768}, std::int64_t{1024}, p)
            ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(d == Device::CPU ? 1 : 10);
      }
    }
  }
} register_colorize;

}  // namespace
