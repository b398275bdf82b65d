// Benchmarks of the fused normalization kernels on the GPU (registered only when a GPU is visible):
//   copy/cuda/256MB                 the device's copy bandwidth: Tensor::copy_from of a 256 MB tensor, GB/s counting
//                                   the read and the write; every other case reports its rate against it (of_copy)
//   sn_forward|sn_backward/cuda/OxK spectral norm at real weight shapes (768×6912, 384×6912, 1536×13824)
//   ccbn_forward_train|ccbn_forward_eval|ccbn_backward_train/cuda/B_C_HxW   (+ ReLU) at the generator's shapes
//
// Every case reports the time of one call (calls are batched between synchronizations so launch and sync
// overheads do not swamp kernels of a few microseconds), `GB/s` = the bytes the kernel design must move / time,
// `of_copy` = that rate / the copy bandwidth, and `speedup` = the time of the obvious composition of existing ops
// (composition_us) / the fused time. The bytes counted (floats of the big tensor, × 4 bytes):
//   sn_forward 4·O·K (W read by both matrix-vector products and by the scaling, weight_sn written: the algorithm's
//   floor, since σ needs both products), sn_backward 5·O·K (G, W for ⟨G, W⟩; G, d_weight read, d_weight written);
//   ccbn_forward_train 3·N (in read for the statistics and again for the fused pass, out written), eval 2·N,
//   ccbn_backward_train 7·N (d_out, in, out read by the reduction and again by the d_in pass, d_in written).
// The compositions:
//   spectral norm: bmm_forward (cuBLAS) for u·W and v·Wᵀ, mul + sum for the squared norms, which must come to the
//     host (no existing op divides by a device scalar), scale_forward for the normalizations and W/σ; backward:
//     mul + sum for ⟨G, W⟩ (to the host), scale_forward, bmm for the outer product u_newᵀ·v, scale and two adds.
//   ccbn: batchnorm_forward with a per-channel affine + relu_forward; backward relu_backward + batchnorm_backward.
//     This omits the per-sample affine (gain[b, c], bias[b, c]) entirely, so it flatters the composition.
// Run: ./bigcolor_bench --benchmark_filter='copy|sn_|ccbn_'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace {

using bigcolor::Device;
using bigcolor::DType;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;

constexpr double kBatchSeconds = 2e-3;  // one timed batch of calls lasts at least this long
constexpr int kTimedBatches = 20;       // benchmark iterations per case (each one batch)
constexpr int kCompositionBatches = 5;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A CUDA tensor of uniform values in [low, high): 1 Mi values drawn on the host, tiled (drawing 50 M values would
// take seconds per tensor; the kernels do not care that the pattern repeats).
Tensor random_tensor(const Shape& shape, std::uint64_t seed, float low = -1.0f, float high = 1.0f) {
  const std::int64_t n = bigcolor::shape_numel(shape);
  const std::int64_t tile = std::min<std::int64_t>(n, std::int64_t{1} << 20);
  bigcolor::Rng rng(seed);
  std::vector<float> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < tile; ++i) values[static_cast<std::size_t>(i)] = rng.uniform(low, high);
  for (std::int64_t i = tile; i < n; i += tile) {
    std::memcpy(values.data() + i, values.data(), static_cast<std::size_t>(std::min(tile, n - i)) * sizeof(float));
  }
  return Tensor::from_vector(values, shape, Device::CUDA);
}

// How many calls make a batch of at least kBatchSeconds (after one warm-up call).
int calls_per_batch(const std::function<void()>& body) {
  body();
  bigcolor::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  body();
  bigcolor::cuda::synchronize();
  const double once = std::max(seconds_since(t0), 1e-7);
  return static_cast<int>(std::clamp(std::ceil(kBatchSeconds / once), 1.0, 10000.0));
}

// Seconds per call, averaged over one batch of `calls`.
double time_batch(const std::function<void()>& body, int calls) {
  bigcolor::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) body();
  bigcolor::cuda::synchronize();
  return seconds_since(t0) / calls;
}

