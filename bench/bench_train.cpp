// One BigColor training step (Trainer::step: EG forward, D step on real and fake, EG step through the updated D
// with the adversarial, MSE and perceptual losses, both Adams, the EMA update), FP32, default TrainOptions.
// Models: the full-width colorizer and discriminator (default ColorizerConfig: G_ch = D_ch = encoder 96, 1000
// classes) from init_orthogonal, and the full-width VGG16 features with random orthogonal weights (the cost does not
// depend on their values). Inputs: random 256×256 images in [0, 1], random classes. Also a reduced-width CPU case
// (width 16, 64×64, 10 classes: what a CPU user training a small model sees); its VGG stays full width, since the
// perceptual loss resizes every image to 224×224 anyway.
// Reports time per step (wall clock), images/s, peak memory during the timed steps (CPU: the tensor allocator's
// peak and the process's peak RSS; CUDA: the caching allocator's peak) and the four losses of the last step, so a
// broken step (NaN) shows in the table.
//   OMP_WAIT_POLICY=passive ./bigcolor_bench --benchmark_filter=train_step/cpu --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/colorizer.h"
#include "models/discriminator.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "train/init.h"
#include "train/trainer.h"
#include "models/vgg16.h"

using namespace bigcolor;
using namespace bigcolor::train;

namespace {

struct Case {
  Device device;
  std::int64_t width;    // G_ch = D_ch = encoder ch
  std::int64_t classes;  // n_classes
  std::int64_t size;     // image side
  std::int64_t batch;
  Precision precision = Precision::FP32;
};

// Models, VGG and trainer for one (device, width, classes). Only one setup lives at a time: the full-width one holds
// ~2 GB (weights, gradients, two Adam moments, EMA shadows), and keeping it alive would inflate the next case's RSS.
struct Setup {
  Device device = Device::CPU;
  std::int64_t width = 0, classes = 0;
  Precision precision = Precision::FP32;
  std::unique_ptr<Colorizer> eg;
  std::unique_ptr<Discriminator> d;
  std::unique_ptr<VGG16Features> vgg;
  std::unique_ptr<Trainer> trainer;
};

Setup& setup_for(const Case& c) {
  static std::unique_ptr<Setup> current;
  if (current && current->device == c.device && current->width == c.width && current->classes == c.classes &&
      current->precision == c.precision)
    return *current;
  current.reset();  // free the previous setup before building the next one
  auto s = std::make_unique<Setup>();
  s->device = c.device;
  s->width = c.width;
  s->classes = c.classes;
  s->precision = c.precision;
  ColorizerConfig config;
  config.biggan.G_ch = c.width;
  config.biggan.D_ch = c.width;
  config.biggan.n_classes = c.classes;
  config.encoder_ch = c.width;
  Rng rng(1);
  s->eg = std::make_unique<Colorizer>(config);
  s->d = std::make_unique<Discriminator>(config.biggan);
  init_orthogonal(*s->eg, rng);
  init_orthogonal(*s->d, rng);
  s->vgg = std::make_unique<VGG16Features>(std::array<std::int64_t, 9>{64, 64, 128, 128, 256, 256, 256, 512, 512});
  init_orthogonal(*s->vgg, rng);
  if (c.device != Device::CPU) {  // initialized on the host (same numbers on every device), then moved
    s->eg->to(c.device);
    s->d->to(c.device);
    s->vgg->to(c.device);
  }
  TrainOptions options;
  options.precision = c.precision;
  s->trainer = std::make_unique<Trainer>(*s->eg, *s->d, s->vgg.get(), options, /*seed=*/2);
  current = std::move(s);
  return *current;
}

// The batch stays on the CPU whatever the device: Trainer::step uploads it (as in real training, where the data
// loader produces host tensors).
StepBatch random_batch(const Case& c) {
  Rng rng(3);
  StepBatch b;
  b.x = Tensor::empty({c.batch, 3, c.size, c.size});
  rng.fill_uniform(b.x, 0.0f, 1.0f);
  std::vector<std::int32_t> classes;
  for (std::int64_t i = 0; i < c.batch; ++i)
    classes.push_back(static_cast<std::int32_t>(rng.next_u32() % static_cast<std::uint32_t>(c.classes)));
  b.classes = Tensor::from_indices(classes, {c.batch});
  return b;
}

// The process's peak resident size since the last reset_peak_rss() (VmHWM, in MiB). getrusage's ru_maxrss cannot be
// reset, so it would carry the previous case's (or the model construction's) peak into this one.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:   123 kB"
  return -1.0;
}
bool reset_peak_rss() {  // Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

void bm_train_step(benchmark::State& state, Case c) {
  Setup& s = setup_for(c);
  const StepBatch batch = random_batch(c);
  // Warm-up, untimed: first-touch allocations, thread pools, cuDNN algorithm search, the perceptual loss's resize
  // matrices (built for the first batch shape it sees).
  StepLosses losses = s.trainer->step(batch);
  if (c.device == Device::CUDA) {
    cuda::synchronize();
    cuda::reset_peak_memory();
  }
  reset_host_peak_memory();
  const bool rss_reset = reset_peak_rss();
  for (auto _ : state) {
    losses = s.trainer->step(batch);
    // step() already reads the losses back to the host, but the optimizers' and EMA's kernels queued after the last
    // read may still run: wait for them so the step is timed whole.
    if (c.device == Device::CUDA) cuda::synchronize();
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(c.batch), benchmark::Counter::kIsIterationInvariantRate);
  if (c.device == Device::CUDA) {
    state.counters["peak_device_MB"] = static_cast<double>(cuda::memory_stats().peak_in_use) / (1 << 20);
    state.counters["reserved_device_MB"] = static_cast<double>(cuda::memory_stats().reserved) / (1 << 20);
  }
  state.counters["peak_host_tensors_MB"] = static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20);
  // -1 where clear_refs is not writable: the value would then be the whole process's peak, not this case's.
  state.counters["peak_rss_MB"] = rss_reset ? peak_rss_mb() : -1.0;
  state.counters["loss_d"] = losses.loss_d;
  state.counters["loss_g"] = losses.loss_g;
  state.counters["mse"] = losses.mse;
  state.counters["lpips"] = losses.lpips;  // a NaN here (not an error skip, which would hide the row) flags a bad step
}

