// Every op of the op table (tests/op_table.h) at the shapes its CUDA comparison uses (real layer shapes, odd sizes,
// tile boundaries), forward and backward, on the CPU and, when a GPU is visible, on CUDA: one place where the time
// of every op shows, and where a new table entry gets its benchmark without a line of code here.
//   op/<device>/<case>/forward      op/<device>/<case>/backward
// The case's tensors are drawn once from its entry's seed (as the tests draw them) and moved to the device; the
// backward's d_out is random, as in the CUDA comparison. Times are per call, the device synchronized.
#include <benchmark/benchmark.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "op_table.h"  // tests/: the op table the test harnesses loop over
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

using namespace bigcolor;

namespace {

// The case's tensors on `device`, with a random d_out shaped like its loss output.
test::Tensors tensors_on(const test::OpCase& c, Device device, Rng& rng) {
  test::Tensors t;
  for (const auto& [name, tensor] : c.t) t[name] = tensor.to(device);
  const std::string out = c.loss_output.empty() ? c.outputs.at(0) : c.loss_output;
  Tensor d_out = Tensor::empty(c.t.at(out).shape());
  float* p = d_out.data<float>();
  for (std::int64_t i = 0; i < d_out.numel(); ++i) p[i] = rng.uniform(-1.0f, 1.0f);
  t["d_out"] = d_out.to(device);
  return t;
}

void bm_case(benchmark::State& state, const test::OpEntry* entry, std::size_t index, Device device, bool backward) {
  Rng rng(entry->cuda_seed);
  std::vector<test::OpCase> cases = entry->cuda_cases(rng);
  const test::OpCase& c = cases.at(index);
  const test::Tensors t = tensors_on(c, device, rng);
  if (backward) c.forward(t);  // the saved statistics and outputs the backward reads
  const auto& body = backward ? c.backward : c.forward;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    body(t);
    if (device == Device::CUDA) cuda::synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

// "conv2d (2, 3, 8, 8) k3" -> "conv2d_2_3_8_8_k3", "upconv B1 3->20" -> "upconv_B1_3_20": names that a
// --benchmark_filter regex matches as typed.
std::string bench_name(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.';
    if (keep) out += ch;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

struct Registrar {
  Registrar() {
    std::vector<Device> devices = {Device::CPU};
    if (cuda_available()) devices.push_back(Device::CUDA);
    for (const test::OpEntry& entry : test::op_table()) {
      Rng rng(entry.cuda_seed);
      const std::vector<test::OpCase> cases = entry.cuda_cases(rng);  // for the names; rebuilt in each run
      for (std::size_t i = 0; i < cases.size(); ++i) {
        for (const Device d : devices) {
          const std::string base = std::string("op/") + device_name(d) + "/" + bench_name(cases[i].name);
          for (const bool backward : {false, true}) {
            if (backward && !cases[i].backward) continue;
            benchmark::RegisterBenchmark((base + (backward ? "/backward" : "/forward")).c_str(), bm_case, &entry, i,
                                         d, backward)
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
          }
        }
      }
    }
  }
};
const Registrar registrar;

}  // namespace
