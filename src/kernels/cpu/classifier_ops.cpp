// CPU twins of the classifiers' forward-only ops (kernels/inference_signatures.inc).
//
// conv2d_window_forward: a stride-1 convolution with the same padding on every side is the "shifted GEMMs"
// convolution of conv2d.cpp; everything else (stride 2, TF "same" padding) is im2col + one GEMM per image:
//   cols (Cin·KH·KW, OH·OW), row (c, i, j) holding in[c, y·s + i − top, x·s + j − left] (0 outside), then
//   out (Cout, OH·OW) = W (Cout, Cin·KH·KW) · cols.
// In the classifiers those are the stems and the 3×3 stride-2 convolutions, whose im2col is small (ResNet-D's
// largest: 1152 × 784 floats at 224²).
// depthwise_conv2d_forward: direct loops, one (image, channel) plane per OpenMP task; each output row adds, per
// tap, a scaled (strided) slice of one input row over the range of x that stays inside the input, so no bounds
// test runs in the inner loop.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {

// The x range [x0, x1) of output columns whose tap j reads inside an input row of width w:
// 0 ≤ x·s + j − left < w.
void valid_columns(std::int64_t out_w, std::int64_t w, int stride, std::int64_t j, int left, std::int64_t& x0,
                   std::int64_t& x1) {
  const std::int64_t first = left - j;  // x·s ≥ left − j
  x0 = first <= 0 ? 0 : (first + stride - 1) / stride;
  const std::int64_t last = w - 1 + left - j;  // x·s ≤ w − 1 + left − j
  x1 = last < 0 ? 0 : std::min(out_w, last / stride + 1);
  if (x1 < x0) x1 = x0;
}

void im2col(float* cols, const float* image, std::int64_t in_c, std::int64_t h, std::int64_t w, std::int64_t kh,
            std::int64_t kw, std::int64_t out_h, std::int64_t out_w, const ConvWindow& win) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < in_c * kh * kw; ++row) {
    const std::int64_t c = row / (kh * kw), i = (row / kw) % kh, j = row % kw;
    float* dst = cols + row * out_h * out_w;
    std::int64_t x0 = 0, x1 = 0;
    valid_columns(out_w, w, win.stride, j, win.pad_left, x0, x1);
    for (std::int64_t y = 0; y < out_h; ++y) {
      float* d = dst + y * out_w;
      const std::int64_t iy = y * win.stride + i - win.pad_top;
      if (iy < 0 || iy >= h) {
        std::fill(d, d + out_w, 0.0f);
        continue;
      }
      const float* src = image + (c * h + iy) * w + (j - win.pad_left);
      std::fill(d, d + x0, 0.0f);
      for (std::int64_t x = x0; x < x1; ++x) d[x] = src[x * win.stride];
      std::fill(d + x1, d + out_w, 0.0f);
    }
  }
}

}  // namespace

void conv2d_window_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                           const ConvWindow& win) {
  if (win.stride == 1 && win.is_symmetric()) return conv2d_forward(out, in, weight, bias, win.pad_top);
  const std::int64_t batch = in.dim(0), in_c = in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t out_c = weight.dim(0), kh = weight.dim(2), kw = weight.dim(3);
  const std::int64_t out_h = out.dim(2), out_w = out.dim(3), out_hw = out_h * out_w, k = in_c * kh * kw;
  std::vector<float> cols(static_cast<std::size_t>(k * out_hw));
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  for (std::int64_t n = 0; n < batch; ++n) {
    im2col(cols.data(), in.data<float>() + n * in_c * h * w, in_c, h, w, kh, kw, out_h, out_w, win);
    float* y = out.data<float>() + n * out_c * out_hw;
    sgemm(false, false, out_c, out_hw, k, 1.0f, weight.data<float>(), k, cols.data(), out_hw, 0.0f, y, out_hw);
    if (b) {
#pragma omp parallel for schedule(static)
      for (std::int64_t o = 0; o < out_c; ++o)
        for (std::int64_t p = 0; p < out_hw; ++p) y[o * out_hw + p] += b[o];
    }
  }
}

