// Class-conditional batch norm (+ ReLU) on the GPU (see fused_signatures.inc and the CPU twin, cpu/ccbn.cpp).
// Handwritten, deterministic (sums in double, combined in an order fixed by the sizes alone; no atomics).
//
// in (B, C, H, W) is B·C planes of HW contiguous floats; plane p = b·C + c. Each plane is cut into chunks of
// kChunk elements (cpp = ceil(HW / kChunk) chunks per plane), and every pass over the tensor runs one block per
// (plane, chunk): blockIdx.x = p·cpp + chunk, so (8, 96, 256, 256) runs 6144 blocks and (1, 768, 32, 32) 768.
// Inside a block each thread walks the chunk with a block stride, as float4 when HW % 4 == 0 (every plane and
// chunk then starts on a 16-byte boundary), else as floats.
//
// Forward (training: 3 launches, 2 reads of `in` + 1 write of `out`; eval: 2 launches, 1 read + 1 write):
//   stats_partial   (training) per block, with the shift k_c = in[0, c, 0, 0] (any sample of the channel: sums of
//                   x − k_c in double lose nothing to cancellation even when |mean| ≫ std):
//                   s1 = Σ (x − k_c), s2 = Σ (x − k_c)²; stored per channel in (b, chunk) order   (C, B·cpp) ×2
//   stats_finish    one warp per channel adds its B·cpp partials (lane-strided, then a fixed shuffle tree):
//                   mean = k_c + s1/n, var = s2/n − (s1/n)² (biased, n = B·HW), invstd = 1/sqrt(var + eps),
//                   running stats updated with var·n/(n − 1) and momentum; eval: from the running stats.
//                   saved_mean (C), saved_invstd (C) receive what is used.
//   apply           out = act((x − mean_c)·(invstd_c·gain[b, c]) + bias[b, c]), one fused pass.
// The statistics must be complete before any element is normalized, so two reads + one write is the floor for a
// non-persistent kernel (tensors up to ~40 MB, e.g. (1, 768, 32, 32), are re-read from the 50 MB L2).
//
// Backward (3 launches), with x̂ = (x − mean)·invstd, gz = d_out·[out > 0] (relu) or d_out, ĝ = gz·gain[b, c]:
//   grad_partial    per block: Σ gz and Σ gz·x̂ over its chunk                                  (B·C·cpp) ×2
//   grad_finish     one warp per channel; lane b' takes samples b = b', b' + 32, ...: adds each plane's cpp
//                   partials in order, writes d_bias[b, c] = Σ gz and d_gain[b, c] = Σ gz·x̂, and the warp tree
//                   gives mean_g[c] = Σ_b gain·Σgz / n and mean_gx[c] = Σ_b gain·Σgz·x̂ / n
//   grad_input      training: d_in = invstd·(ĝ − mean_g − x̂·mean_gx); eval: d_in = invstd·ĝ.
// Traffic (training, relu): d_out, in, out read by grad_partial and again by grad_input, d_in written: 7 passes
// (without relu `out` is not read: 5; eval needs no sums for d_in: d_out, out read and d_in written, 3).
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/workspace.h"
#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr std::int64_t kChunk = 8192;  // elements per block: 8 float4 per thread; a multiple of 4·kThreads

struct Geometry {
  std::int64_t batch, channels, hw;
  std::int64_t cpp;  // chunks per plane, >= 1
};

Geometry geometry_of(const Tensor& in) {
  Geometry g{in.dim(0), in.dim(1), in.dim(2) * in.dim(3), 1};
  g.cpp = g.hw > kChunk ? (g.hw + kChunk - 1) / kChunk : 1;
  return g;
}

// The block's (plane, chunk) and its element range [begin, end) inside the plane.
struct Chunk {
  std::int64_t plane, b, c, begin, end, base;  // base = plane·HW
};

__device__ inline Chunk chunk_of_block(const Geometry& g) {
  Chunk k;
  k.plane = static_cast<std::int64_t>(blockIdx.x) / g.cpp;
  const std::int64_t chunk = static_cast<std::int64_t>(blockIdx.x) - k.plane * g.cpp;
  k.b = k.plane / g.channels;
  k.c = k.plane - k.b * g.channels;
  k.begin = chunk * kChunk;
  k.end = k.begin + kChunk < g.hw ? k.begin + kChunk : g.hw;
  k.base = k.plane * g.hw;
  return k;
}

