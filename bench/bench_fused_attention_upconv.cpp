// CUDA benchmarks of the fused self-attention core and the upsampling convolution at BigColor's real shapes, each
// against the composition of library ops it replaces. Registered at static-initialization time, only when a GPU is
// visible (bench_conv.cpp owns main()).
//   ./bigcolor_bench --benchmark_filter=fused
//
// Counters:
//   TFLOP/s      useful FLOPs of the fused algorithm per second (a multiply-add counts 2):
//                attention forward  2·B·N·M·(Ck + Cv)             (S = θᵀφ and out = g·Pᵀ)
//                attention backward 2·B·N·M·(4·Ck + 3·Cv)         (key kernel: S, dP, d_g, d_phi; query kernel:
//                                                                  S, dP, d_theta; the recomputation counts)
//                upconv forward     2·B·Cout·Cin·H·W·16           (4 phases × 2×2 summed taps, H×W the input)
//                upconv backward    2·B·Cout·Cin·H·W·(9 + 9)      (d_in and d_weight from the pooled maps)
//   composition_ms  the same work through the library ops, best of 5 after a warm-up:
//                attention: bmm_forward (θᵀφ) + softmax_forward + bmm_forward (g·Pᵀ), cuBLAS; backward: bmm_backward
//                + softmax_backward + bmm_backward;
//                upconv: upsample_nearest2x_forward + conv2d_forward (cuDNN, 36 multiply-adds per output pixel);
//                backward: conv2d_backward + upsample_nearest2x_backward.
//   speedup      composition time / fused time (> 1: the fused kernel is faster).
// fused_attention_forward_bf16 / _fp16: the forward under that precision (the native engine's tensor-core kernel,
// attention_tc.cu), against the same composition under the same precision (cuBLAS bf16/fp16 products); the FP32
// forward of the same shape is its own case, so the three sit side by side in one run. fused_attention_backward_bf16
// / _fp16 likewise for the backward (attention_backward_tc.cu, five cuBLAS products per block of queries); their
// TFLOP/s use the FP32 kernel's count above, so the three backward rows compare as inverse times.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/precision.h"
#include "tensor/cuda_memory.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace {

using bigcolor::Device;
using bigcolor::DType;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace ops = bigcolor::ops;

Tensor random_gpu(const Shape& shape, std::uint64_t seed, float stddev = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::F32, Device::CUDA);
  bigcolor::Rng rng(seed);
  rng.fill_normal(t, 0.0f, stddev);
  return t;
}