// Read + write rate of a device-to-device copy of 256 MB, best of 10; measured once.
double copy_bandwidth_gbps() {
  static const double rate = [] {
    const Shape shape = {64 << 20};  // 64 Mi floats = 256 MB
    const Tensor src = Tensor::zeros(shape, DType::F32, Device::CUDA);
    const Tensor dst = Tensor::empty(shape, DType::F32, Device::CUDA);
    dst.copy_from(src);  // warm-up
    double best = 1e30;
    for (int i = 0; i < 10; ++i) best = std::min(best, time_batch([&] { dst.copy_from(src); }, 1));
    return 2.0 * static_cast<double>(src.nbytes()) / best * 1e-9;
  }();
  return rate;
}

// Times `fused` (kTimedBatches iterations, each the per-call time of one batch) and, when given, `composition`;
// reports GB/s for `bytes`, of_copy, composition_us and speedup.
void run_case(benchmark::State& state, double bytes, const std::function<void()>& fused,
              const std::function<void()>& composition) {
  const double copy_rate = copy_bandwidth_gbps();
  const int calls = calls_per_batch(fused);
  double total = 0.0;
  for (auto _ : state) {
    const double s = time_batch(fused, calls);
    total += s;
    state.SetIterationTime(s);
  }
  const double per_call = total / static_cast<double>(state.iterations());
  const double rate = bytes / per_call * 1e-9;
  state.counters["GB/s"] = rate;
  state.counters["of_copy"] = rate / copy_rate;
  state.counters["calls_per_batch"] = calls;
  if (composition) {
    const int comp_calls = calls_per_batch(composition);
    double comp_total = 0.0;
    for (int b = 0; b < kCompositionBatches; ++b) comp_total += time_batch(composition, comp_calls);
    const double comp = comp_total / kCompositionBatches;
    state.counters["composition_us"] = comp * 1e6;
    state.counters["speedup"] = comp / per_call;
  }
}

// ---- copy ---------------------------------------------------------------------------------------------------------

void bm_copy(benchmark::State& state) {
  const Shape shape = {64 << 20};
  const Tensor src = Tensor::zeros(shape, DType::F32, Device::CUDA);
  const Tensor dst = Tensor::empty(shape, DType::F32, Device::CUDA);
  const double bytes = 2.0 * static_cast<double>(src.nbytes());
  run_case(state, bytes, [&] { dst.copy_from(src); }, {});
}

// ---- spectral norm ------------------------------------------------------------------------------------------------

struct SnBuffers {
  std::int64_t rows, cols;
  Tensor weight, u, weight_sn, sigma, u_new, v;
  explicit SnBuffers(std::int64_t o, std::int64_t k)
      : rows(o),
        cols(k),
        weight(random_tensor({o, k}, 1)),
        u(random_tensor({o}, 2)),
        weight_sn(Tensor::empty({o, k}, DType::F32, Device::CUDA)),
        sigma(Tensor::empty({1}, DType::F32, Device::CUDA)),
        u_new(Tensor::empty({o}, DType::F32, Device::CUDA)),
        v(Tensor::empty({k}, DType::F32, Device::CUDA)) {}
};

// u·W and v·Wᵀ by cuBLAS (bmm with M = 1), norms through the host, scale_forward.
struct SnComposition {
  const SnBuffers& b;
  Tensor v_raw, t, squares_v, squares_t, norm2;
  explicit SnComposition(const SnBuffers& buffers)
      : b(buffers),
        v_raw(Tensor::empty({1, 1, buffers.cols}, DType::F32, Device::CUDA)),
        t(Tensor::empty({1, 1, buffers.rows}, DType::F32, Device::CUDA)),
        squares_v(Tensor::empty({1, 1, buffers.cols}, DType::F32, Device::CUDA)),
        squares_t(Tensor::empty({1, 1, buffers.rows}, DType::F32, Device::CUDA)),
        norm2(Tensor::empty({1}, DType::F32, Device::CUDA)) {}
  void operator()() const {
    constexpr double eps = 1e-6;
    const Tensor w3 = b.weight.reshape({1, b.rows, b.cols});
    ops::bmm_forward(v_raw, b.u.reshape({1, 1, b.rows}), w3, false, false);
    ops::mul_forward(squares_v, v_raw, v_raw);
    ops::sum_forward(norm2, squares_v);
    const double nv = std::max(std::sqrt(static_cast<double>(norm2.to_vector()[0])), eps);
    const Tensor v3 = b.v.reshape({1, 1, b.cols});
    ops::scale_forward(v3, v_raw, static_cast<float>(1.0 / nv));
    ops::bmm_forward(t, v3, w3, false, true);
    ops::mul_forward(squares_t, t, t);
    ops::sum_forward(norm2, squares_t);
    const double tn = std::sqrt(static_cast<double>(norm2.to_vector()[0]));
    const double nt = std::max(tn, eps);
    ops::scale_forward(b.u_new.reshape({1, 1, b.rows}), t, static_cast<float>(1.0 / nt));
    const double sigma = tn * tn / nt;
    ops::scale_forward(b.weight_sn, b.weight, static_cast<float>(1.0 / sigma));
  }
};

