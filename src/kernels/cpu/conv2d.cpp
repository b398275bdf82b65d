// 2-D convolution on the CPU: im2col + SGEMM, stride 1, zero padding.
//
// For one image, out (Cout, OH·OW) = W (Cout, K) · col (K, OH·OW), K = Cin·KH·KW, where row (c, ky, kx) of col
// holds the input shifted by (ky - p, kx - p). col for a whole 256×256 image would be hundreds of MB, so the
// output rows are processed in chunks whose col buffer stays under kColBudgetBytes (the GEMMs stay large enough
// to run near the BLAS peak). A 1×1 convolution without padding needs no col at all: it is W · in directly.
#include <algorithm>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {

constexpr std::int64_t kColBudgetBytes = 32ll << 20;

struct ConvGeometry {
  std::int64_t batch, in_c, h, w, out_c, kh, kw, out_h, out_w, pad;
  std::int64_t k() const { return in_c * kh * kw; }
  bool pointwise() const { return kh == 1 && kw == 1 && pad == 0; }
  // Output rows per chunk so that col (K, rows·OW) fits the budget.
  std::int64_t chunk_rows() const {
    std::int64_t rows = kColBudgetBytes / (4 * k() * out_w);
    return std::clamp<std::int64_t>(rows, 1, out_h);
  }
};

ConvGeometry geometry(const Tensor& in, const Tensor& weight, int padding) {
  ConvGeometry g{in.dim(0), in.dim(1), in.dim(2), in.dim(3), weight.dim(0), weight.dim(2), weight.dim(3), 0, 0,
                 padding};
  g.out_h = g.h + 2 * g.pad - g.kh + 1;
  g.out_w = g.w + 2 * g.pad - g.kw + 1;
  return g;
}

// col (K, rows·OW) for output rows [y0, y0 + rows) of one image `in` (Cin, H, W).
void im2col(float* col, const float* in, const ConvGeometry& g, std::int64_t y0, std::int64_t rows) {
  const std::int64_t n = rows * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < g.k(); ++r) {
    const std::int64_t c = r / (g.kh * g.kw), ky = (r / g.kw) % g.kh, kx = r % g.kw;
    float* dst = col + r * n;
    for (std::int64_t y = 0; y < rows; ++y) {
      const std::int64_t iy = y0 + y + ky - g.pad;
      float* dst_row = dst + y * g.out_w;
      if (iy < 0 || iy >= g.h) {
        std::fill(dst_row, dst_row + g.out_w, 0.0f);
        continue;
      }
      const float* src_row = in + (c * g.h + iy) * g.w;
      for (std::int64_t x = 0; x < g.out_w; ++x) {
        const std::int64_t ix = x + kx - g.pad;
        dst_row[x] = (ix >= 0 && ix < g.w) ? src_row[ix] : 0.0f;
      }
    }
  }
}