// Calls f4(q) for every float4 index q of the chunk (elements 4q .. 4q + 3 of the tensor) when vec4, else f1(e)
// for every element index e; each thread takes every kThreads-th item.
template <typename F4, typename F1>
__device__ inline void for_each_in_chunk(const Chunk& k, bool vec4, F4 f4, F1 f1) {
  if (vec4) {
    const std::int64_t q_begin = (k.base + k.begin) / 4;
    const std::int64_t q_end = (k.base + k.end) / 4;  // HW % 4 == 0, so the chunk ends on a float4 too
#pragma unroll 4
    for (std::int64_t q = q_begin + threadIdx.x; q < q_end; q += kThreads) f4(q);
  } else {
    for (std::int64_t e = k.base + k.begin + threadIdx.x; e < k.base + k.end; e += kThreads) f1(e);
  }
}

// ---- forward ------------------------------------------------------------------------------------------------------

// grid B·C·cpp. s1, s2 (C, B·cpp): entry [c, b·cpp + chunk].
__global__ void __launch_bounds__(kThreads) stats_partial_kernel(double* __restrict__ s1, double* __restrict__ s2,
                                                                 const float* __restrict__ x, Geometry g,
                                                                 bool vec4) {
  const Chunk k = chunk_of_block(g);
  const double shift = __ldg(x + k.c * g.hw);  // in[0, c, 0, 0]
  double a1 = 0.0, a2 = 0.0;
  for_each_in_chunk(
      k, vec4,
      [&](std::int64_t q) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(x) + q);
        const double d0 = v.x - shift, d1 = v.y - shift, d2 = v.z - shift, d3 = v.w - shift;
        a1 += (d0 + d1) + (d2 + d3);
        a2 += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
      },
      [&](std::int64_t e) {
        const double d = __ldg(x + e) - shift;
        a1 += d;
        a2 += d * d;
      });
  const double t1 = block_sum(a1);
  const double t2 = block_sum(a2);
  if (threadIdx.x == 0) {
    const std::int64_t per_channel = g.batch * g.cpp;
    const std::int64_t chunk = static_cast<std::int64_t>(blockIdx.x) - k.plane * g.cpp;
    const std::int64_t slot = k.c * per_channel + k.b * g.cpp + chunk;
    s1[slot] = t1;
    s2[slot] = t2;
  }
}

// grid ceil(C / kWarps): warp w of block b owns channel b·kWarps + w. In eval, s1/s2/x are not read.
__global__ void __launch_bounds__(kThreads) stats_finish_kernel(float* __restrict__ saved_mean,
                                                                float* __restrict__ saved_invstd,
                                                                float* __restrict__ running_mean,
                                                                float* __restrict__ running_var,
                                                                const double* __restrict__ s1,
                                                                const double* __restrict__ s2,
                                                                const float* __restrict__ x, Geometry g,
                                                                bool training, float momentum, float eps) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (c >= g.channels) return;  // a whole warp leaves together; no block-wide synchronization follows
  if (!training) {
    if (lane == 0) {
      const float mean = running_mean[c];
      saved_mean[c] = mean;
      saved_invstd[c] =
          static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + static_cast<double>(eps)));
    }
    return;
  }
  const std::int64_t per_channel = g.batch * g.cpp;
  double a1 = 0.0, a2 = 0.0;
  for (std::int64_t k = lane; k < per_channel; k += 32) {
    a1 += s1[c * per_channel + k];
    a2 += s2[c * per_channel + k];
  }
  a1 = warp_sum(a1);
  a2 = warp_sum(a2);
  if (lane == 0) {
    const double n = static_cast<double>(g.batch * g.hw);
    const double shifted_mean = a1 / n;
    const double mean = static_cast<double>(x[c * g.hw]) + shifted_mean;
    double var = a2 / n - shifted_mean * shifted_mean;
    if (var < 0.0) var = 0.0;  // rounding only
    const double invstd = 1.0 / sqrt(var + static_cast<double>(eps));
    saved_mean[c] = static_cast<float>(mean);
    saved_invstd[c] = static_cast<float>(invstd);
    const double m = momentum;
    const double unbiased = var * n / (n - 1.0);  // n > 1 in training (checked by the dispatcher)
    running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean);
    running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * unbiased);
  }
}

