// Seeded random numbers, identical on every machine and compiler.
//
// Algorithm: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), a counter-based
// generator: block k of four 32-bit words is philox(key = seed, counter = k). Words are consumed in order.
//   uniform(): (word >> 8) · 2^-24, in [0, 1), exactly representable in float32.
//   normal():  Box-Muller on two uniforms u1, u2: sqrt(-2 ln(1 - u1)) · cos(2π u2), then the sine of the same
//              pair on the next call (the pair is computed in double and rounded to float).
// The stream depends only on the seed and on how many values were drawn before, never on threads or devices:
// fill_* on a CUDA tensor draws on the host and copies.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace bigcolor {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)} {}

  std::uint32_t next_u32();
  float uniform();                     // [0, 1)
  float uniform(float low, float high);
  float normal();                      // N(0, 1)
  float normal(float mean, float stddev) { return mean + stddev * normal(); }

  void fill_uniform(const Tensor& t, float low, float high);  // F32 tensor, any device
  void fill_normal(const Tensor& t, float mean, float stddev);

  // Where the stream is, so training can checkpoint and resume it exactly.
  struct State {
    std::uint64_t counter = 0;
    std::uint32_t next_word = 4;
    bool has_spare_normal = false;
    float spare_normal = 0.0f;
  };
  State state() const { return state_; }
  std::uint64_t seed() const { return key_[0] | (static_cast<std::uint64_t>(key_[1]) << 32); }
  void set_state(const State& s);

  static std::array<std::uint32_t, 4> philox4x32_10(std::uint64_t counter, std::array<std::uint32_t, 2> key);

 private:
  std::array<std::uint32_t, 2> key_;
  State state_;
  std::array<std::uint32_t, 4> block_{};
};

}  // namespace bigcolor