void bm_sn_forward(benchmark::State& state, std::int64_t rows, std::int64_t cols) {
  const SnBuffers b(rows, cols);
  const SnComposition composition(b);
  run_case(
      state, 4.0 * static_cast<double>(rows * cols) * sizeof(float),
      [&] { ops::spectral_norm_forward(b.weight_sn, b.sigma, b.u_new, b.v, b.weight, b.u, 1e-6f); },
      [&] { composition(); });
}

void bm_sn_backward(benchmark::State& state, std::int64_t rows, std::int64_t cols) {
  const SnBuffers b(rows, cols);
  ops::spectral_norm_forward(b.weight_sn, b.sigma, b.u_new, b.v, b.weight, b.u, 1e-6f);
  const Tensor g = random_tensor({rows, cols}, 3);
  const Tensor d_weight = Tensor::zeros({rows, cols}, DType::F32, Device::CUDA);
  const Tensor products = Tensor::empty({rows, cols}, DType::F32, Device::CUDA);
  const Tensor scaled = Tensor::empty({rows, cols}, DType::F32, Device::CUDA);
  const Tensor outer = Tensor::empty({1, rows, cols}, DType::F32, Device::CUDA);
  const Tensor dot = Tensor::empty({1}, DType::F32, Device::CUDA);
  const auto composition = [&] {
    ops::mul_forward(products, g, b.weight);
    ops::sum_forward(dot, products);
    const double d = dot.to_vector()[0];
    const double s = b.sigma.to_vector()[0];
    ops::scale_forward(scaled, g, static_cast<float>(1.0 / s));
    ops::bmm_forward(outer, b.u_new.reshape({1, rows, 1}), b.v.reshape({1, 1, cols}), false, false);
    ops::scale_forward(outer, outer, static_cast<float>(-d / (s * s)));
    ops::add_forward(scaled, scaled, outer.reshape({rows, cols}));
    ops::add_forward(d_weight, d_weight, scaled);
  };
  run_case(
      state, 5.0 * static_cast<double>(rows * cols) * sizeof(float),
      [&] { ops::spectral_norm_backward(d_weight, g, b.weight, b.u_new, b.v, b.sigma); }, composition);
}

// ---- ccbn ---------------------------------------------------------------------------------------------------------

struct CcbnBuffers {
  Shape shape;
  std::int64_t channels;
  Tensor in, gain, bias, out, saved_mean, saved_invstd, running_mean, running_var;
  Tensor weight_c, bias_c;  // per-channel affine of the composition
  explicit CcbnBuffers(const Shape& s)
      : shape(s),
        channels(s[1]),
        in(random_tensor(s, 11, -2.0f, 2.5f)),
        gain(random_tensor({s[0], s[1]}, 12, 0.5f, 1.5f)),
        bias(random_tensor({s[0], s[1]}, 13, -0.5f, 0.5f)),
        out(Tensor::empty(s, DType::F32, Device::CUDA)),
        saved_mean(Tensor::empty({s[1]}, DType::F32, Device::CUDA)),
        saved_invstd(Tensor::empty({s[1]}, DType::F32, Device::CUDA)),
        running_mean(Tensor::zeros({s[1]}, DType::F32, Device::CUDA)),
        running_var(Tensor::full({s[1]}, 1.0f, Device::CUDA)),
        weight_c(random_tensor({s[1]}, 14, 0.5f, 1.5f)),
        bias_c(random_tensor({s[1]}, 15, -0.5f, 0.5f)) {}
  void fused_forward(bool training) const {
    ops::ccbn_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, gain, bias, training, 0.1f, 1e-5f,
                      true);
  }
  void composition_forward(bool training) const {
    ops::batchnorm_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, weight_c, bias_c, training,
                           0.1f, 1e-5f);
    ops::relu_forward(out, out);
  }
};