void depthwise_conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                              const ConvWindow& win) {
  const std::int64_t batch = in.dim(0), channels = in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t kh = weight.dim(2), kw = weight.dim(3), out_h = out.dim(2), out_w = out.dim(3);
  const int s = win.stride;
  // Per tap column j, the valid output x range (the same for every row and plane).
  std::vector<std::int64_t> x0(static_cast<std::size_t>(kw)), x1(static_cast<std::size_t>(kw));
  for (std::int64_t j = 0; j < kw; ++j) valid_columns(out_w, w, s, j, win.pad_left, x0[j], x1[j]);
#pragma omp parallel for schedule(static)
  for (std::int64_t plane = 0; plane < batch * channels; ++plane) {
    const std::int64_t c = plane % channels;
    const float* x = in.data<float>() + plane * h * w;
    const float* f = weight.data<float>() + c * kh * kw;
    const float b = bias.defined() ? bias.data<float>()[c] : 0.0f;
    float* y = out.data<float>() + plane * out_h * out_w;
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      float* row = y + oy * out_w;
      std::fill(row, row + out_w, b);
      for (std::int64_t i = 0; i < kh; ++i) {
        const std::int64_t iy = oy * s + i - win.pad_top;
        if (iy < 0 || iy >= h) continue;
        for (std::int64_t j = 0; j < kw; ++j) {
          const float tap = f[i * kw + j];
          const float* src = x + iy * w + (j - win.pad_left);
          if (s == 1) {
            for (std::int64_t ox = x0[j]; ox < x1[j]; ++ox) row[ox] += tap * src[ox];
          } else {
            for (std::int64_t ox = x0[j]; ox < x1[j]; ++ox) row[ox] += tap * src[ox * s];
          }
        }
      }
    }
  }
}

void silu_forward(const Tensor& out, const Tensor& in) {
  const float* x = in.data<float>();
  float* y = out.data<float>();
  const std::int64_t n = in.numel();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void channel_gate_forward(const Tensor& out, const Tensor& in, const Tensor& gate) {
  const std::int64_t planes = in.dim(0) * in.dim(1), hw = in.dim(2) * in.dim(3);
  const float* x = in.data<float>();
  const float* g = gate.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float scale = 1.0f / (1.0f + std::exp(-g[p]));
    for (std::int64_t i = 0; i < hw; ++i) y[p * hw + i] = x[p * hw + i] * scale;
  }
}

void maxpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad) {
  const std::int64_t planes = in.dim(0) * in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t out_h = out.dim(2), out_w = out.dim(3);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* x = in.data<float>() + p * h * w;
    float* y = out.data<float>() + p * out_h * out_w;
    for (std::int64_t oy = 0; oy < out_h; ++oy)
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const std::int64_t y0 = std::max<std::int64_t>(oy * stride - pad, 0);
        const std::int64_t y1 = std::min<std::int64_t>(oy * stride - pad + kernel, h);
        const std::int64_t xa = std::max<std::int64_t>(ox * stride - pad, 0);
        const std::int64_t xb = std::min<std::int64_t>(ox * stride - pad + kernel, w);
        float m = -std::numeric_limits<float>::infinity();
        for (std::int64_t iy = y0; iy < y1; ++iy)
          for (std::int64_t ix = xa; ix < xb; ++ix) m = std::max(m, x[iy * w + ix]);
        y[oy * out_w + ox] = m;
      }
  }
}

void avgpool2d_ceil_forward(const Tensor& out, const Tensor& in, int kernel, int stride) {
  const std::int64_t planes = in.dim(0) * in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t out_h = out.dim(2), out_w = out.dim(3);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* x = in.data<float>() + p * h * w;
    float* y = out.data<float>() + p * out_h * out_w;
    for (std::int64_t oy = 0; oy < out_h; ++oy)
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const std::int64_t y0 = oy * stride, y1 = std::min<std::int64_t>(y0 + kernel, h);
        const std::int64_t xa = ox * stride, xb = std::min<std::int64_t>(xa + kernel, w);
        float s = 0.0f;
        for (std::int64_t iy = y0; iy < y1; ++iy)
          for (std::int64_t ix = xa; ix < xb; ++ix) s += x[iy * w + ix];
        y[oy * out_w + ox] = s / static_cast<float>((y1 - y0) * (xb - xa));
      }
  }
}

void avgpool2d_forward(const Tensor& out, const Tensor& in, int kernel, int stride, int pad, bool count_include_pad) {
  const std::int64_t planes = in.dim(0) * in.dim(1), h = in.dim(2), w = in.dim(3);
  const std::int64_t out_h = out.dim(2), out_w = out.dim(3);
  const float full = static_cast<float>(kernel * kernel);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* x = in.data<float>() + p * h * w;
    float* y = out.data<float>() + p * out_h * out_w;
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      const std::int64_t y0 = std::max<std::int64_t>(oy * stride - pad, 0);
      const std::int64_t y1 = std::min<std::int64_t>(oy * stride - pad + kernel, h);
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const std::int64_t xa = std::max<std::int64_t>(ox * stride - pad, 0);
        const std::int64_t xb = std::min<std::int64_t>(ox * stride - pad + kernel, w);
        float s = 0.0f;
        for (std::int64_t iy = y0; iy < y1; ++iy)
          for (std::int64_t ix = xa; ix < xb; ++ix) s += x[iy * w + ix];
        y[oy * out_w + ox] = s / (count_include_pad ? full : static_cast<float>((y1 - y0) * (xb - xa)));
      }
    }
  }
}

}  // namespace bigcolor::cpu
