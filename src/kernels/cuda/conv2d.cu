// 2-D convolution on the GPU through cuDNN's convolution API: conv2d_forward / conv2d_backward (stride 1, the same
// zero padding p on every side) and the classifiers' forward-only conv2d_window_forward (a stride s and a zero
// padding given per side, kernels/conv_window.h).
//
// Shapes: in (B, Cin, H, W), weight (Cout, Cin, KH, KW), bias (Cout), out (B, Cout, Ho, Wo) with
// Ho = H + 2p − KH + 1, Wo = W + 2p − KW + 1 (stride 1), or Ho = (H + top + bottom − KH) / s + 1 (floor) and Wo
// likewise for a window. All NCHW float32, fully packed; cross-correlation (no kernel flip).
//
// cuDNN pads each axis symmetrically (one pad_h, one pad_w). A window whose padding differs before and after along
// an axis (TF "same" padding at stride 2: 0 before, 1 after) is first copied into a zero-bordered buffer of
// (B, Cin, H + top + bottom, W + left + right), which cuDNN then convolves with no padding: the same output, since
// every cell outside the input is zero either way.
//
// Accuracy: the convolution descriptor uses CUDNN_FMA_MATH, which excludes Tensor Core (TF32) kernels on Ampere
// and later (CUDNN_DEFAULT_MATH would allow TF32 there). Algorithms come from the cudnnGet*Algorithm_v7 heuristics,
// restricted to the GEMM-like / direct ones, which sum products in fp32 like the CPU; FFT and Winograd algorithms
// transform the data and lose a few more bits, so they are never used. Deterministic algorithms are preferred.
// Bias forward and bias gradient are small kernels here (deterministic, one block per channel for the gradient).
//
// Reduced precision (kernels/cuda/lowp_engine.h): the same plans with bf16 or fp16 data (x, w and y in the format,
// FP32 accumulation: cuDNN's BFLOAT16_CONFIG / PSEUDO_HALF_CONFIG) and CUDNN_TENSOR_OP_MATH, so tensor-core
// algorithms are allowed there; FFT and Winograd stay excluded.
//
// Plans: per distinct (B, Cin, H, W, Cout, KH, KW, pad_h, pad_w, stride, dtype) the descriptors are created once and each
// direction's algorithm and workspace size are chosen on first use, then kept for the life of the process (a small
// map).
// Workspaces come from the caching allocator and go back to it right after the call has been queued: everything
// runs on the default stream, so a later user of the block is ordered after the convolution.
//
// Gradients: d_in overwrites (beta = 0; cuDNN does not read it, so it may hold garbage); d_weight and d_bias
// accumulate (beta = 1 / +=).
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda/device_helpers.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/lowp_engine.h"
#include "kernels/cuda/workspace.h"
#include "tensor/cuda_memory.h"

namespace bigcolor::cuda {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kMaxWorkspaceBytes = std::size_t{1} << 30;  // an algorithm asking for more is skipped

// ---- bias kernels -------------------------------------------------------------------------------------------------

// out (B, C, HW) += bias (C).
__global__ void add_channel_bias_kernel(float* out, const float* bias, std::int64_t n, std::int64_t channels,
                                        std::int64_t hw) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] += bias[(i / hw) % channels];
  }
}

// d_bias (C) += Σ_{b, i} d_out (B, C, HW)[b, c, i]; one block per channel c, double accumulation, fixed order.
__global__ void channel_sum_accumulate_kernel(float* d_bias, const float* d_out, std::int64_t batch,
                                              std::int64_t channels, std::int64_t hw) {
  const std::int64_t c = blockIdx.x;
  const std::int64_t n = batch * hw;
  double acc = 0.0;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const std::int64_t b = k / hw;
    const std::int64_t i = k - b * hw;
    acc += d_out[(b * channels + c) * hw + i];
  }
  const double total = block_sum(acc);
  if (threadIdx.x == 0) d_bias[c] += static_cast<float>(total);
}

