// The upsampling convolution out = conv3x3(upsample_nearest2x(in), weight, padding 1) + bias on the CPU, without
// the upsampled tensor.
//
// Forward: four output phases. With U = upsample(in), U[Y] = in[Y/2], output row Y = 2i + a reads U rows
// 2i + a + ky − 1, i.e. input rows i + ⌊(a + ky − 1)/2⌋: for a = 0, tap row 0 reads row i − 1 and tap rows 1, 2
// read row i; for a = 1, tap rows 0, 1 read row i and tap row 2 reads row i + 1 (columns likewise with b). So
// phase (a, b) is a 2×2 convolution of the 1-padded input P with its own kernel of summed taps
//   K_ab[r][s] = Σ_{ky ∈ rows(a, r)} Σ_{kx ∈ rows(b, s)} w[ky][kx],   rows(0,0)={0}, rows(0,1)={1,2},
//                                                                    rows(1,0)={0,1}, rows(1,1)={2},
//   out[2i + a][2j + b] = Σ_{r,s} K_ab[r][s] · P[i + a + r][j + b + s]
// (16 multiply-adds per output pair of channels and input pixel instead of 36). Each (phase, tap) is one GEMM on a
// contiguous slice of P, as in conv2d.cpp ("shifted GEMMs": junk columns at the end of each padded row, dropped
// when the phase is interleaved into out).
//
// Backward: with G = d_out, the gradient reaching U is a 3×3 correlation, and the upsample's backward sums it over
// 2×2 blocks; grouped by input pixel this gives, for every tap (ky, kx), a "pooled" map
//   D_t[co][y][x] = Σ_{Y ∈ R(ky, y)} Σ_{X ∈ R(kx, x)} G[co][Y][X],   R(0, y) = {2y+1, 2y+2}, R(1, y) = {2y, 2y+1},
//                                                                   R(2, y) = {2y−1, 2y}   (rows outside: zero)
// (the four output pixels whose tap t reads input pixel (y, x)), and then, with no spatial shift at all,
//   d_in[ci][p]          = Σ_{co, t} w[co][ci][t] · D_t[co][p]    one GEMM (Cin × 9·Cout) · (9·Cout × pixels)
//   d_weight[co][ci][t] += Σ_p D_t[co][p] · in[ci][p]              one GEMM (9·Cout × pixels) · (pixels × Cin)
// 9 multiply-adds per channel pair and input pixel for each of the two. Pixels are processed in bands of rows so the
// pooled maps stay small (about 8 MB).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {

struct UpconvGeometry {
  std::int64_t batch, in_c, h, w, out_c;
  std::int64_t padded_w() const { return w + 2; }
  // One 1-padded plane plus 2 floats of slack: the last junk column of the last row reads that far.
  std::int64_t plane() const { return (h + 2) * padded_w() + 2; }
  std::int64_t in_hw() const { return h * w; }
  std::int64_t out_hw() const { return 4 * h * w; }
};

UpconvGeometry geometry(const Tensor& in, const Tensor& weight) {
  return {in.dim(0), in.dim(1), in.dim(2), in.dim(3), weight.dim(0)};
}

// Which 2×2 tap (0 or 1) of phase `a` the 3×3 tap `k` is summed into: ⌊(a + k + 1)/2⌋ − a.
constexpr int phase_tap(int a, int k) { return (a + k + 1) / 2 - a; }

// The 4 kernels of phase (a, b) (tap = 2r + s), each a contiguous (Cout, Cin) matrix:
// kernels[(tap · Cout + co) · Cin + ci].
void phase_kernels(float* k, const float* w, const UpconvGeometry& g, int a, int b) {
  const std::int64_t matrix = g.out_c * g.in_c;
#pragma omp parallel for schedule(static)
  for (std::int64_t o = 0; o < g.out_c; ++o)
    for (std::int64_t c = 0; c < g.in_c; ++c) {
      const float* v = w + (o * g.in_c + c) * 9;
      float sums[4] = {};
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) sums[2 * phase_tap(a, ky) + phase_tap(b, kx)] += v[3 * ky + kx];
      for (int t = 0; t < 4; ++t) k[t * matrix + o * g.in_c + c] = sums[t];
    }
}

