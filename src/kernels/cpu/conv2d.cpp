// 2-D convolution on the CPU as "shifted GEMMs": stride 1, zero padding p, any kernel size.
//
// The image is copied once into a zero-padded buffer P (Cin, Hp·Wp), Hp = H + 2p, Wp = W + 2p. Output pixel
// (y, x) reads P at flat position (y + ky)·Wp + (x + kx) for tap (ky, kx), i.e. at y·Wp + x plus a constant offset
// ky·Wp + kx. So, computed over a "padded-width" output O' (Cout, OH·Wp) whose last Wp − OW columns of each row
// are junk, every tap is ONE plain GEMM on a contiguous slice of P:
//     O' (Cout, n) += W_t (Cout, Cin) · P[:, offset_t + y0·Wp : … + n]
// No im2col matrix (9× the input) is ever written; the junk columns cost (Wp − OW)/Wp extra work (1% at 256²).
// The backward passes use the same slices: dW_t += dO' · Pᵀ and dP += W_tᵀ · dO' (dO' with zero junk columns).
// Output rows are processed in chunks of about kChunkColumns columns so O' stays in cache across the taps.
// A 1×1 convolution without padding is a single GEMM on the input itself.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {

constexpr std::int64_t kChunkColumns = 4096;

struct ConvGeometry {
  std::int64_t batch, in_c, h, w, out_c, kh, kw, out_h, out_w, pad;
  std::int64_t taps() const { return kh * kw; }
  std::int64_t padded_w() const { return w + 2 * pad; }
  // One padded plane, plus kw − 1 zeros of slack: the last junk column of the last row reads that far past it.
  std::int64_t plane() const { return (h + 2 * pad) * padded_w() + kw - 1; }
  std::int64_t tap_offset(std::int64_t t) const { return (t / kw) * padded_w() + t % kw; }
  bool pointwise() const { return kh == 1 && kw == 1 && pad == 0; }
  std::int64_t chunk_rows() const { return std::clamp<std::int64_t>(kChunkColumns / padded_w(), 1, out_h); }
};

ConvGeometry geometry(const Tensor& in, const Tensor& weight, int padding) {
  ConvGeometry g{in.dim(0), in.dim(1), in.dim(2), in.dim(3), weight.dim(0), weight.dim(2), weight.dim(3), 0, 0,
                 padding};
  g.out_h = g.h + 2 * g.pad - g.kh + 1;
  g.out_w = g.w + 2 * g.pad - g.kw + 1;
  return g;
}

// padded (Cin, plane) <- image (Cin, H, W), zeros around.
void pad_image(float* padded, const float* image, const ConvGeometry& g) {
  const std::int64_t wp = g.padded_w();
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.in_c; ++c) {
    float* dst = padded + c * g.plane();
    std::fill(dst, dst + g.plane(), 0.0f);
    for (std::int64_t y = 0; y < g.h; ++y)
      std::memcpy(dst + (y + g.pad) * wp + g.pad, image + (c * g.h + y) * g.w, sizeof(float) * g.w);
  }
}

// image (Cin, H, W) <- the interior of padded (Cin, plane).
void crop_image(float* image, const float* padded, const ConvGeometry& g) {
  const std::int64_t wp = g.padded_w();
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.in_c; ++c)
    for (std::int64_t y = 0; y < g.h; ++y)
      std::memcpy(image + (c * g.h + y) * g.w, padded + c * g.plane() + (y + g.pad) * wp + g.pad,
                  sizeof(float) * g.w);
}