void bm_ccbn_forward(benchmark::State& state, Shape shape, bool training) {
  const CcbnBuffers b(shape);
  const double n = static_cast<double>(bigcolor::shape_numel(shape));
  run_case(
      state, (training ? 3.0 : 2.0) * n * sizeof(float), [&] { b.fused_forward(training); },
      [&] { b.composition_forward(training); });
}

void bm_ccbn_backward(benchmark::State& state, Shape shape) {
  const CcbnBuffers b(shape);
  b.fused_forward(true);
  const Tensor d_out = random_tensor(shape, 16);
  const Tensor d_in = Tensor::empty(shape, DType::F32, Device::CUDA);
  const Tensor d_gain = Tensor::empty({shape[0], shape[1]}, DType::F32, Device::CUDA);
  const Tensor d_bias = Tensor::empty({shape[0], shape[1]}, DType::F32, Device::CUDA);
  const Tensor masked = Tensor::empty(shape, DType::F32, Device::CUDA);
  const Tensor d_weight_c = Tensor::zeros({shape[1]}, DType::F32, Device::CUDA);
  const Tensor d_bias_c = Tensor::zeros({shape[1]}, DType::F32, Device::CUDA);
  const double n = static_cast<double>(bigcolor::shape_numel(shape));
  run_case(
      state, 7.0 * n * sizeof(float),
      [&] {
        ops::ccbn_backward(d_in, d_gain, d_bias, d_out, b.in, b.gain, b.out, b.saved_mean, b.saved_invstd, true,
                           true);
      },
      [&] {
        ops::relu_backward(masked, d_out, b.out);
        ops::batchnorm_backward(d_in, d_weight_c, d_bias_c, masked, b.in, b.weight_c, b.saved_mean, b.saved_invstd,
                                true);
      });
}

// ---- registration -------------------------------------------------------------------------------------------------

template <typename... Args>
void add(const std::string& name, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...)
      ->UseManualTime()
      ->Iterations(kTimedBatches)
      ->Unit(benchmark::kMicrosecond);
}

// Registers the cases at static-initialization time (bench_conv.cpp owns main()), only when a GPU is visible.
struct Registrar {
  Registrar() {
    if (!bigcolor::cuda_available()) return;
    add("copy/cuda/256MB", bm_copy);
    const std::int64_t sn_shapes[][2] = {{768, 6912}, {384, 6912}, {1536, 13824}};
    for (const auto& s : sn_shapes) {
      std::string shape = "/";  // built with += (GCC 12 warns falsely on "literal" + std::string&&)
      shape += std::to_string(s[0]);
      shape += "x";
      shape += std::to_string(s[1]);
      add(std::string("sn_forward/cuda") + shape, bm_sn_forward, s[0], s[1]);
      add(std::string("sn_backward/cuda") + shape, bm_sn_backward, s[0], s[1]);
    }
    const std::int64_t ccbn_shapes[][2] = {{768, 32}, {384, 64}, {192, 128}, {96, 256}};  // (C, H = W)
    for (const std::int64_t batch : {1, 8}) {
      for (const auto& s : ccbn_shapes) {
        const Shape shape = {batch, s[0], s[1], s[1]};
        std::string name = "/cuda/B";
        name += std::to_string(batch);
        name += "_C";
        name += std::to_string(s[0]);
        name += "_";
        name += std::to_string(s[1]);
        name += "x";
        name += std::to_string(s[1]);
        add(std::string("ccbn_forward_train") + name, bm_ccbn_forward, shape, true);
        add(std::string("ccbn_forward_eval") + name, bm_ccbn_forward, shape, false);
        add(std::string("ccbn_backward_train") + name, bm_ccbn_backward, shape);
      }
    }
  }
};
const Registrar registrar;

}  // namespace