// grid B·C·cpp. out = act((x − mean)·(invstd·gain) + bias).
template <bool kRelu>
__global__ void __launch_bounds__(kThreads) apply_kernel(float* __restrict__ out, const float* __restrict__ x,
                                                         const float* __restrict__ gain,
                                                         const float* __restrict__ bias,
                                                         const float* __restrict__ mean,
                                                         const float* __restrict__ invstd, Geometry g, bool vec4) {
  const Chunk k = chunk_of_block(g);
  const float m = __ldg(mean + k.c);
  const float scale = __ldg(invstd + k.c) * __ldg(gain + k.plane);
  const float shift = __ldg(bias + k.plane);
  const auto act = [](float z) { return kRelu ? (z > 0.0f ? z : 0.0f) : z; };
  for_each_in_chunk(
      k, vec4,
      [&](std::int64_t q) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(x) + q);
        float4 r;
        r.x = act((v.x - m) * scale + shift);
        r.y = act((v.y - m) * scale + shift);
        r.z = act((v.z - m) * scale + shift);
        r.w = act((v.w - m) * scale + shift);
        reinterpret_cast<float4*>(out)[q] = r;
      },
      [&](std::int64_t e) { out[e] = act((__ldg(x + e) - m) * scale + shift); });
}

// ---- backward -----------------------------------------------------------------------------------------------------

// grid B·C·cpp. sum_gz, sum_gzx (B·C·cpp), entry [blockIdx.x] = [plane·cpp + chunk]. `y` (out) read only with relu.
template <bool kRelu>
__global__ void __launch_bounds__(kThreads) grad_partial_kernel(double* __restrict__ sum_gz,
                                                                double* __restrict__ sum_gzx,
                                                                const float* __restrict__ dy,
                                                                const float* __restrict__ x,
                                                                const float* __restrict__ y,
                                                                const float* __restrict__ mean,
                                                                const float* __restrict__ invstd, Geometry g,
                                                                bool vec4) {
  const Chunk k = chunk_of_block(g);
  const double m = __ldg(mean + k.c);
  const double is = __ldg(invstd + k.c);
  double a = 0.0, b = 0.0;
  const auto add = [&](float grad, float value, float output) {
    const double gz = (!kRelu || output > 0.0f) ? static_cast<double>(grad) : 0.0;
    a += gz;
    b += gz * ((static_cast<double>(value) - m) * is);
  };
  for_each_in_chunk(
      k, vec4,
      [&](std::int64_t q) {
        const float4 d = __ldg(reinterpret_cast<const float4*>(dy) + q);
        const float4 v = __ldg(reinterpret_cast<const float4*>(x) + q);
        float4 o = make_float4(1.0f, 1.0f, 1.0f, 1.0f);
        if (kRelu) o = __ldg(reinterpret_cast<const float4*>(y) + q);
        add(d.x, v.x, o.x);
        add(d.y, v.y, o.y);
        add(d.z, v.z, o.z);
        add(d.w, v.w, o.w);
      },
      [&](std::int64_t e) { add(__ldg(dy + e), __ldg(x + e), kRelu ? __ldg(y + e) : 1.0f); });
  const double ta = block_sum(a);
  const double tb = block_sum(b);
  if (threadIdx.x == 0) {
    sum_gz[blockIdx.x] = ta;
    sum_gzx[blockIdx.x] = tb;
  }
}

// grid ceil(C / kWarps): warp w of block b owns channel b·kWarps + w. d_gain, d_bias (B, C) may be null;
// mean_g, mean_gx (C) may be null (not needed).
__global__ void __launch_bounds__(kThreads) grad_finish_kernel(float* __restrict__ d_gain, float* __restrict__ d_bias,
                                                               float* __restrict__ mean_g,
                                                               float* __restrict__ mean_gx,
                                                               const double* __restrict__ sum_gz,
                                                               const double* __restrict__ sum_gzx,
                                                               const float* __restrict__ gain, Geometry g) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (c >= g.channels) return;  // a whole warp leaves together
  double acc_g = 0.0, acc_gx = 0.0;
  for (std::int64_t b = lane; b < g.batch; b += 32) {
    const std::int64_t plane = b * g.channels + c;
    double sg = 0.0, sgx = 0.0;
    for (std::int64_t k = 0; k < g.cpp; ++k) {
      sg += sum_gz[plane * g.cpp + k];
      sgx += sum_gzx[plane * g.cpp + k];
    }
    if (d_bias != nullptr) d_bias[plane] = static_cast<float>(sg);
    if (d_gain != nullptr) d_gain[plane] = static_cast<float>(sgx);
    const double gn = gain[plane];
    acc_g += gn * sg;
    acc_gx += gn * sgx;
  }
  acc_g = warp_sum(acc_g);
  acc_gx = warp_sum(acc_gx);
  if (lane == 0 && mean_g != nullptr) {
    const double n = static_cast<double>(g.batch * g.hw);
    mean_g[c] = static_cast<float>(acc_g / n);
    mean_gx[c] = static_cast<float>(acc_gx / n);
  }
}