// in (P, H, W) -> out (P, H + top + bottom, W + left + right): in placed at (top, left), zeros around it. One thread
// per element of out (a gather, so each element is written exactly once).
__global__ void zero_pad_kernel(float* out, const float* in, std::int64_t planes, std::int64_t h, std::int64_t w,
                                int top, int left, std::int64_t out_h, std::int64_t out_w) {
  const std::int64_t n = planes * out_h * out_w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t x = i % out_w - left;
    const std::int64_t rest = i / out_w;  // p · out_h + y
    const std::int64_t y = rest % out_h - top;
    const std::int64_t p = rest / out_h;
    out[i] = (y >= 0 && y < h && x >= 0 && x < w) ? in[(p * h + y) * w + x] : 0.0f;
  }
}

// ---- plans --------------------------------------------------------------------------------------------------------

struct ConvKey {
  int batch, in_channels, height, width, out_channels, kernel_h, kernel_w, pad_h, pad_w, stride;
  int dtype;  // the DType of x, w and y
  auto operator<=>(const ConvKey&) const = default;
};

struct Choice {
  int algo = -1;  // the cudnnConvolution*Algo_t value; −1 = not chosen yet
  std::size_t workspace = 0;
};

struct ConvPlan {
  cudnnTensorDescriptor_t in_desc = nullptr;   // (B, Cin, H, W)
  cudnnTensorDescriptor_t out_desc = nullptr;  // (B, Cout, Ho, Wo)
  cudnnFilterDescriptor_t filter_desc = nullptr;  // (Cout, Cin, KH, KW)
  cudnnConvolutionDescriptor_t conv_desc = nullptr;
  Choice forward, backward_data, backward_filter;
  bool fp32 = true;  // F32 data: FP32-math algorithms only

  ConvPlan() = default;
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
  ~ConvPlan() {  // runs only when make_plan fails half-way: the plan map itself is never destroyed
    if (conv_desc != nullptr) cudnnDestroyConvolutionDescriptor(conv_desc);
    if (filter_desc != nullptr) cudnnDestroyFilterDescriptor(filter_desc);
    if (out_desc != nullptr) cudnnDestroyTensorDescriptor(out_desc);
    if (in_desc != nullptr) cudnnDestroyTensorDescriptor(in_desc);
  }
};

// The weight-heavy, FFT- and Winograd-free algorithms (see the file comment).
bool allowed(cudnnConvolutionFwdAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}
bool allowed(cudnnConvolutionBwdDataAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}
bool allowed(cudnnConvolutionBwdFilterAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
         algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

bool full_fp32(cudnnMathType_t math) { return math == CUDNN_DEFAULT_MATH || math == CUDNN_FMA_MATH; }

cudnnDataType_t cudnn_type(DType t) {
  return t == DType::F32 ? CUDNN_DATA_FLOAT : t == DType::BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
}

// Picks from the heuristic's ranked list: the first usable deterministic algorithm, else the first usable one,
// else the first of `fallbacks` whose workspace query succeeds. An FP32 plan (`fp32`) takes only FP32-math
// algorithms; a bf16/fp16 plan any math (tensor cores). `workspace_of(algo, &bytes)` returns the status of
// the workspace-size query. Throws when nothing fits.
template <typename Algo, typename Perf, typename WorkspaceOf>
Choice choose(const std::vector<Perf>& ranked, const std::vector<Algo>& fallbacks, WorkspaceOf workspace_of,
              const char* direction, bool fp32) {
  for (const bool need_deterministic : {true, false}) {
    for (const Perf& perf : ranked) {
      if (perf.status != CUDNN_STATUS_SUCCESS || !allowed(perf.algo) || (fp32 && !full_fp32(perf.mathType))) continue;
      if (need_deterministic && perf.determinism != CUDNN_DETERMINISTIC) continue;
      std::size_t bytes = 0;
      if (workspace_of(perf.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspaceBytes) continue;
      return {static_cast<int>(perf.algo), bytes};
    }
  }
  for (const Algo algo : fallbacks) {
    std::size_t bytes = 0;
    if (workspace_of(algo, &bytes) == CUDNN_STATUS_SUCCESS && bytes <= kMaxWorkspaceBytes) {
      return {static_cast<int>(algo), bytes};
    }
  }
  ::bigcolor::detail::throw_error("conv2d: cuDNN offers no ", fp32 ? "fp32 (non-TF32) " : "bf16/fp16 ", direction,
                                  " algorithm for this shape");
}

Choice choose_forward(const ConvPlan& p) {
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked(static_cast<std::size_t>(max_count));
  int returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.in_desc, p.filter_desc, p.conv_desc, p.out_desc, max_count,
                                                     &returned, ranked.data()));
  ranked.resize(static_cast<std::size_t>(returned));
  auto workspace_of = [&](cudnnConvolutionFwdAlgo_t algo, std::size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.in_desc, p.filter_desc, p.conv_desc, p.out_desc, algo, bytes);
  };
  return choose<cudnnConvolutionFwdAlgo_t>(
      ranked, {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM},
      workspace_of, "forward", p.fp32);
}

