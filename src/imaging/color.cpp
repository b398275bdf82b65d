#include "imaging/color.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "imaging/lab_math.h"
#include "tensor/error.h"

namespace bigcolor {
namespace {

using lab::kFourOver29;
using lab::kInvGamma;
using lab::kWhiteX;
using lab::kWhiteY;
using lab::kWhiteZ;

// Checks a (..., 3, H, W) F32 CPU tensor; returns (number of images, H * W).
std::pair<std::int64_t, std::int64_t> check_three_channels(const Tensor& t, const char* what) {
  BIGCOLOR_CHECK(t.defined(), what, ": undefined input");
  BIGCOLOR_CHECK(t.device() == Device::CPU && t.dtype() == DType::F32 && t.ndim() >= 3 && t.dim(-3) == 3, what,
                 ": needs a (..., 3, H, W) F32 CPU tensor, got ", t.describe());
  const std::int64_t hw = t.dim(-2) * t.dim(-1);
  return {hw == 0 ? 0 : t.numel() / (3 * hw), hw};
}

float linear_to_srgb(float v) {
  return v > 0.0031308f ? 1.055f * std::pow(std::max(v, 0.0031308f), kInvGamma) - 0.055f : 12.92f * v;
}

float lab_f_inverse(float f) {
  return f > 0.2068966f ? f * f * f : (f - kFourOver29) / 7.787f;
}

}  // namespace

Tensor rgb_to_lab(const Tensor& rgb) {
  // Plain variables, not a structured binding: OpenMP regions cannot capture bindings in clang 14.
  const auto extent = check_three_channels(rgb, "rgb_to_lab");
  const std::int64_t images = extent.first, hw = extent.second;
  Tensor out = Tensor::empty(rgb.shape());
  const float* in = rgb.data<float>();
  float* o = out.data<float>();
  const std::int64_t total = images * hw;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (std::int64_t k = 0; k < total; ++k) {
    const std::int64_t n = k / hw, i = k % hw;
    const float* p = in + n * 3 * hw + i;
    const lab::Pixel px = lab::pixel(p[0], p[hw], p[2 * hw]);
    float* q = o + n * 3 * hw + i;
    q[0] = lab::lightness(px);
    q[hw] = lab::a_of(px);
    q[2 * hw] = lab::b_of(px);
  }
  return out;
}

Tensor lab_to_rgb(const Tensor& lab, bool clip) {
  // Plain variables, not a structured binding: OpenMP regions cannot capture bindings in clang 14.
  const auto extent = check_three_channels(lab, "lab_to_rgb");
  const std::int64_t images = extent.first, hw = extent.second;
  Tensor out = Tensor::empty(lab.shape());
  const float* in = lab.data<float>();
  float* o = out.data<float>();
  const std::int64_t total = images * hw;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (std::int64_t k = 0; k < total; ++k) {
    const std::int64_t n = k / hw, i = k % hw;
    const float* p = in + n * 3 * hw + i;
    const float fy = (p[0] + 16.0f) / 116.0f;
    const float fx = p[hw] / 500.0f + fy;
    float fz = fy - p[2 * hw] / 200.0f;
    fz = fz < 0.0f ? 0.0f : fz;  // torch.clamp(min=0): NaN stays NaN
    const float x = lab_f_inverse(fx) * kWhiteX, y = lab_f_inverse(fy) * kWhiteY, z = lab_f_inverse(fz) * kWhiteZ;
    const float r = 3.2404813432005266f * x + -1.5371515162713185f * y + -0.4985363261688878f * z;
    const float g = -0.9692549499965682f * x + 1.8759900014898907f * y + 0.0415559265582928f * z;
    const float b = 0.0556466391351772f * x + -0.2040413383665112f * y + 1.0573110696453443f * z;
    float* q = o + n * 3 * hw + i;
    float c[3] = {linear_to_srgb(r), linear_to_srgb(g), linear_to_srgb(b)};
    for (int ch = 0; ch < 3; ++ch) {
      float v = c[ch];
      if (clip) v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
      q[ch * hw] = v;
    }
  }
  return out;
}

Tensor lab_fusion(const Tensor& gray, const Tensor& rgb) {
  BIGCOLOR_CHECK(gray.defined() && rgb.defined(), "lab_fusion: undefined input");
  const bool batched = gray.ndim() == 4;
  const Tensor g = batched && gray.dim(0) == 1 ? gray.reshape({gray.dim(1), gray.dim(2), gray.dim(3)}) : gray;
  const Tensor c = rgb.ndim() == 4 && rgb.dim(0) == 1 ? rgb.reshape({rgb.dim(1), rgb.dim(2), rgb.dim(3)}) : rgb;
  BIGCOLOR_CHECK(g.device() == Device::CPU && g.dtype() == DType::F32 && g.ndim() == 3 && g.dim(0) == 1,
                 "lab_fusion: gray must be a (1, H, W) F32 CPU tensor, got ", gray.describe());
  BIGCOLOR_CHECK(c.device() == Device::CPU && c.dtype() == DType::F32 && c.ndim() == 3 && c.dim(0) == 3,
                 "lab_fusion: rgb must be a (3, H, W) F32 CPU tensor, got ", rgb.describe());
  BIGCOLOR_CHECK(g.dim(1) == c.dim(1) && g.dim(2) == c.dim(2), "lab_fusion: gray ", gray.describe(),
                 " and rgb ", rgb.describe(), " differ in size");
  const std::int64_t hw = g.dim(1) * g.dim(2);
  Tensor lab = rgb_to_lab(c);
  float* l = lab.data<float>();
  const float* gv = g.data<float>();
  for (std::int64_t i = 0; i < hw; ++i) l[i] = gv[i] * 100.0f;
  return lab_to_rgb(lab, true);
}

Image to_image(const Tensor& chw) {
  BIGCOLOR_CHECK(chw.defined(), "to_image: undefined tensor");
  const bool batched = chw.ndim() == 4 && chw.dim(0) == 1;
  BIGCOLOR_CHECK(chw.dtype() == DType::F32 && (chw.ndim() == 3 || batched), "to_image: needs a (C, H, W) or "
                 "(1, C, H, W) F32 tensor, got ", chw.describe());
  const int off = batched ? 1 : 0;
  const std::int64_t c = chw.dim(off), h = chw.dim(off + 1), w = chw.dim(off + 2);
  BIGCOLOR_CHECK(c == 1 || c == 3, "to_image: needs 1 or 3 channels, got ", chw.describe());
  BIGCOLOR_CHECK(h > 0 && w > 0 && h <= 65536 && w <= 65536, "to_image: unsupported size ", chw.describe());
  const std::vector<float> v = chw.to_vector();
  Image image;
  image.channels = static_cast<int>(c);
  image.height = static_cast<int>(h);
  image.width = static_cast<int>(w);
  image.pixels.resize(v.size());
  const std::size_t hw = static_cast<std::size_t>(h * w);
  for (std::size_t ch = 0; ch < static_cast<std::size_t>(c); ++ch) {
    for (std::size_t i = 0; i < hw; ++i) {
      const float x = v[ch * hw + i];
      image.pixels[i * c + ch] = x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;  // NaN -> 0
    }
  }
  return image;
}

}  // namespace bigcolor