// taps (KH·KW, Cout, Cin) <- weight (Cout, Cin, KH, KW): each tap's matrix contiguous, as GEMM needs it.
std::vector<float> weight_taps(const float* w, const ConvGeometry& g) {
  std::vector<float> taps(static_cast<std::size_t>(g.taps() * g.out_c * g.in_c));
  for (std::int64_t o = 0; o < g.out_c; ++o)
    for (std::int64_t c = 0; c < g.in_c; ++c)
      for (std::int64_t t = 0; t < g.taps(); ++t)
        taps[(t * g.out_c + o) * g.in_c + c] = w[(o * g.in_c + c) * g.taps() + t];
  return taps;
}

}  // namespace

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding) {
  const ConvGeometry g = geometry(in, weight, padding);
  const std::int64_t out_hw = g.out_h * g.out_w, wp = g.padded_w();
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  if (g.pointwise()) {
    for (std::int64_t i = 0; i < g.batch; ++i) {
      float* y = out.data<float>() + i * g.out_c * out_hw;  // (Cout, HW) = W (Cout, Cin) · x (Cin, HW)
      sgemm(false, false, g.out_c, out_hw, g.in_c, 1.0f, weight.data<float>(), g.in_c,
            in.data<float>() + i * g.in_c * out_hw, out_hw, 0.0f, y, out_hw);
      if (b)
        for (std::int64_t o = 0; o < g.out_c; ++o)
          for (std::int64_t k = 0; k < out_hw; ++k) y[o * out_hw + k] += b[o];
    }
    return;
  }
  const std::vector<float> taps = weight_taps(weight.data<float>(), g);
  std::vector<float> padded(static_cast<std::size_t>(g.in_c * g.plane()));        // (Cin, plane)
  std::vector<float> chunk(static_cast<std::size_t>(g.out_c * g.chunk_rows() * wp));  // O' (Cout, rows·Wp)
  for (std::int64_t i = 0; i < g.batch; ++i) {
    pad_image(padded.data(), in.data<float>() + i * g.in_c * g.h * g.w, g);
    float* y = out.data<float>() + i * g.out_c * out_hw;  // (Cout, OH, OW)
    for (std::int64_t y0 = 0; y0 < g.out_h; y0 += g.chunk_rows()) {
      const std::int64_t rows = std::min(g.chunk_rows(), g.out_h - y0), n = rows * wp;
      for (std::int64_t t = 0; t < g.taps(); ++t)
        sgemm(false, false, g.out_c, n, g.in_c, 1.0f, taps.data() + t * g.out_c * g.in_c, g.in_c,
              padded.data() + g.tap_offset(t) + y0 * wp, g.plane(), t == 0 ? 0.0f : 1.0f, chunk.data(), n);
#pragma omp parallel for schedule(static)
      for (std::int64_t o = 0; o < g.out_c; ++o)  // drop the junk columns, add the bias
        for (std::int64_t r = 0; r < rows; ++r) {
          const float* src = chunk.data() + o * n + r * wp;
          float* dst = y + (o * g.out_h + y0 + r) * g.out_w;
          const float add = b ? b[o] : 0.0f;
          for (std::int64_t x = 0; x < g.out_w; ++x) dst[x] = src[x] + add;
        }
    }
  }
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding) {
  const ConvGeometry g = geometry(in, weight, padding);
  const std::int64_t out_hw = g.out_h * g.out_w, in_hw = g.h * g.w, wp = g.padded_w();
  if (d_bias.defined()) {
    float* db = d_bias.data<float>();
    for (std::int64_t o = 0; o < g.out_c; ++o) {
      double s = 0.0;
      for (std::int64_t i = 0; i < g.batch; ++i)
        for (std::int64_t k = 0; k < out_hw; ++k) s += d_out.data<float>()[(i * g.out_c + o) * out_hw + k];
      db[o] += static_cast<float>(s);
    }
  }
  if (g.pointwise()) {
    for (std::int64_t i = 0; i < g.batch; ++i) {
      const float* x = in.data<float>() + i * g.in_c * in_hw;      // (Cin, HW)
      const float* dy = d_out.data<float>() + i * g.out_c * out_hw;  // (Cout, HW)
      if (d_weight.defined())  // dW (Cout, Cin) += dy · xᵀ
        sgemm(false, true, g.out_c, g.in_c, out_hw, 1.0f, dy, out_hw, x, in_hw, 1.0f, d_weight.data<float>(), g.in_c);
      if (d_in.defined())  // dx (Cin, HW) = Wᵀ · dy
        sgemm(true, false, g.in_c, in_hw, g.out_c, 1.0f, weight.data<float>(), g.in_c, dy, out_hw, 0.0f,
              d_in.data<float>() + i * g.in_c * in_hw, in_hw);
    }
    return;
  }
  if (!d_in.defined() && !d_weight.defined()) return;
  const std::vector<float> taps = weight_taps(weight.data<float>(), g);
  std::vector<float> d_taps(d_weight.defined() ? taps.size() : 0);                    // (taps, Cout, Cin)
  std::vector<float> padded(static_cast<std::size_t>(g.in_c * g.plane()));            // P or dP
  std::vector<float> chunk(static_cast<std::size_t>(g.out_c * g.chunk_rows() * wp));  // dO' (Cout, rows·Wp)
  for (std::int64_t i = 0; i < g.batch; ++i) {
    const float* dy = d_out.data<float>() + i * g.out_c * out_hw;  // (Cout, OH, OW)
    for (int pass = 0; pass < 2; ++pass) {  // pass 0: dW from P; pass 1: dP, then cropped into d_in
      if ((pass == 0 && !d_weight.defined()) || (pass == 1 && !d_in.defined())) continue;
      if (pass == 0)
        pad_image(padded.data(), in.data<float>() + i * g.in_c * in_hw, g);
      else
        std::fill(padded.begin(), padded.end(), 0.0f);
      for (std::int64_t y0 = 0; y0 < g.out_h; y0 += g.chunk_rows()) {
        const std::int64_t rows = std::min(g.chunk_rows(), g.out_h - y0), n = rows * wp;
#pragma omp parallel for schedule(static)
        for (std::int64_t o = 0; o < g.out_c; ++o)  // dO' with zero junk columns
          for (std::int64_t r = 0; r < rows; ++r) {
            float* dst = chunk.data() + o * n + r * wp;
            std::memcpy(dst, dy + (o * g.out_h + y0 + r) * g.out_w, sizeof(float) * g.out_w);
            std::fill(dst + g.out_w, dst + wp, 0.0f);
          }
        for (std::int64_t t = 0; t < g.taps(); ++t) {
          float* slice = padded.data() + g.tap_offset(t) + y0 * wp;
          if (pass == 0)  // dW_t (Cout, Cin) += dO' (Cout, n) · P_sliceᵀ (n, Cin)
            sgemm(false, true, g.out_c, g.in_c, n, 1.0f, chunk.data(), n, slice, g.plane(), 1.0f,
                  d_taps.data() + t * g.out_c * g.in_c, g.in_c);
          else  // dP_slice (Cin, n) += W_tᵀ (Cin, Cout) · dO' (Cout, n)
            sgemm(true, false, g.in_c, n, g.out_c, 1.0f, taps.data() + t * g.out_c * g.in_c, g.in_c, chunk.data(),
                  n, 1.0f, slice, g.plane());
        }
      }
      if (pass == 1) crop_image(d_in.data<float>() + i * g.in_c * in_hw, padded.data(), g);
    }
  }
  if (d_weight.defined()) {
    float* dw = d_weight.data<float>();  // (Cout, Cin, KH, KW) += taps layout
    for (std::int64_t o = 0; o < g.out_c; ++o)
      for (std::int64_t c = 0; c < g.in_c; ++c)
        for (std::int64_t t = 0; t < g.taps(); ++t)
          dw[(o * g.in_c + c) * g.taps() + t] += d_taps[(t * g.out_c + o) * g.in_c + c];
  }
}

}  // namespace bigcolor::cpu
