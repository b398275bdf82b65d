// Batch normalization on the GPU, per channel over B·H·W (in (B, C) is treated as (B, C, 1, 1)).
//
// One block per channel c. Its elements are in[b, c, i] = in[(b·C + c)·HW + i] for b < B, i < HW; the block walks
// the flat index k = b·HW + i of those n = B·HW elements with a block stride. Sums are accumulated in double per
// thread and combined by block_sum (fixed order), so statistics and parameter gradients are deterministic and use
// no atomics. Thread 0 does the per-channel bookkeeping (saved_*, running_*, d_weight, d_bias); the normalizing
// pass runs after the reductions, so out may alias in and d_in may alias d_out.
//
// Forward, training: mean = Σx / n, var = Σ(x − mean)² / n (biased, two passes), invstd = 1 / sqrt(var + eps),
//   running_mean ← (1 − momentum)·running_mean + momentum·mean,
//   running_var  ← (1 − momentum)·running_var  + momentum·var·n/(n − 1).
// Forward, eval: mean = running_mean, invstd = 1 / sqrt(running_var + eps); running stats untouched.
// Both: saved_mean = mean, saved_invstd = invstd, out = (x − mean)·invstd·weight + bias.
// Backward with x̂ = (x − saved_mean)·saved_invstd, Σ over the channel's n elements:
//   d_bias += Σ d_out, d_weight += Σ d_out·x̂,
//   training: d_in = weight·invstd·(d_out − Σd_out / n − x̂·Σ(d_out·x̂) / n)
//   eval:     d_in = weight·invstd·d_out
#include <cstdint>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 512;

struct Layout {
  std::int64_t batch, channels, hw;  // in (batch, channels, hw)
};

Layout layout_of(const Tensor& in) {
  const std::int64_t batch = in.dim(0);
  const std::int64_t channels = in.dim(1);
  const std::int64_t hw = batch * channels == 0 ? 0 : in.numel() / (batch * channels);
  return {batch, channels, hw};
}

// Address of the k-th element (k = b·HW + i) of channel c.
__device__ inline std::int64_t element(std::int64_t k, std::int64_t c, const Layout& s) {
  const std::int64_t b = k / s.hw;
  const std::int64_t i = k - b * s.hw;
  return (b * s.channels + c) * s.hw + i;
}

// Optional per-channel tensors arrive as null pointers when undefined.
__global__ void batchnorm_forward_kernel(float* out, float* saved_mean, float* saved_invstd, float* running_mean,
                                         float* running_var, const float* in, const float* weight,
                                         const float* bias, Layout s, bool training, float momentum, float eps) {
  const std::int64_t c = blockIdx.x;
  const std::int64_t n = s.batch * s.hw;
  __shared__ float shared_mean;
  __shared__ float shared_invstd;

  if (training) {
    double acc = 0.0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) acc += in[element(k, c, s)];
    const double mean = block_sum(acc) / static_cast<double>(n);
    acc = 0.0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const double d = static_cast<double>(in[element(k, c, s)]) - mean;
      acc += d * d;
    }
    const double var = block_sum(acc) / static_cast<double>(n);  // biased
    if (threadIdx.x == 0) {
      const float invstd = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
      shared_mean = static_cast<float>(mean);
      shared_invstd = invstd;
      saved_mean[c] = static_cast<float>(mean);
      saved_invstd[c] = invstd;
      // n = 1 has no unbiased variance; the (zero) biased one is used rather than dividing by zero.
      const double unbiased = n > 1 ? var * static_cast<double>(n) / static_cast<double>(n - 1) : var;
      running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * static_cast<float>(mean);
      running_var[c] = (1.0f - momentum) * running_var[c] + momentum * static_cast<float>(unbiased);
    }
  } else if (threadIdx.x == 0) {
    const float mean = running_mean[c];
    const float invstd =
        static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + static_cast<double>(eps)));
    shared_mean = mean;
    shared_invstd = invstd;
    saved_mean[c] = mean;
    saved_invstd[c] = invstd;
  }
  __syncthreads();

  const float mean = shared_mean;
  const float invstd = shared_invstd;
  const float w = weight != nullptr ? weight[c] : 1.0f;
  const float b = bias != nullptr ? bias[c] : 0.0f;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const std::int64_t e = element(k, c, s);
    out[e] = (in[e] - mean) * invstd * w + b;
  }
}

