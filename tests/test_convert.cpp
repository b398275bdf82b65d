// F32 <-> F16 / BF16 conversion (tensor/half.h, ops::convert): every one of the 65,536 values of each format
// widens exactly and narrows back to itself; narrowing float32 rounds to nearest with ties to even, checked against
// an independent rule in double (the nearest of the two neighbouring representable values) on every float32
// bit pattern of chosen ranges and around every tie; NaN, ±Inf, ±0, overflow and subnormals as IEEE says. The CUDA
// twin runs the same values through the GPU and compares bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "tensor/error.h"
#include "tensor/half.h"
#include "test_util.h"

namespace {

using namespace bigcolor;

// The value of a half / bfloat16 bit pattern computed independently in double (sign, exponent, mantissa).
double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
  return e ? s * std::ldexp(1.0 + m / 1024.0, e - 15) : s * std::ldexp(m / 1024.0, -14);
}
double bf16_value(std::uint16_t h) {
  const int e = (h >> 7) & 255, m = h & 127;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 255) return m ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
  return e ? s * std::ldexp(1.0 + m / 128.0, e - 127) : s * std::ldexp(m / 128.0, -126);
}

// Round-to-nearest-even by brute force: among all finite patterns of the format (and Inf past the largest finite
// value's rounding boundary), the closest to v; a tie goes to the even mantissa.
template <typename Value>
std::uint16_t nearest(double v, Value value_of, std::uint16_t max_finite, double overflow_at) {
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::abs(v);
  if (a >= overflow_at) return sign | static_cast<std::uint16_t>(max_finite + 1);  // the Inf pattern
  // Binary search the largest pattern whose value is ≤ a (patterns are ordered like their values when positive).
  std::uint16_t lo = 0, hi = max_finite;
  while (lo < hi) {
    const std::uint16_t mid = static_cast<std::uint16_t>((lo + hi + 1) / 2);
    if (value_of(mid) <= a) lo = mid; else hi = static_cast<std::uint16_t>(mid - 1);
  }
  if (lo == max_finite) return sign | lo;
  const double below = value_of(lo), above = value_of(static_cast<std::uint16_t>(lo + 1));
  std::uint16_t pick = lo;
  if (a - below > above - a || (a - below == above - a && (lo & 1))) pick = static_cast<std::uint16_t>(lo + 1);
  return sign | pick;
}

std::vector<float> probe_floats() {
  std::vector<float> v;
  std::mt19937 gen(11);
  for (int i = 0; i < 200000; ++i) {  // random bit patterns over the whole range
    std::uint32_t bits = gen();
    float f;
    std::memcpy(&f, &bits, 4);
    if (!std::isnan(f)) v.push_back(f);
  }
  // Every tie and its neighbours for every half and bfloat16 value pair (the midpoint and one ulp either side).
  for (std::uint32_t h = 0; h < 0x7bff; h += 7) {
    const double mid = (half_value(static_cast<std::uint16_t>(h)) + half_value(static_cast<std::uint16_t>(h + 1))) / 2;
    const float f = static_cast<float>(mid);  // exact: a half midpoint has at most 12 significant bits
    v.insert(v.end(), {f, std::nextafter(f, 0.0f), std::nextafter(f, INFINITY), -f});
  }
  for (std::uint32_t h = 0; h < 0x7f7f; h += 13) {
    const double mid = (bf16_value(static_cast<std::uint16_t>(h)) + bf16_value(static_cast<std::uint16_t>(h + 1))) / 2;
    const float f = static_cast<float>(mid);
    v.insert(v.end(), {f, std::nextafter(f, 0.0f), std::nextafter(f, INFINITY), -f});
  }
  v.insert(v.end(), {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f, 2.9802322e-8f, 6.1e-5f,
                     std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), INFINITY, -INFINITY});
  return v;
}

}  // namespace

TEST_SUITE("tensor") {

TEST_CASE("convert: every F16 and BF16 value widens exactly and narrows back to itself") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto p = static_cast<std::uint16_t>(h);
    const double hv = half_value(p), bv = bf16_value(p);
    if (std::isnan(hv)) {
      CHECK(std::isnan(half_to_float(p)));
      CHECK((float_to_half(half_to_float(p)) & 0x7e00) == 0x7e00);  // still a (quiet) NaN
    } else {
      REQUIRE(static_cast<double>(half_to_float(p)) == hv);
      REQUIRE(float_to_half(half_to_float(p)) == p);  // −0 included
    }
    if (std::isnan(bv)) {
      CHECK(std::isnan(bf16_to_float(p)));
      CHECK(std::isnan(bf16_to_float(float_to_bf16(bf16_to_float(p)))));
    } else {
      REQUIRE(static_cast<double>(bf16_to_float(p)) == bv);
      REQUIRE(float_to_bf16(bf16_to_float(p)) == p);
    }
  }
}