// The adjoint of im2col: adds col (K, rows·OW) into d_in (Cin, H, W). Parallel over input channels, whose rows of
// col touch disjoint parts of d_in.
void col2im_add(float* d_in, const float* col, const ConvGeometry& g, std::int64_t y0, std::int64_t rows) {
  const std::int64_t n = rows * g.out_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.in_c; ++c) {
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const float* src = col + ((c * g.kh + ky) * g.kw + kx) * n;
        for (std::int64_t y = 0; y < rows; ++y) {
          const std::int64_t iy = y0 + y + ky - g.pad;
          if (iy < 0 || iy >= g.h) continue;
          float* dst_row = d_in + (c * g.h + iy) * g.w;
          const float* src_row = src + y * g.out_w;
          for (std::int64_t x = 0; x < g.out_w; ++x) {
            const std::int64_t ix = x + kx - g.pad;
            if (ix >= 0 && ix < g.w) dst_row[ix] += src_row[x];
          }
        }
      }
    }
  }
}

}  // namespace

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  const ConvGeometry g = geometry(in, weight, padding);
  const std::int64_t out_hw = g.out_h * g.out_w;
  const float* w = weight.data<float>();  // (Cout, K)
  std::vector<float> col(g.pointwise() ? 0 : static_cast<std::size_t>(g.k() * g.chunk_rows() * g.out_w));
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const float* x = in.data<float>() + b * g.in_c * g.h * g.w;  // (Cin, H, W)
    float* y = out.data<float>() + b * g.out_c * out_hw;         // (Cout, OH·OW)
    if (g.pointwise()) {
      sgemm(false, false, g.out_c, out_hw, g.k(), 1.0f, w, g.k(), x, out_hw, 0.0f, y, out_hw);
    } else {
      for (std::int64_t y0 = 0; y0 < g.out_h; y0 += g.chunk_rows()) {
        const std::int64_t rows = std::min(g.chunk_rows(), g.out_h - y0);
        im2col(col.data(), x, g, y0, rows);
        sgemm(false, false, g.out_c, rows * g.out_w, g.k(), 1.0f, w, g.k(), col.data(), rows * g.out_w, 0.0f,
              y + y0 * g.out_w, out_hw);
      }
    }
    if (bias.defined()) {
      const float* bb = bias.data<float>();
#pragma omp parallel for schedule(static)
      for (std::int64_t c = 0; c < g.out_c; ++c)
        for (std::int64_t i = 0; i < out_hw; ++i) y[c * out_hw + i] += bb[c];
    }
  }
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  const ConvGeometry g = geometry(in, weight, padding);
  const std::int64_t out_hw = g.out_h * g.out_w;
  const float* w = weight.data<float>();  // (Cout, K)
  if (d_in.defined()) d_in.zero();        // overwritten: zeroed here, then accumulated chunk by chunk
  std::vector<float> col(g.pointwise() ? 0 : static_cast<std::size_t>(g.k() * g.chunk_rows() * g.out_w));
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const float* x = in.data<float>() + b * g.in_c * g.h * g.w;   // (Cin, H, W)
    const float* dy = d_out.data<float>() + b * g.out_c * out_hw;  // (Cout, OH·OW)
    if (d_bias.defined()) {
      float* db = d_bias.data<float>();
      for (std::int64_t c = 0; c < g.out_c; ++c) {
        double s = 0.0;
        for (std::int64_t i = 0; i < out_hw; ++i) s += dy[c * out_hw + i];
        db[c] += static_cast<float>(s);
      }
    }
    if (g.pointwise()) {
      if (d_weight.defined())  // dW (Cout, Cin) += dy (Cout, HW) · xᵀ (HW, Cin)
        sgemm(false, true, g.out_c, g.k(), out_hw, 1.0f, dy, out_hw, x, out_hw, 1.0f, d_weight.data<float>(), g.k());
      if (d_in.defined())  // dx (Cin, HW) = Wᵀ (Cin, Cout) · dy (Cout, HW)
        sgemm(true, false, g.k(), out_hw, g.out_c, 1.0f, w, g.k(), dy, out_hw, 0.0f,
              d_in.data<float>() + b * g.in_c * g.h * g.w, out_hw);
      continue;
    }
    for (std::int64_t y0 = 0; y0 < g.out_h; y0 += g.chunk_rows()) {
      const std::int64_t rows = std::min(g.chunk_rows(), g.out_h - y0);
      const std::int64_t n = rows * g.out_w;
      const float* dy_chunk = dy + y0 * g.out_w;  // (Cout, n) with row stride OH·OW
      if (d_weight.defined()) {  // dW (Cout, K) += dy (Cout, n) · colᵀ (n, K)
        im2col(col.data(), x, g, y0, rows);
        sgemm(false, true, g.out_c, g.k(), n, 1.0f, dy_chunk, out_hw, col.data(), n, 1.0f, d_weight.data<float>(),
              g.k());
      }
      if (d_in.defined()) {  // dcol (K, n) = Wᵀ (K, Cout) · dy (Cout, n), then scattered back
        sgemm(true, false, g.k(), n, g.out_c, 1.0f, w, g.k(), dy_chunk, out_hw, 0.0f, col.data(), n);
        col2im_add(d_in.data<float>() + b * g.in_c * g.h * g.w, col.data(), g, y0, rows);
      }
    }
  }
}

}  // namespace bigcolor::cpu
