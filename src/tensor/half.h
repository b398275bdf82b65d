// IEEE binary16 (F16) and bfloat16 (BF16) <-> float32, for host and device code (a .cu file includes this too).
//   float -> F16/BF16: round to nearest, ties to even; ±Inf stay ±Inf; NaN stays NaN (quiet, sign kept);
//   F16: values from 65520 up round to Inf (65504 is the largest finite), results below 2^-14 are subnormals
//   (exact to the nearest multiple of 2^-24), below 2^-25 they flush to ±0 by that same rounding.
//   F16/BF16 -> float: exact (every value of both formats is a float32).
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define BIGCOLOR_HOST_DEVICE __host__ __device__
#else
#define BIGCOLOR_HOST_DEVICE
#endif

namespace bigcolor {

BIGCOLOR_HOST_DEVICE inline std::uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

BIGCOLOR_HOST_DEVICE inline float bits_float(std::uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

BIGCOLOR_HOST_DEVICE inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  // Adding 0x7fff plus the lowest kept bit rounds the dropped 16 bits to nearest, ties to even; a carry into the
  // exponent is right (it is the rounding up), and the largest finite values round up to Inf as they should.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

BIGCOLOR_HOST_DEVICE inline float bf16_to_float(std::uint16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

BIGCOLOR_HOST_DEVICE inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u;  // NaN: quiet
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // Inf, and every value that rounds to 65520 or above
  if (x < 0x38800000u) {
    // Below 2^-14: a subnormal (or zero) half, m · 2^-24 with m = the value · 2^24 rounded to nearest even. The
    // product is exact in float32 (a power-of-two scale), and adding then subtracting 2^23 rounds it to an integer
    // with float32's own round-to-nearest-even (the magnitude is below 2^10, far under 2^23).
    const float scaled = bits_float(x) * 16777216.0f;
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<std::uint16_t>(rounded);
  }
  // A normal half: rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest even; a carry
  // out of the mantissa moves to the next binade, as rounding up should.
  x += 0xc8000fffu + ((x >> 13) & 1u);
  return sign | static_cast<std::uint16_t>(x >> 13);
}

BIGCOLOR_HOST_DEVICE inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // Inf, NaN (payload kept)
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  // ±0 and subnormals: mant · 2^-24, exact in float32.
  const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

// One of the two 16-bit formats, picked by a flag (true: bf16, false: IEEE half), for code that serves both.
BIGCOLOR_HOST_DEVICE inline std::uint16_t float_to_16bit(float f, bool bf16) {
  return bf16 ? float_to_bf16(f) : float_to_half(f);
}
BIGCOLOR_HOST_DEVICE inline float float_from_16bit(std::uint16_t h, bool bf16) {
  return bf16 ? bf16_to_float(h) : half_to_float(h);
}

}  // namespace bigcolor