// padded (Cin, plane) <- image (Cin, H, W), zeros around.
void pad_image(float* padded, const float* image, const UpconvGeometry& g) {
  const std::int64_t wp = g.padded_w();
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < g.in_c; ++c) {
    float* dst = padded + c * g.plane();
    std::fill(dst, dst + g.plane(), 0.0f);
    for (std::int64_t y = 0; y < g.h; ++y)
      std::memcpy(dst + (y + 1) * wp + 1, image + (c * g.h + y) * g.w, sizeof(float) * g.w);
  }
}

// Rows of `in` per band so that 9·Cout·rows·W floats (the pooled maps) stay near 2M.
std::int64_t band_rows(const UpconvGeometry& g) {
  constexpr std::int64_t kBudget = std::int64_t{1} << 21;
  return std::clamp<std::int64_t>(kBudget / std::max<std::int64_t>(9 * g.out_c * g.w, 1), 1, std::max<std::int64_t>(g.h, 1));
}

// pooled (9, Cout, rows·W) <- the maps D_t of input rows y0 … y0+rows−1 from dy (Cout, 2H, 2W); tap t = 3·ky + kx.
void pool_taps(float* pooled, const float* dy, const UpconvGeometry& g, std::int64_t y0, std::int64_t rows) {
  const std::int64_t ow = 2 * g.w, oh = 2 * g.h, n = rows * g.w;
#pragma omp parallel for schedule(static)
  for (std::int64_t o = 0; o < g.out_c; ++o) {
    std::vector<float> pair(static_cast<std::size_t>(ow + 2));  // row-pair sum, one zero column each side
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t y = y0 + r;
      for (int ky = 0; ky < 3; ++ky) {
        std::fill(pair.begin(), pair.end(), 0.0f);
        for (std::int64_t yy = 2 * y + 1 - ky; yy <= 2 * y + 2 - ky; ++yy) {  // R(ky, y) = {2y+1−ky, 2y+2−ky}
          if (yy < 0 || yy >= oh) continue;
          const float* src = dy + (o * oh + yy) * ow;
          for (std::int64_t x = 0; x < ow; ++x) pair[x + 1] += src[x];
        }
        for (int kx = 0; kx < 3; ++kx) {  // columns 2x+1−kx and 2x+2−kx, i.e. pair[2x+2−kx] and pair[2x+3−kx]
          float* dst = pooled + ((3 * ky + kx) * g.out_c + o) * n + r * g.w;
          for (std::int64_t x = 0; x < g.w; ++x) dst[x] = pair[2 * x + 2 - kx] + pair[2 * x + 3 - kx];
        }
      }
    }
  }
}

}  // namespace

void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  const UpconvGeometry g = geometry(in, weight);
  if (g.batch == 0 || g.out_c == 0 || g.h == 0 || g.w == 0) return;
  const float* bs = bias.defined() ? bias.data<float>() : nullptr;
  const std::int64_t wp = g.padded_w(), ow = 2 * g.w;
  if (g.in_c == 0) {  // no input channels: the bias alone
    for (std::int64_t i = 0; i < g.batch; ++i)
      for (std::int64_t o = 0; o < g.out_c; ++o)
        std::fill_n(out.data<float>() + (i * g.out_c + o) * g.out_hw(), g.out_hw(), bs ? bs[o] : 0.0f);
    return;
  }
  // Phase by phase (its 4 summed kernels built once, 4·Cout·Cin floats), sample by sample, band by band.
  std::vector<float> kernels(static_cast<std::size_t>(4 * g.out_c * g.in_c));
  const std::int64_t chunk_rows = std::clamp<std::int64_t>(4096 / wp, 1, g.h);
  std::vector<float> padded(static_cast<std::size_t>(g.in_c * g.plane()));
  std::vector<float> chunk(static_cast<std::size_t>(g.out_c * chunk_rows * wp));  // O' (Cout, rows·Wp)
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      phase_kernels(kernels.data(), weight.data<float>(), g, a, b);
      for (std::int64_t i = 0; i < g.batch; ++i) {
        pad_image(padded.data(), in.data<float>() + i * g.in_c * g.in_hw(), g);
        float* y = out.data<float>() + i * g.out_c * g.out_hw();
        for (std::int64_t y0 = 0; y0 < g.h; y0 += chunk_rows) {
          const std::int64_t rows = std::min(chunk_rows, g.h - y0), n = rows * wp;
          for (int r = 0; r < 2; ++r)
            for (int s = 0; s < 2; ++s) {  // O' (Cout, n) += K_ab[r][s] (Cout, Cin) · P[:, (y0+a+r)·Wp + b+s …]
              const int tap = 2 * r + s;
              sgemm(false, false, g.out_c, n, g.in_c, 1.0f, kernels.data() + tap * g.out_c * g.in_c, g.in_c,
                    padded.data() + (y0 + a + r) * wp + b + s, g.plane(), tap == 0 ? 0.0f : 1.0f, chunk.data(), n);
            }
#pragma omp parallel for schedule(static)
          for (std::int64_t o = 0; o < g.out_c; ++o)  // interleave the phase into out, drop junk, add bias
            for (std::int64_t r = 0; r < rows; ++r) {
              const float* src = chunk.data() + o * n + r * wp;
              float* dst = y + (o * 2 * g.h + 2 * (y0 + r) + a) * ow + b;
              const float add = bs ? bs[o] : 0.0f;
              for (std::int64_t x = 0; x < g.w; ++x) dst[2 * x] = src[x] + add;
            }
        }
      }
    }
}