// grid B·C·cpp. training: d_in = invstd·(gz·gain − mean_g − x̂·mean_gx); eval: d_in = invstd·gain·gz (x, mean_g,
// mean_gx unread).
template <bool kRelu, bool kTraining>
__global__ void __launch_bounds__(kThreads) grad_input_kernel(float* __restrict__ d_in, const float* __restrict__ dy,
                                                              const float* __restrict__ x,
                                                              const float* __restrict__ y,
                                                              const float* __restrict__ gain,
                                                              const float* __restrict__ mean,
                                                              const float* __restrict__ invstd,
                                                              const float* __restrict__ mean_g,
                                                              const float* __restrict__ mean_gx, Geometry g,
                                                              bool vec4) {
  const Chunk k = chunk_of_block(g);
  const float is = __ldg(invstd + k.c);
  const float gn = __ldg(gain + k.plane);
  const float m = __ldg(mean + k.c);
  const float mg = kTraining ? __ldg(mean_g + k.c) : 0.0f;
  const float mgx = kTraining ? __ldg(mean_gx + k.c) : 0.0f;
  const auto grad = [&](float d, float value, float output) {
    const float gz = (!kRelu || output > 0.0f) ? d : 0.0f;
    if (kTraining) return is * (gz * gn - mg - (value - m) * is * mgx);
    return is * (gz * gn);
  };
  for_each_in_chunk(
      k, vec4,
      [&](std::int64_t q) {
        const float4 d = __ldg(reinterpret_cast<const float4*>(dy) + q);
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (kTraining) v = __ldg(reinterpret_cast<const float4*>(x) + q);
        float4 o = make_float4(1.0f, 1.0f, 1.0f, 1.0f);
        if (kRelu) o = __ldg(reinterpret_cast<const float4*>(y) + q);
        float4 r;
        r.x = grad(d.x, v.x, o.x);
        r.y = grad(d.y, v.y, o.y);
        r.z = grad(d.z, v.z, o.z);
        r.w = grad(d.w, v.w, o.w);
        reinterpret_cast<float4*>(d_in)[q] = r;
      },
      [&](std::int64_t e) {
        d_in[e] = grad(__ldg(dy + e), kTraining ? __ldg(x + e) : 0.0f, kRelu ? __ldg(y + e) : 1.0f);
      });
}

template <bool kRelu, bool kTraining>
void launch_grad_input(unsigned int blocks, float* d_in, const float* dy, const float* x, const float* y,
                       const float* gain, const float* mean, const float* invstd, const float* mean_g,
                       const float* mean_gx, const Geometry& g, bool vec4) {
  grad_input_kernel<kRelu, kTraining><<<blocks, kThreads>>>(d_in, dy, x, y, gain, mean, invstd, mean_g, mean_gx, g,
                                                            vec4);
  check_launch();
}

float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

}  // namespace

void ccbn_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                  const Tensor& running_mean, const Tensor& running_var, const Tensor& in, const Tensor& gain,
                  const Tensor& bias, bool training, float momentum, float eps, bool relu) {
  const Geometry g = geometry_of(in);
  if (g.channels == 0) return;
  const bool empty = in.numel() == 0;  // eval only (training needs n > 1): just the saved statistics
  const float* x = empty ? nullptr : in.data<float>();
  float* y = empty ? nullptr : out.data<float>();
  const std::int64_t blocks = g.batch * g.channels * g.cpp;
  const bool vec4 = g.hw % 4 == 0 && aligned16(x) && aligned16(y);
  const auto finish_blocks = static_cast<unsigned int>((g.channels + kWarps - 1) / kWarps);

  const std::int64_t per_channel = g.batch * g.cpp;
  Workspace ws(training ? static_cast<std::size_t>(2 * g.channels * per_channel) * sizeof(double) : 0);
  auto* s1 = reinterpret_cast<double*>(ws.data());  // (C, B·cpp)
  double* s2 = s1 + g.channels * per_channel;         // (C, B·cpp)
  if (training) {
    stats_partial_kernel<<<static_cast<unsigned int>(blocks), kThreads>>>(s1, s2, x, g, vec4);
    check_launch();
  }
  stats_finish_kernel<<<finish_blocks, kThreads>>>(saved_mean.data<float>(), saved_invstd.data<float>(),
                                                   running_mean.data<float>(), running_var.data<float>(), s1, s2,
                                                   x, g, training, momentum, eps);
  check_launch();
  if (empty) return;
  if (relu) {
    apply_kernel<true><<<static_cast<unsigned int>(blocks), kThreads>>>(
        y, x, gain.data<float>(), bias.data<float>(), saved_mean.data<float>(), saved_invstd.data<float>(), g, vec4);
  } else {
    apply_kernel<false><<<static_cast<unsigned int>(blocks), kThreads>>>(
        y, x, gain.data<float>(), bias.data<float>(), saved_mean.data<float>(), saved_invstd.data<float>(), g, vec4);
  }
  check_launch();
}