// d_in, d_weight, d_bias may be null (not wanted); weight null means identity.
__global__ void batchnorm_backward_kernel(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                                          const float* in, const float* weight, const float* saved_mean,
                                          const float* saved_invstd, Layout s, bool training) {
  const std::int64_t c = blockIdx.x;
  const std::int64_t n = s.batch * s.hw;
  const float mean = saved_mean[c];
  const float invstd = saved_invstd[c];
  const float w = weight != nullptr ? weight[c] : 1.0f;

  // Σ d_out and Σ d_out·x̂ are needed by d_bias / d_weight, and by d_in in training.
  const bool need_sums = d_weight != nullptr || d_bias != nullptr || (training && d_in != nullptr);
  double sum_dy = 0.0;
  double sum_dy_xhat = 0.0;
  if (need_sums) {
    double acc_dy = 0.0;
    double acc_dy_xhat = 0.0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const std::int64_t e = element(k, c, s);
      const double dy = d_out[e];
      const double xhat = (static_cast<double>(in[e]) - mean) * invstd;
      acc_dy += dy;
      acc_dy_xhat += dy * xhat;
    }
    sum_dy = block_sum(acc_dy);
    sum_dy_xhat = block_sum(acc_dy_xhat);
    if (threadIdx.x == 0) {
      if (d_bias != nullptr) d_bias[c] += static_cast<float>(sum_dy);
      if (d_weight != nullptr) d_weight[c] += static_cast<float>(sum_dy_xhat);
    }
  }
  if (d_in == nullptr) return;

  const float scale = w * invstd;
  if (training) {
    const float mean_dy = static_cast<float>(sum_dy / static_cast<double>(n));
    const float mean_dy_xhat = static_cast<float>(sum_dy_xhat / static_cast<double>(n));
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const std::int64_t e = element(k, c, s);
      const float xhat = (in[e] - mean) * invstd;
      d_in[e] = scale * (d_out[e] - mean_dy - xhat * mean_dy_xhat);
    }
  } else {
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const std::int64_t e = element(k, c, s);
      d_in[e] = scale * d_out[e];
    }
  }
}

float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

}  // namespace

void batchnorm_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                       const Tensor& running_mean, const Tensor& running_var, const Tensor& in,
                       const Tensor& weight, const Tensor& bias, bool training, float momentum, float eps) {
  const Layout s = layout_of(in);
  if (s.channels == 0) return;
  // With no elements per channel (B = 0 or HW = 0) the kernel still runs: training then divides 0 by 0 and
  // reports NaN statistics, as a direct implementation of the formulas would.
  batchnorm_forward_kernel<<<static_cast<unsigned int>(s.channels), kThreads>>>(
      out.numel() == 0 ? nullptr : out.data<float>(), saved_mean.data<float>(), saved_invstd.data<float>(),
      running_mean.data<float>(), running_var.data<float>(), in.numel() == 0 ? nullptr : in.data<float>(),
      ptr_or_null(weight), ptr_or_null(bias), s, training, momentum, eps);
  check_launch();
}

void batchnorm_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight, const Tensor& saved_mean,
                        const Tensor& saved_invstd, bool training) {
  const Layout s = layout_of(in);
  if (s.channels == 0 || in.numel() == 0) return;  // nothing to accumulate, nothing to write
  if (!d_in.defined() && !d_weight.defined() && !d_bias.defined()) return;
  batchnorm_backward_kernel<<<static_cast<unsigned int>(s.channels), kThreads>>>(
      ptr_or_null(d_in), ptr_or_null(d_weight), ptr_or_null(d_bias), d_out.data<float>(), in.data<float>(),
      ptr_or_null(weight), saved_mean.data<float>(), saved_invstd.data<float>(), s, training);
  check_launch();
}

}  // namespace bigcolor::cuda
