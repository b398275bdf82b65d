#include "imaging/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/error.h"

namespace bigcolor {
namespace {

// One output coordinate's two source taps and weights along one axis.
struct Taps {
  std::int64_t i0 = 0;
  std::int64_t i1 = 0;
  float w0 = 1.0f;
  float w1 = 0.0f;
};

std::vector<Taps> axis_taps(std::int64_t in, std::int64_t out) {
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  if (in == out) {
    for (std::int64_t o = 0; o < out; ++o) taps[static_cast<std::size_t>(o)] = {o, o, 1.0f, 0.0f};
    return taps;
  }
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const std::int64_t i0 = std::min(static_cast<std::int64_t>(std::floor(src)), in - 1);
    const float lambda = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    Taps& t = taps[static_cast<std::size_t>(o)];
    t.i0 = i0;
    t.i1 = i0 + (i0 < in - 1 ? 1 : 0);
    t.w1 = lambda;
    t.w0 = 1.0f - lambda;
  }
  return taps;
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, int out_h, int out_w) {
  BIGCOLOR_CHECK(x.defined(), "resize_bilinear: undefined input");
  BIGCOLOR_CHECK(x.device() == Device::CPU && x.dtype() == DType::F32 && x.ndim() == 4,
                 "resize_bilinear: needs a (B, C, H, W) F32 CPU tensor, got ", x.describe());
  BIGCOLOR_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size ", out_h, " x ", out_w, " is not positive");
  const std::int64_t planes = x.dim(0) * x.dim(1), in_h = x.dim(2), in_w = x.dim(3);
  BIGCOLOR_CHECK(in_h > 0 && in_w > 0, "resize_bilinear: empty input ", x.describe());
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), out_h, out_w});
  if (in_h == out_h && in_w == out_w) {
    out.copy_from(x);
    return out;
  }
  const std::vector<Taps> ty = axis_taps(in_h, out_h), tx = axis_taps(in_w, out_w);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  const std::int64_t rows = planes * out_h;
#pragma omp parallel for schedule(static) if (rows * out_w > 65536)
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t p = r / out_h, oy = r % out_h;
    const Taps& y = ty[static_cast<std::size_t>(oy)];
    const float* row0 = src + (p * in_h + y.i0) * in_w;
    const float* row1 = src + (p * in_h + y.i1) * in_w;
    float* o = dst + r * out_w;
    for (std::int64_t ox = 0; ox < out_w; ++ox) {
      const Taps& t = tx[static_cast<std::size_t>(ox)];
      // PyTorch's order: each row's horizontal blend, then the vertical blend of the two.
      const float top = row0[t.i0] * t.w0 + row0[t.i1] * t.w1;
      const float bottom = row1[t.i0] * t.w0 + row1[t.i1] * t.w1;
      o[ox] = top * y.w0 + bottom * y.w1;
    }
  }
  return out;
}

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "powerof") return ResizeMode::PowerOf;
  if (name == "square") return ResizeMode::Square;
  if (name == "original") return ResizeMode::Original;
  if (name == "absolute") return ResizeMode::Absolute;
  throw OptionError("unknown resize mode '" + name + "' (powerof, square, original or absolute)");
}

const char* resize_mode_name(ResizeMode mode) {
  switch (mode) {
    case ResizeMode::PowerOf: return "powerof";
    case ResizeMode::Square: return "square";
    case ResizeMode::Original: return "original";
    case ResizeMode::Absolute: return "absolute";
  }
  return "?";
}

ImageSize model_input_size(int in_h, int in_w, ResizeMode mode, int size_target, int num_power) {
  BIGCOLOR_CHECK(in_h > 0 && in_w > 0, "model_input_size: input size ", in_h, " x ", in_w, " is not positive");
  BIGCOLOR_CHECK(size_target > 0, "model_input_size: size_target ", size_target, " is not positive");
  constexpr double kMaxSide = 1 << 20;
  ImageSize size;
  switch (mode) {
    case ResizeMode::Original:
      size = {in_h, in_w};
      break;
    case ResizeMode::Square:
      size = {size_target, size_target};
      break;
    case ResizeMode::Absolute: {
      const bool portrait = in_w <= in_h;
      const std::int64_t short_side = portrait ? in_w : in_h, long_side = portrait ? in_h : in_w;
      if (short_side == size_target) {
        size = {in_h, in_w};
        break;
      }
      // Python: int(size * long / short): an exact integer product, a double division, truncation.
      const double new_long = static_cast<double>(std::int64_t{size_target} * long_side) /
                              static_cast<double>(short_side);
      BIGCOLOR_CHECK(new_long < kMaxSide, "model_input_size: absolute resize of ", in_h, " x ", in_w, " to ",
                     size_target, " gives a side over 2^20 pixels");
      const int longer = static_cast<int>(new_long);
      BIGCOLOR_CHECK(longer > 0, "model_input_size: absolute resize of ", in_h, " x ", in_w, " to ", size_target,
                     " gives an empty side");
      size = portrait ? ImageSize{longer, size_target} : ImageSize{size_target, longer};
      break;
    }
    case ResizeMode::PowerOf: {
      BIGCOLOR_CHECK(num_power >= 0 && num_power <= 10, "model_input_size: num_power ", num_power,
                     " is not in 0..10");
      const int unit = 1 << num_power;
      BIGCOLOR_CHECK(size_target % unit == 0, "model_input_size: size_target ", size_target,
                     " is not a multiple of 2^", num_power, " = ", unit);
      const int long_side = std::max(in_h, in_w), short_side = std::min(in_h, in_w);
      // Python: ceil((long * (size_target / short)) / 2**num_power), each step in double precision.
      const double units = std::ceil((static_cast<double>(long_side) *
                                      (static_cast<double>(size_target) / static_cast<double>(short_side))) /
                                     static_cast<double>(unit));
      BIGCOLOR_CHECK(units * unit < kMaxSide, "model_input_size: powerof resize of ", in_h, " x ", in_w,
                     " gives a side over 2^20 pixels");
      const int longer = static_cast<int>(units) * unit;
      size = in_w > in_h ? ImageSize{size_target, longer} : ImageSize{longer, size_target};
      break;
    }
  }
  BIGCOLOR_CHECK(size.height <= kMaxSide && size.width <= kMaxSide, "model_input_size: size ", size.height, " x ",
                 size.width, " is over 2^20 pixels a side");
  return size;
}

}  // namespace bigcolor