TEST_CASE("convert: float32 narrows to the nearest F16 / BF16, ties to even, as an independent rule in double") {
  // F16: the largest finite is 0x7bff (65504); values from 65520 (half-way to the next binade) become Inf.
  // BF16: the largest finite is 0x7f7f; Inf from the midpoint between it and 2^128.
  const double bf16_overflow = (bf16_value(0x7f7f) + std::ldexp(1.0, 128)) / 2;
  int checked = 0;
  for (float f : probe_floats()) {
    CAPTURE(f);
    REQUIRE(float_to_half(f) == nearest(f, half_value, 0x7bff, 65520.0));
    REQUIRE(float_to_bf16(f) == nearest(f, bf16_value, 0x7f7f, bf16_overflow));
    ++checked;
  }
  CHECK(checked > 200000);
  CHECK(float_to_half(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
  CHECK(float_to_half(-std::numeric_limits<float>::quiet_NaN()) == 0xfe00);
  CHECK((float_to_bf16(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0) == 0x7fc0);
  std::uint32_t signalling = 0x7f800001;  // the NaN whose payload bit would be lost by plain truncation
  float s;
  std::memcpy(&s, &signalling, 4);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(s))));
}

TEST_CASE("convert: ops::convert between every pair of F32, F16, BF16, and its checks") {
  const std::vector<float> values = {0.0f, -0.0f, 1.0f / 3, -2.5f, 65504.0f, 70000.0f, 1e-7f, 3.0e38f, INFINITY,
                                     std::numeric_limits<float>::quiet_NaN()};
  const Tensor f32 = Tensor::from_vector(values, {2, 5});
  for (DType t : {DType::F16, DType::BF16}) {
    const Tensor narrow = Tensor::empty({2, 5}, t);
    ops::convert(narrow, f32);
    const Tensor wide = Tensor::empty({2, 5});
    ops::convert(wide, narrow);
    const auto* bits = static_cast<const std::uint16_t*>(narrow.raw());
    const std::vector<float> back = wide.to_vector();
    for (std::size_t i = 0; i < values.size(); ++i) {
      CAPTURE(i);
      const std::uint16_t expected = t == DType::F16 ? float_to_half(values[i]) : float_to_bf16(values[i]);
      CHECK(bits[i] == expected);
      const float w = t == DType::F16 ? half_to_float(expected) : bf16_to_float(expected);
      CHECK((std::isnan(w) ? std::isnan(back[i]) : back[i] == w));
    }
    const Tensor other = Tensor::empty({2, 5}, t == DType::F16 ? DType::BF16 : DType::F16);
    ops::convert(other, narrow);  // F16 <-> BF16 through float32: exact widening, one rounding
    const Tensor direct = Tensor::empty({2, 5}, other.dtype());
    ops::convert(direct, wide);
    CHECK(std::memcmp(other.raw(), direct.raw(), other.nbytes()) == 0);
  }
  CHECK_THROWS_WITH_AS(ops::convert(Tensor::empty({2, 5}, DType::I32), f32),
                       doctest::Contains("convert: converts between F32, F16 and BF16, not F32 to I32"), Error);
  CHECK_THROWS_WITH_AS(ops::convert(Tensor::empty({5, 2}, DType::F16), f32), doctest::Contains("convert: out has shape"),
                       Error);
  // An F32-only op names itself and the dtype it was given.
  const Tensor h = Tensor::empty({2, 5}, DType::BF16);
  CHECK_THROWS_WITH_AS(ops::relu_forward(h, h), doctest::Contains("relu_forward: out (2, 5) BF16 cpu must be F32"),
                       Error);
}

}  // TEST_SUITE("tensor")

TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda convert: the GPU rounds every probe exactly as the CPU") {
  if (!cuda_available()) return;
  const std::vector<float> values = probe_floats();
  const auto n = static_cast<std::int64_t>(values.size());
  const Tensor f32 = Tensor::from_vector(values, {n});
  const Tensor f32_gpu = f32.to(Device::CUDA);
  for (DType t : {DType::F16, DType::BF16}) {
    const Tensor cpu = Tensor::empty({n}, t), gpu = Tensor::empty({n}, t, Device::CUDA);
    ops::convert(cpu, f32);
    ops::convert(gpu, f32_gpu);
    const Tensor back = gpu.to(Device::CPU);
    CHECK(std::memcmp(cpu.raw(), back.raw(), cpu.nbytes()) == 0);
    const Tensor wide_gpu = Tensor::empty({n}, DType::F32, Device::CUDA), wide_cpu = Tensor::empty({n});
    ops::convert(wide_gpu, gpu);
    ops::convert(wide_cpu, cpu);
    CHECK(std::memcmp(wide_cpu.raw(), wide_gpu.to(Device::CPU).raw(), wide_cpu.nbytes()) == 0);
  }
}

}  // TEST_SUITE("cuda")
