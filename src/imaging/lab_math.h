// The per-pixel CIE Lab arithmetic of the official utils/color_models.py (float32, the same operations in the same
// order), shared by imaging/color.cpp (rgb_to_lab for colorize's fusion and eval's a/b error) and the rgb_to_ab op
// (the trainer's a/b loss, CPU and CUDA), so that the loss a model is trained on and the score it is judged by are
// one computation. Host and device code: only float arithmetic and powf.
//
// rgb -> linear: x > 0.04045 ? ((x + 0.055) / 1.055)^2.4 : x / 12.92; XYZ = M · linear (M the 0.412453 ... 0.950227
// matrix), divided by the D65 white (0.95047, 1.0, 1.08883); f(t) = t > 0.008856 ? t^(1/3) : 7.787 t + 4/29;
// L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz).
#pragma once

#include <cmath>

#include "tensor/half.h"  // BIGCOLOR_HOST_DEVICE

namespace bigcolor::lab {

constexpr float kWhiteX = 0.95047f, kWhiteY = 1.0f, kWhiteZ = 1.08883f;
constexpr float kFourOver29 = static_cast<float>(4.0 / 29.0);
constexpr float kOneThird = static_cast<float>(1.0 / 3.0);
constexpr float kInvGamma = static_cast<float>(1.0 / 2.4);

// M (linear sRGB -> XYZ), row by row: kXr is X's weight of r. Scalars, not an array: device code can read a
// namespace-scope constexpr scalar, not an array indexed at run time.
constexpr float kXr = 0.412453f, kXg = 0.357580f, kXb = 0.180423f;
constexpr float kYr = 0.212671f, kYg = 0.715160f, kYb = 0.072169f;
constexpr float kZr = 0.019334f, kZg = 0.119193f, kZb = 0.950227f;

BIGCOLOR_HOST_DEVICE inline float srgb_to_linear(float x) {
  return x > 0.04045f ? powf((x + 0.055f) / 1.055f, 2.4f) : x / 12.92f;
}

// d linear / d x. Above the knee 2.4 / 1.055 · ((x + 0.055) / 1.055)^1.4.
BIGCOLOR_HOST_DEVICE inline float srgb_to_linear_slope(float x) {
  return x > 0.04045f ? (2.4f / 1.055f) * powf((x + 0.055f) / 1.055f, 1.4f) : 1.0f / 12.92f;
}

BIGCOLOR_HOST_DEVICE inline float f(float t) {
  return t > 0.008856f ? powf(t, kOneThird) : 7.787f * t + kFourOver29;
}

// d f / d t, given t and f(t): above the knee t^(-2/3) / 3 = f / (3 t) (t > 0.008856 there, so no division by 0).
BIGCOLOR_HOST_DEVICE inline float f_slope(float t, float ft) { return t > 0.008856f ? ft / (3.0f * t) : 7.787f; }

// What the Lab transform needs of one pixel: the arguments of f (X/Xw, Y/Yw, Z/Zw) and their f values.
struct Pixel {
  float t[3];
  float ft[3];
};

BIGCOLOR_HOST_DEVICE inline Pixel pixel(float r, float g, float b) {
  const float lr = srgb_to_linear(r), lg = srgb_to_linear(g), lb = srgb_to_linear(b);
  const float x = kXr * lr + kXg * lg + kXb * lb;
  const float y = kYr * lr + kYg * lg + kYb * lb;
  const float z = kZr * lr + kZg * lg + kZb * lb;
  Pixel p{{x / kWhiteX, y / kWhiteY, z / kWhiteZ}, {0.0f, 0.0f, 0.0f}};
  for (int i = 0; i < 3; ++i) p.ft[i] = f(p.t[i]);
  return p;
}

BIGCOLOR_HOST_DEVICE inline float lightness(const Pixel& p) { return 116.0f * p.ft[1] - 16.0f; }
BIGCOLOR_HOST_DEVICE inline float a_of(const Pixel& p) { return 500.0f * (p.ft[0] - p.ft[1]); }
BIGCOLOR_HOST_DEVICE inline float b_of(const Pixel& p) { return 200.0f * (p.ft[1] - p.ft[2]); }

// The adjoint of (r, g, b) -> (a, b): given the gradients of a and b, the gradients of r, g and b (out[3]).
BIGCOLOR_HOST_DEVICE inline void ab_backward(float r, float g, float b, float d_a, float d_b, float* out) {
  const Pixel p = pixel(r, g, b);
  // d/d t: a = 500 (fx - fy), b = 200 (fy - fz).
  const float dt[3] = {500.0f * d_a * f_slope(p.t[0], p.ft[0]),
                       (200.0f * d_b - 500.0f * d_a) * f_slope(p.t[1], p.ft[1]),
                       -200.0f * d_b * f_slope(p.t[2], p.ft[2])};
  const float dx = dt[0] / kWhiteX, dy = dt[1] / kWhiteY, dz = dt[2] / kWhiteZ;
  // Mᵀ · d XYZ, then the gamma's slope.
  out[0] = (kXr * dx + kYr * dy + kZr * dz) * srgb_to_linear_slope(r);
  out[1] = (kXg * dx + kYg * dy + kZg * dz) * srgb_to_linear_slope(g);
  out[2] = (kXb * dx + kYb * dy + kZb * dz) * srgb_to_linear_slope(b);
}

}  // namespace bigcolor::lab