Choice choose_backward_data(const ConvPlan& p) {
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> ranked(static_cast<std::size_t>(max_count));
  int returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.filter_desc, p.out_desc, p.conv_desc, p.in_desc,
                                                          max_count, &returned, ranked.data()));
  ranked.resize(static_cast<std::size_t>(returned));
  auto workspace_of = [&](cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.filter_desc, p.out_desc, p.conv_desc, p.in_desc, algo,
                                                        bytes);
  };
  return choose<cudnnConvolutionBwdDataAlgo_t>(
      ranked, {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0}, workspace_of,
      "backward-data", p.fp32);
}

Choice choose_backward_filter(const ConvPlan& p) {
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> ranked(static_cast<std::size_t>(max_count));
  int returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.in_desc, p.out_desc, p.conv_desc, p.filter_desc,
                                                            max_count, &returned, ranked.data()));
  ranked.resize(static_cast<std::size_t>(returned));
  auto workspace_of = [&](cudnnConvolutionBwdFilterAlgo_t algo, std::size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.in_desc, p.out_desc, p.conv_desc, p.filter_desc,
                                                          algo, bytes);
  };
  return choose<cudnnConvolutionBwdFilterAlgo_t>(
      ranked, {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0}, workspace_of,
      "backward-filter", p.fp32);
}

std::unique_ptr<ConvPlan> make_plan(const ConvKey& k) {
  auto p = std::make_unique<ConvPlan>();
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->in_desc));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->out_desc));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->filter_desc));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv_desc));
  const cudnnDataType_t data = cudnn_type(static_cast<DType>(k.dtype));
  p->fp32 = data == CUDNN_DATA_FLOAT;
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->in_desc, CUDNN_TENSOR_NCHW, data, k.batch, k.in_channels, k.height,
                                         k.width));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->filter_desc, data, CUDNN_TENSOR_NCHW, k.out_channels, k.in_channels,
                                         k.kernel_h, k.kernel_w));
  // FP32 accumulation in every format.
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv_desc, k.pad_h, k.pad_w, k.stride, k.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FP32: no TF32. bf16/fp16: tensor cores.
  CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv_desc, p->fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv_desc, p->in_desc, p->filter_desc, &n, &c, &h, &w));
  const int expected_h = (k.height + 2 * k.pad_h - k.kernel_h) / k.stride + 1;
  const int expected_w = (k.width + 2 * k.pad_w - k.kernel_w) / k.stride + 1;
  BIGCOLOR_CHECK(n == k.batch && c == k.out_channels && h == expected_h && w == expected_w,
                 "conv2d: cuDNN computes an output of (", n, ", ", c, ", ", h, ", ", w, "), expected (", k.batch, ", ",
                 k.out_channels, ", ", expected_h, ", ", expected_w, ")");
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->out_desc, CUDNN_TENSOR_NCHW, data, n, c, h, w));
  return p;
}

enum class Direction { Forward, BackwardData, BackwardFilter };