void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight) {
  const UpconvGeometry g = geometry(in, weight);
  if (d_bias.defined()) {
    float* db = d_bias.data<float>();
    for (std::int64_t o = 0; o < g.out_c; ++o) {
      double s = 0.0;
      for (std::int64_t i = 0; i < g.batch; ++i) {
        const float* src = d_out.data<float>() + (i * g.out_c + o) * g.out_hw();
        for (std::int64_t k = 0; k < g.out_hw(); ++k) s += src[k];
      }
      db[o] += static_cast<float>(s);
    }
  }
  if (!d_in.defined() && !d_weight.defined()) return;
  if (g.out_c == 0 || g.in_c == 0 || g.h == 0 || g.w == 0) {  // empty sums: d_in is zero, d_weight unchanged
    if (d_in.defined()) d_in.zero();
    return;
  }
  const std::int64_t taps_c = 9 * g.out_c;  // rows of the pooled maps: (tap, co)
  // wt (9·Cout, Cin): row t·Cout + co holds w[co][:][t], the A operand of d_in = wtᵀ · D.
  std::vector<float> wt(d_in.defined() ? static_cast<std::size_t>(taps_c * g.in_c) : 0);
  if (d_in.defined())
    for (std::int64_t o = 0; o < g.out_c; ++o)
      for (std::int64_t c = 0; c < g.in_c; ++c)
        for (int t = 0; t < 9; ++t) wt[(t * g.out_c + o) * g.in_c + c] = weight.data<float>()[(o * g.in_c + c) * 9 + t];
  std::vector<float> dwt(d_weight.defined() ? static_cast<std::size_t>(taps_c * g.in_c) : 0, 0.0f);  // same layout
  const std::int64_t rows_per_band = band_rows(g);
  std::vector<float> pooled(static_cast<std::size_t>(taps_c * rows_per_band * g.w));
  for (std::int64_t i = 0; i < g.batch; ++i) {
    const float* dy = d_out.data<float>() + i * g.out_c * g.out_hw();
    const float* x = in.data<float>() + i * g.in_c * g.in_hw();
    for (std::int64_t y0 = 0; y0 < g.h; y0 += rows_per_band) {
      const std::int64_t rows = std::min(rows_per_band, g.h - y0), n = rows * g.w;
      pool_taps(pooled.data(), dy, g, y0, rows);
      if (d_in.defined())  // d_in[:, band] (Cin × n) = wtᵀ (Cin × 9·Cout) · D (9·Cout × n)
        sgemm(true, false, g.in_c, n, taps_c, 1.0f, wt.data(), g.in_c, pooled.data(), n, 0.0f,
              d_in.data<float>() + i * g.in_c * g.in_hw() + y0 * g.w, g.in_hw());
      if (d_weight.defined())  // dwt (9·Cout × Cin) += D (9·Cout × n) · in[:, band]ᵀ (n × Cin)
        sgemm(false, true, taps_c, g.in_c, n, 1.0f, pooled.data(), n, x + y0 * g.w, g.in_hw(), 1.0f, dwt.data(),
              g.in_c);
    }
  }
  if (d_weight.defined()) {
    float* dw = d_weight.data<float>();
    for (std::int64_t o = 0; o < g.out_c; ++o)
      for (std::int64_t c = 0; c < g.in_c; ++c)
        for (int t = 0; t < 9; ++t) dw[(o * g.in_c + c) * 9 + t] += dwt[(t * g.out_c + o) * g.in_c + c];
  }
}

}  // namespace bigcolor::cpu
