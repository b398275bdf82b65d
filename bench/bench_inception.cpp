// The Inception-v3 features of FID (models/inception.h, `bigcolor eval`): one iteration = the features of a batch
// of 8 photos already at 299×299 (the pipeline's resize and normalization included, which are then a copy and one
// pass), full size with the seeded weights of the tests (the cost does not depend on the values), under both
// protocols (they differ only in the pools). Reports wall time, images/s and the time 1000 images would take:
//   ./bigcolor_bench --benchmark_filter=inception
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "models/inception.h"
#include "seeded_state.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "test_util.h"

using namespace bigcolor;

namespace {

constexpr int kBatch = 8;

const InceptionFeatures& inception_on(InceptionProtocol protocol, Device device) {
  static std::map<std::pair<int, int>, std::unique_ptr<InceptionFeatures>> cache;
  std::unique_ptr<InceptionFeatures>& f = cache[{static_cast<int>(protocol), static_cast<int>(device)}];
  if (!f)
    f = std::make_unique<InceptionFeatures>(InceptionFeatures::from_state(
        test::seeded_state(inception_state_shapes(protocol)), inception_protocol_name(protocol), device));
  return *f;
}

void bm_inception(benchmark::State& state, InceptionProtocol protocol, Device device) {
  const InceptionFeatures& f = inception_on(protocol, device);
  Rng rng(14);
  const Tensor images = test::random_uniform({kBatch, 3, 299, 299}, rng, 0.0f, 1.0f);
  f.features(images);  // warm-up: cuDNN plans, thread pools, the allocator's cache
  if (device == Device::CUDA) cuda::reset_peak_memory();
  reset_host_peak_memory();
  double total = 0.0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(f.features(images));  // features come back to the host: synchronized
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(seconds);
    total += seconds;
  }
  // From the wall time measured here (Google Benchmark's rate counters may divide by the main thread's CPU time).
  const double count = static_cast<double>(state.iterations()) * kBatch;
  state.counters["images_per_s"] = count / total;
  state.counters["s_per_1000_images"] = total / count * 1000.0;
  if (device == Device::CUDA)
    state.counters["peak_device_MB"] = static_cast<double>(cuda::memory_stats().peak_in_use) / (1 << 20);
  state.counters["peak_host_tensors_MB"] = static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["max_rss_MB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
}

struct Register {
  Register() {
    std::vector<Device> devices = {Device::CPU};
    if (cuda_available()) devices.push_back(Device::CUDA);
    for (Device d : devices)
      for (InceptionProtocol p : {InceptionProtocol::PytorchFid, InceptionProtocol::Torchvision})
        benchmark::RegisterBenchmark(("inception/" + std::string(device_name(d)) + "/" +
                                      inception_protocol_name(p) + "/batch8").c_str(),
                                     bm_inception, p, d)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(d == Device::CPU ? 3 : 20);
  }
} register_inception;

}  // namespace