// The plan for these shapes with `direction`'s algorithm chosen. The returned plan lives as long as the process
// (plans are never erased) and is only read after this returns, so it is used without the lock.
// `pad_h` / `pad_w` pad both sides of their axis.
const ConvPlan& plan_for(const Tensor& in, const Tensor& weight, int pad_h, int pad_w, int stride, Direction direction,
                         Choice* choice) {
  static std::mutex mutex;
  static auto* plans = new std::map<ConvKey, std::unique_ptr<ConvPlan>>();  // leaked on purpose (static exit order)
  const ConvKey key{static_cast<int>(in.dim(0)),     static_cast<int>(in.dim(1)),     static_cast<int>(in.dim(2)),
                    static_cast<int>(in.dim(3)),     static_cast<int>(weight.dim(0)), static_cast<int>(weight.dim(2)),
                    static_cast<int>(weight.dim(3)), pad_h, pad_w, stride, static_cast<int>(in.dtype())};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans->find(key);
  if (it == plans->end()) it = plans->emplace(key, make_plan(key)).first;
  ConvPlan& plan = *it->second;
  switch (direction) {
    case Direction::Forward:
      if (plan.forward.algo < 0) plan.forward = choose_forward(plan);
      *choice = plan.forward;
      break;
    case Direction::BackwardData:
      if (plan.backward_data.algo < 0) plan.backward_data = choose_backward_data(plan);
      *choice = plan.backward_data;
      break;
    case Direction::BackwardFilter:
      if (plan.backward_filter.algo < 0) plan.backward_filter = choose_backward_filter(plan);
      *choice = plan.backward_filter;
      break;
  }
  return plan;
}

void add_channel_bias(const Tensor& out, const Tensor& bias) {
  const std::int64_t n = out.numel();
  const std::int64_t channels = out.dim(1);
  const std::int64_t hw = out.dim(2) * out.dim(3);
  add_channel_bias_kernel<<<grid_blocks(n, kThreads), kThreads>>>(out.data<float>(), bias.data<float>(), n,
                                                                   channels, hw);
  check_launch();
}

// The three cuDNN calls, on tensors of one data type (F32, or bf16 / fp16 for lowp_engine.h); cuDNN's scaling
// factors are float for every one of them. y = x ⋆ w overwrites; dw = beta · dw + (correlation of x with dy);
// dx = (dy convolved with the flipped w) overwrites. Each axis is padded by the same amount on both sides.
void run_forward(const Tensor& y, const Tensor& x, const Tensor& w, int pad_h, int pad_w, int stride) {
  Choice choice;
  const ConvPlan& plan = plan_for(x, w, pad_h, pad_w, stride, Direction::Forward, &choice);
  Workspace workspace(choice.workspace);
  const float one = 1.0f;
  const float zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(cudnn_handle(), &one, plan.in_desc, x.raw(), plan.filter_desc, w.raw(),
                                      plan.conv_desc, static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                                      workspace.data(), workspace.size(), &zero, plan.out_desc, y.raw()));
}

void run_backward_filter(const Tensor& dw, const Tensor& x, const Tensor& dy, int padding, float beta) {
  Choice choice;
  const ConvPlan& plan = plan_for(x, dw, padding, padding, 1, Direction::BackwardFilter, &choice);
  Workspace workspace(choice.workspace);
  const float one = 1.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(), &one, plan.in_desc, x.raw(), plan.out_desc, dy.raw(),
                                             plan.conv_desc,
                                             static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                                             workspace.data(), workspace.size(), &beta, plan.filter_desc, dw.raw()));
}

void run_backward_data(const Tensor& dx, const Tensor& dy, const Tensor& w, int padding) {
  Choice choice;
  const ConvPlan& plan = plan_for(dx, w, padding, padding, 1, Direction::BackwardData, &choice);
  Workspace workspace(choice.workspace);
  const float one = 1.0f;
  const float zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_handle(), &one, plan.filter_desc, w.raw(), plan.out_desc, dy.raw(),
                                           plan.conv_desc, static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                                           workspace.data(), workspace.size(), &zero, plan.in_desc, dx.raw()));
}

// out = in ⋆ weight (+ bias), each axis padded by the same amount on both sides. in.numel() == 0 (Cin = 0, or an
// empty image made non-empty by padding): every product is with zero, out = bias.
void convolve_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int pad_h,
                      int pad_w, int stride) {
  if (out.numel() == 0) return;
  if (in.numel() == 0) {
    memset_zero(out.data<float>(), out.nbytes());
  } else {
    run_forward(out, in, weight, pad_h, pad_w, stride);
  }
  if (bias.defined()) add_channel_bias(out, bias);
}