void ccbn_backward(const Tensor& d_in, const Tensor& d_gain, const Tensor& d_bias, const Tensor& d_out,
                   const Tensor& in, const Tensor& gain, const Tensor& out, const Tensor& saved_mean,
                   const Tensor& saved_invstd, bool training, bool relu) {
  const Geometry g = geometry_of(in);
  const std::int64_t planes = g.batch * g.channels;
  if (planes == 0) return;  // nothing to write
  const bool empty = in.numel() == 0;
  const float* dy = empty ? nullptr : d_out.data<float>();
  const float* x = empty ? nullptr : in.data<float>();
  const float* y = empty ? nullptr : out.data<float>();
  float* dx = empty ? nullptr : ptr_or_null(d_in);
  float* dg = ptr_or_null(d_gain);
  float* db = ptr_or_null(d_bias);
  const float* ga = gain.data<float>();
  const float* mean = saved_mean.data<float>();
  const float* invstd = saved_invstd.data<float>();
  const auto blocks = static_cast<unsigned int>(planes * g.cpp);
  const bool vec4 = g.hw % 4 == 0 && aligned16(dy) && aligned16(x) && aligned16(y) && aligned16(dx);
  const auto finish_blocks = static_cast<unsigned int>((g.channels + kWarps - 1) / kWarps);

  const bool want_means = training && dx != nullptr;
  const bool need_sums = dg != nullptr || db != nullptr || want_means;
  // sum_gz, sum_gzx (B·C·cpp) double, then mean_g, mean_gx (C) float.
  const std::int64_t partials = planes * g.cpp;
  Workspace ws(need_sums ? static_cast<std::size_t>(2 * partials) * sizeof(double) +
                               static_cast<std::size_t>(2 * g.channels) * sizeof(float)
                         : 0);
  auto* sum_gz = reinterpret_cast<double*>(ws.data());
  double* sum_gzx = sum_gz + partials;
  auto* mean_g = reinterpret_cast<float*>(sum_gzx + partials);
  float* mean_gx = mean_g + g.channels;
  if (need_sums) {
    if (relu) {
      grad_partial_kernel<true><<<blocks, kThreads>>>(sum_gz, sum_gzx, dy, x, y, mean, invstd, g, vec4);
    } else {
      grad_partial_kernel<false><<<blocks, kThreads>>>(sum_gz, sum_gzx, dy, x, y, mean, invstd, g, vec4);
    }
    check_launch();
    grad_finish_kernel<<<finish_blocks, kThreads>>>(dg, db, want_means ? mean_g : nullptr,
                                                    want_means ? mean_gx : nullptr, sum_gz, sum_gzx, ga, g);
    check_launch();
  }
  if (dx == nullptr) return;
  if (relu) {
    if (training) {
      launch_grad_input<true, true>(blocks, dx, dy, x, y, ga, mean, invstd, mean_g, mean_gx, g, vec4);
    } else {
      launch_grad_input<true, false>(blocks, dx, dy, x, y, ga, mean, invstd, mean_g, mean_gx, g, vec4);
    }
  } else if (training) {
    launch_grad_input<false, true>(blocks, dx, dy, x, y, ga, mean, invstd, mean_g, mean_gx, g, vec4);
  } else {
    launch_grad_input<false, false>(blocks, dx, dy, x, y, ga, mean, invstd, mean_g, mean_gx, g, vec4);
  }
}

}  // namespace bigcolor::cuda