struct Register {
  Register() {
    std::vector<Device> devices = {Device::CPU};
    if (cuda_available()) devices.push_back(Device::CUDA);
    // Each case in FP32 and bf16 side by side (and fp16 on the GPU; on the CPU fp16 is emulated: slower).
    for (Device dev : devices) {
      const bool cpu = dev == Device::CPU;
      std::vector<Precision> precisions = {Precision::FP32, Precision::BF16};
      if (!cpu) precisions.push_back(Precision::FP16);
      for (Precision p : precisions) {
        const std::string tail = p == Precision::FP32 ? "" : std::string("/") + precision_name(p);
        for (std::int64_t batch : {1, 8}) {
          const std::string name =
              std::string("train_step/") + device_name(dev) + "/batch:" + std::to_string(batch) + tail;
          // A full-width CPU step takes tens of seconds (batch 8: over a minute): one timed step after the warm-up.
          benchmark::RegisterBenchmark(name.c_str(), bm_train_step, Case{dev, 96, 1000, 256, batch, p})
              ->UseRealTime()->Unit(cpu ? benchmark::kSecond : benchmark::kMillisecond)->Iterations(cpu ? 1 : 10);
        }
        if (cpu)
          benchmark::RegisterBenchmark(("train_step/cpu/width:16/size:64/batch:8" + tail).c_str(), bm_train_step,
                                       Case{dev, 16, 10, 64, 8, p})
              ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);
      }
    }
  }
} register_train_step;

}  // namespace