// A copy of in (B, C, H, W) with `window`'s zero padding made explicit: (B, C, H + top + bottom, W + left + right).
Tensor zero_padded(const Tensor& in, const ConvWindow& window) {
  const std::int64_t planes = in.dim(0) * in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t out_h = h + window.pad_top + window.pad_bottom;
  const std::int64_t out_w = w + window.pad_left + window.pad_right;
  const Tensor out = Tensor::empty({in.dim(0), in.dim(1), out_h, out_w}, DType::F32, Device::CUDA);
  if (out.numel() == 0) return out;
  zero_pad_kernel<<<grid_blocks(out.numel(), kThreads), kThreads>>>(out.data<float>(), in.data<float>(), planes, h,
                                                                    w, window.pad_top, window.pad_left, out_h, out_w);
  check_launch();
  return out;
}

}  // namespace

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  convolve_forward(out, in, weight, bias, padding, padding, 1);
}

// Symmetric along each axis (pad_h may differ from pad_w): cuDNN pads by itself. Otherwise the padding is made
// explicit first (see the file comment); the buffer goes back to the caching allocator when this returns, which is
// safe since everything that reads it is queued before any later user on the default stream.
void conv2d_window_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                           const ConvWindow& window) {
  if (out.numel() == 0) return;
  const bool symmetric_per_axis = window.pad_top == window.pad_bottom && window.pad_left == window.pad_right;
  if (symmetric_per_axis || in.numel() == 0) {  // an empty input: out = bias whatever the padding
    convolve_forward(out, in, weight, bias, window.pad_top, window.pad_left, window.stride);
  } else {
    convolve_forward(out, zero_padded(in, window), weight, bias, 0, 0, window.stride);
  }
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  const std::int64_t batch = d_out.dim(0);
  const std::int64_t out_channels = d_out.dim(1);
  const std::int64_t out_hw = d_out.dim(2) * d_out.dim(3);
  if (d_bias.defined() && d_out.numel() > 0) {  // d_bias (Cout) += Σ_{b, y, x} d_out
    channel_sum_accumulate_kernel<<<static_cast<unsigned int>(out_channels), kThreads>>>(
        d_bias.data<float>(), d_out.data<float>(), batch, out_channels, out_hw);
    check_launch();
  }
  if (d_out.numel() == 0) {
    // No output element depends on the input: d_in = 0, and nothing is added to d_weight.
    if (d_in.defined() && d_in.numel() > 0) memset_zero(d_in.data<float>(), d_in.nbytes());
    return;
  }
  if (in.numel() == 0) return;  // d_in and d_weight are empty, or the input is all padding (zero products)

  // d_weight += correlation of in with d_out (beta = 1: accumulate).
  if (d_weight.defined()) run_backward_filter(d_weight, in, d_out, padding, 1.0f);
  // d_in = full convolution of d_out with the flipped weight (overwrite).
  if (d_in.defined()) run_backward_data(d_in, d_out, weight, padding);
}

// ---- the reduced-precision primitives (lowp_engine.h) ----------------------------------------------------------

void cudnn_conv_forward(const Tensor& y, const Tensor& x, const Tensor& w, int padding) {
  if (y.numel() == 0) return;
  if (x.numel() == 0) return memset_zero(y.raw(), y.nbytes());
  run_forward(y, x, w, padding, padding, 1);
}

void cudnn_conv_backward_data(const Tensor& dx, const Tensor& dy, const Tensor& w, int padding) {
  if (dx.numel() == 0) return;
  if (dy.numel() == 0) return memset_zero(dx.raw(), dx.nbytes());
  run_backward_data(dx, dy, w, padding);
}

void cudnn_conv_backward_filter(const Tensor& dw, const Tensor& x, const Tensor& dy, int padding) {
  if (dw.numel() == 0) return;
  if (x.numel() == 0 || dy.numel() == 0) return memset_zero(dw.raw(), dw.nbytes());
  run_backward_filter(dw, x, dy, padding, 0.0f);
}

void add_conv_bias(const Tensor& out, const Tensor& bias) {
  if (out.numel() > 0 && bias.defined()) add_channel_bias(out, bias);
}

}  // namespace bigcolor::cuda
