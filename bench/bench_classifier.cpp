// The classifiers of colorize --classifier / bigcolor classify on one photo: timm's resnet50d (224²),
// tf_efficientnet_b0 (224²) and the official default tf_efficientnet_l2_ns_475 (475², 480M parameters), at full
// size with the seeded weights of the parity tests (the cost does not depend on the values). One iteration = the
// whole official pipeline for one photo: gray -> 3 channels -> resize -> network -> top-5. Run it beside
// colorize/<device>/256x256 (bench_colorize.cpp) to see what the classifier adds to a colorization:
//   ./bigcolor_bench --benchmark_filter='classify|colorize/cpu/256'
// Reports wall time, peak tensor memory (CPU: tensor storage; CUDA: the allocator's peak) and peak RSS (which
// includes building the model: the L2's state, 1.9 GB, exists twice while batch norm is folded).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <map>
#include <memory>

#include "imaging/image.h"
#include "models/classifier.h"
#include "seeded_state.h"
#include "tensor/cuda_memory.h"
#include "test_util.h"

using namespace bigcolor;

namespace {

const Classifier& classifier_on(const std::string& model, Device device) {
  static std::map<std::pair<std::string, int>, std::unique_ptr<Classifier>> cache;
  std::unique_ptr<Classifier>& c = cache[{model, static_cast<int>(device)}];
  if (!c) {
    const StateShapes shapes = test::read_manifest(test::golden_path("classifiers/" + model + "_manifest.txt"));
    c = std::make_unique<Classifier>(Classifier::from_state(test::seeded_state(shapes), model, device));
  }
  return *c;
}

void bm_classify(benchmark::State& state, std::string model, Device device) {
  const Classifier& c = classifier_on(model, device);
  const Tensor gray = to_gray(load_image(test::golden_path("classifiers/gray_1.png")));
  c.classify_gray(gray, 5);  // warm-up: cuDNN plans, thread pools, the allocator's cache
  if (device == Device::CUDA) cuda::reset_peak_memory();
  reset_host_peak_memory();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(c.classify_gray(gray, 5));  // logits come back to the host: synchronized
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (device == Device::CUDA)
    state.counters["peak_device_MB"] = static_cast<double>(cuda::memory_stats().peak_in_use) / (1 << 20);
  state.counters["peak_host_tensors_MB"] = static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["max_rss_MB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  state.counters["parameters_M"] = static_cast<double>(c.info().parameters) / 1e6;
  state.counters["input"] = c.input_size();
}

struct Register {
  Register() {
    std::vector<Device> devices = {Device::CPU};
    if (cuda_available()) devices.push_back(Device::CUDA);
    for (Device d : devices)
      for (const char* model : {"resnet50d", "tf_efficientnet_b0", "tf_efficientnet_l2_ns_475"}) {
        const bool l2 = std::string(model).find("l2") != std::string::npos;
        benchmark::RegisterBenchmark(("classify/" + std::string(device_name(d)) + "/" + model).c_str(), bm_classify,
                                     std::string(model), d)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(d == Device::CPU ? (l2 ? 1 : 5) : 20);
      }
  }
} register_classify;

}  // namespace