double seconds_of(const std::function<void()>& body) {
  bigcolor::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  body();
  bigcolor::cuda::synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double best_of(const std::function<void()>& body, int reps) {
  body();  // warm-up (cuBLAS / cuDNN plans, allocator)
  double best = 1e30;
  for (int r = 0; r < reps; ++r) best = std::min(best, seconds_of(body));
  return best;
}

// Times `fused` per iteration (manual time), then the composition; reports TFLOP/s, composition_ms, speedup.
void run(benchmark::State& state, double flops, const std::function<void()>& fused,
         const std::function<void()>& composition) {
  fused();  // warm-up
  double total = 0.0;
  for (auto _ : state) {
    const double s = seconds_of(fused);
    total += s;
    state.SetIterationTime(s);
  }
  const double mean = total / static_cast<double>(state.iterations());
  const double comp = best_of(composition, 5);
  state.counters["TFLOP/s"] = flops / mean * 1e-12;
  state.counters["composition_ms"] = comp * 1e3;
  state.counters["speedup"] = comp / mean;
}

struct AttentionShape {
  const char* name;
  std::int64_t batch, ck, cv, n, m;
};

void bm_attention(benchmark::State& state, AttentionShape a, bool backward,
                  bigcolor::Precision precision = bigcolor::Precision::FP32) {
  const bigcolor::PrecisionScope scope(precision);
  const Tensor theta = random_gpu({a.batch, a.ck, a.n}, 1, 0.5f), phi = random_gpu({a.batch, a.ck, a.m}, 2, 0.5f);
  const Tensor g = random_gpu({a.batch, a.cv, a.m}, 3);
  const Tensor out = Tensor::empty({a.batch, a.cv, a.n}, DType::F32, Device::CUDA);
  const Tensor lse = Tensor::empty({a.batch, a.n}, DType::F32, Device::CUDA);
  const Tensor s = Tensor::empty({a.batch, a.n, a.m}, DType::F32, Device::CUDA);
  const Tensor p = Tensor::empty({a.batch, a.n, a.m}, DType::F32, Device::CUDA);
  const Tensor ref = Tensor::empty(out.shape(), DType::F32, Device::CUDA);
  const auto composition_forward = [&] {
    ops::bmm_forward(s, theta, phi, true, false);
    ops::softmax_forward(p, s);
    ops::bmm_forward(ref, g, p, false, true);
  };
  const double pairs = static_cast<double>(a.batch) * static_cast<double>(a.n) * static_cast<double>(a.m);
  if (!backward) {
    run(state, 2.0 * pairs * static_cast<double>(a.ck + a.cv),
        [&] { ops::attention_forward(out, lse, theta, phi, g); }, composition_forward);
    return;
  }
  ops::attention_forward(out, lse, theta, phi, g);
  composition_forward();  // P for the composition's backward
  const Tensor d_out = random_gpu(out.shape(), 4);
  const Tensor d_theta = Tensor::empty(theta.shape(), DType::F32, Device::CUDA);
  const Tensor d_phi = Tensor::empty(phi.shape(), DType::F32, Device::CUDA);
  const Tensor d_g = Tensor::empty(g.shape(), DType::F32, Device::CUDA);
  const Tensor d_p = Tensor::empty(p.shape(), DType::F32, Device::CUDA);
  const Tensor d_s = Tensor::empty(s.shape(), DType::F32, Device::CUDA);
  run(
      state, 2.0 * pairs * static_cast<double>(4 * a.ck + 3 * a.cv),
      [&] { ops::attention_backward(d_theta, d_phi, d_g, d_out, theta, phi, g, out, lse); },
      [&] {
        ops::bmm_backward(d_g, d_p, d_out, g, p, false, true);
        ops::softmax_backward(d_s, d_p, p);
        ops::bmm_backward(d_theta, d_phi, d_s, theta, phi, true, false);
      });
}

struct UpconvShape {
  std::int64_t batch, in_c, out_c, size;  // input size × size -> output 2·size × 2·size
};

void bm_upconv(benchmark::State& state, UpconvShape c, bool backward) {
  const Shape in_shape = {c.batch, c.in_c, c.size, c.size};
  const Shape up_shape = {c.batch, c.in_c, 2 * c.size, 2 * c.size};
  const Shape out_shape = {c.batch, c.out_c, 2 * c.size, 2 * c.size};
  const Tensor in = random_gpu(in_shape, 5), weight = random_gpu({c.out_c, c.in_c, 3, 3}, 6, 0.05f);
  const Tensor bias = random_gpu({c.out_c}, 7);
  const Tensor out = Tensor::empty(out_shape, DType::F32, Device::CUDA);
  const Tensor up = Tensor::empty(up_shape, DType::F32, Device::CUDA);
  const Tensor ref = Tensor::empty(out_shape, DType::F32, Device::CUDA);
  const double macs = static_cast<double>(c.batch) * static_cast<double>(c.out_c) * static_cast<double>(c.in_c) *
                      static_cast<double>(c.size * c.size);
  if (!backward) {
    run(state, 2.0 * macs * 16.0, [&] { ops::upconv3x3_forward(out, in, weight, bias); },
        [&] {
          ops::upsample_nearest2x_forward(up, in);
          ops::conv2d_forward(ref, up, weight, bias, 1);
        });
    return;
  }
  ops::upsample_nearest2x_forward(up, in);
  const Tensor d_out = random_gpu(out_shape, 8);
  const Tensor d_in = Tensor::empty(in_shape, DType::F32, Device::CUDA);
  const Tensor d_up = Tensor::empty(up_shape, DType::F32, Device::CUDA);
  const Tensor d_weight = Tensor::zeros(weight.shape(), DType::F32, Device::CUDA);
  const Tensor d_bias = Tensor::zeros({c.out_c}, DType::F32, Device::CUDA);
  run(
      state, 2.0 * macs * 18.0, [&] { ops::upconv3x3_backward(d_in, d_weight, d_bias, d_out, in, weight); },
      [&] {
        ops::conv2d_backward(d_up, d_weight, d_bias, d_out, up, weight, 1);
        ops::upsample_nearest2x_backward(d_in, d_up);
      });
}

struct Registration {
  Registration() {
    if (!bigcolor::cuda_available()) return;
    const std::vector<AttentionShape> attention = {
        {"G_C384_64x64", 1, 48, 192, 4096, 1024}, {"G_C384_64x64", 8, 48, 192, 4096, 1024},
        {"D_C192_64x64", 1, 24, 96, 4096, 1024},  {"D_C192_64x64", 8, 24, 96, 4096, 1024}};
    for (const AttentionShape& a : attention) {
      const std::string shape = std::string("/") + a.name + "_B" + std::to_string(a.batch);
      for (const bool backward : {false, true})
        benchmark::RegisterBenchmark(
            (std::string("fused_attention_") + (backward ? "backward" : "forward") + "/cuda" + shape).c_str(),
            bm_attention, a, backward, bigcolor::Precision::FP32)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      for (const bool backward : {false, true})
        for (const bigcolor::Precision p : {bigcolor::Precision::BF16, bigcolor::Precision::FP16})
          benchmark::RegisterBenchmark((std::string("fused_attention_") + (backward ? "backward_" : "forward_") +
                                        bigcolor::precision_name(p) + "/cuda" + shape).c_str(),
                                       bm_attention, a, backward, p)
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
    }
    const std::vector<UpconvShape> upconv = {{1, 768, 768, 16},  {8, 768, 768, 16},  {1, 768, 384, 32},
                                             {8, 768, 384, 32},  {1, 384, 192, 64},  {8, 384, 192, 64},
                                             {1, 192, 96, 128},  {8, 192, 96, 128}};
    for (const UpconvShape& c : upconv) {
      const std::string shape = "/B" + std::to_string(c.batch) + "_" + std::to_string(c.in_c) + "to" +
                                std::to_string(c.out_c) + "_" + std::to_string(c.size) + "to" +
                                std::to_string(2 * c.size);
      for (const bool backward : {false, true})
        benchmark::RegisterBenchmark(
            (std::string("fused_upconv3x3_") + (backward ? "backward" : "forward") + "/cuda" + shape).c_str(),
            bm_upconv, c, backward)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
  }
};

const Registration registration;

}  // namespace
