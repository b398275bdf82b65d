// Pointwise ops and the last-axis softmax on the CPU. Loops are OpenMP-parallel; all shapes are equal (checked).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "imaging/lab_math.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
// out[i] = f(i) for every element, in parallel.
template <typename F>
void for_each_element(const Tensor& out, F f) {
  float* o = out.data<float>();
  const std::int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) o[i] = f(i);
}
}  // namespace

void relu_forward(const Tensor& out, const Tensor& in) {
  const float* x = in.data<float>();
  for_each_element(out, [x](std::int64_t i) { return x[i] > 0.0f ? x[i] : 0.0f; });
}

void relu_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const float* g = d_out.data<float>();
  const float* y = out.data<float>();
  for_each_element(d_in, [g, y](std::int64_t i) { return y[i] > 0.0f ? g[i] : 0.0f; });
}

void tanh_forward(const Tensor& out, const Tensor& in) {
  const float* x = in.data<float>();
  for_each_element(out, [x](std::int64_t i) { return std::tanh(x[i]); });
}

void tanh_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const float* g = d_out.data<float>();
  const float* y = out.data<float>();
  for_each_element(d_in, [g, y](std::int64_t i) { return g[i] * (1.0f - y[i] * y[i]); });
}

void add_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for_each_element(out, [x, y](std::int64_t i) { return x[i] + y[i]; });
}

void add_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out) {
  if (d_a.defined()) d_a.copy_from(d_out);
  if (d_b.defined()) d_b.copy_from(d_out);
}

namespace {
// f(n, i, p) for every pixel i of every image n of in (B, 3, H, W), in parallel; p points at its r (g, b: hw and
// 2·hw further).
template <typename F>
void for_each_rgb_pixel(const Tensor& in, F f) {
  const float* x = in.data<float>();
  const std::int64_t hw = in.dim(2) * in.dim(3), total = in.dim(0) * hw;
#pragma omp parallel for schedule(static) if (total > 16384)
  for (std::int64_t k = 0; k < total; ++k) f(k / hw, k % hw, x + (k / hw) * 3 * hw + k % hw);
}
}  // namespace

// (B, 3, H, W) -> (B, 2, H, W), the Lab transform of imaging/lab_math.h.
void rgb_to_ab_forward(const Tensor& out, const Tensor& in) {
  float* o = out.data<float>();
  const std::int64_t hw = in.dim(2) * in.dim(3);
  for_each_rgb_pixel(in, [o, hw](std::int64_t n, std::int64_t i, const float* p) {
    const lab::Pixel px = lab::pixel(p[0], p[hw], p[2 * hw]);
    o[n * 2 * hw + i] = lab::a_of(px);
    o[n * 2 * hw + hw + i] = lab::b_of(px);
  });
}

void rgb_to_ab_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  const float* g = d_out.data<float>();
  float* d = d_in.data<float>();
  const std::int64_t hw = in.dim(2) * in.dim(3);
  for_each_rgb_pixel(in, [g, d, hw](std::int64_t n, std::int64_t i, const float* p) {
    float rgb[3];
    lab::ab_backward(p[0], p[hw], p[2 * hw], g[n * 2 * hw + i], g[n * 2 * hw + hw + i], rgb);
    for (int c = 0; c < 3; ++c) d[n * 3 * hw + c * hw + i] = rgb[c];
  });
}

void mul_forward(const Tensor& out, const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for_each_element(out, [x, y](std::int64_t i) { return x[i] * y[i]; });
}

void mul_backward(const Tensor& d_a, const Tensor& d_b, const Tensor& d_out, const Tensor& a, const Tensor& b) {
  const float* g = d_out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  if (d_a.defined()) for_each_element(d_a, [g, y](std::int64_t i) { return g[i] * y[i]; });
  if (d_b.defined()) for_each_element(d_b, [g, x](std::int64_t i) { return g[i] * x[i]; });
}

void scale_forward(const Tensor& out, const Tensor& in, float factor) {
  const float* x = in.data<float>();
  for_each_element(out, [x, factor](std::int64_t i) { return x[i] * factor; });
}

void scale_backward(const Tensor& d_in, const Tensor& d_out, float factor) { scale_forward(d_in, d_out, factor); }

void softmax_forward(const Tensor& out, const Tensor& in) {
  const std::int64_t cols = in.dim(-1), rows = in.numel() / std::max<std::int64_t>(cols, 1);
  const float* x = in.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float max = *std::max_element(xr, xr + cols);  // subtracted so exp never overflows
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      yr[j] = std::exp(xr[j] - max);
      sum += yr[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// d_in = y ⊙ (g − ⟨g, y⟩) per row.
void softmax_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& out) {
  const std::int64_t cols = out.dim(-1), rows = out.numel() / std::max<std::int64_t>(cols, 1);
  const float* g = d_out.data<float>();
  const float* y = out.data<float>();
  float* dx = d_in.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    double dot = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) dot += static_cast<double>(g[r * cols + j]) * y[r * cols + j];
    for (std::int64_t j = 0; j < cols; ++j)
      dx[r * cols + j] = y[r * cols + j] * (g[r * cols + j] - static_cast<float>(dot));
  }
}

}  // namespace bigcolor::cpu

namespace bigcolor::cpu {

void copy_columns(const Tensor& dst, std::int64_t dst_offset, const Tensor& src, std::int64_t src_offset,
                  std::int64_t width) {
  const std::int64_t rows = dst.dim(0), dst_cols = dst.dim(1), src_cols = src.dim(1);
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(dst.data<float>() + r * dst_cols + dst_offset, src.data<float>() + r * src_cols + src_offset,
                sizeof(float) * width);
}

}  // namespace bigcolor::cpu
