// Philox4x32-10 and the distributions drawn from it (see rng.h for the documented algorithm).
#include "tensor/rng.h"

#include <cmath>
#include <vector>

#include "tensor/error.h"

namespace bigcolor {

namespace {
// Constants of Philox4x32 (Salmon et al. 2011): the two round multipliers and the Weyl key increments.
constexpr std::uint32_t kMul0 = 0xD2511F53u;
constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;

void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}
}  // namespace

std::array<std::uint32_t, 4> Rng::philox4x32_10(std::uint64_t counter, std::array<std::uint32_t, 2> key) {
  std::array<std::uint32_t, 4> x = {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
                                    0u, 0u};
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, x[0], hi0, lo0);
    mulhilo(kMul1, x[2], hi1, lo1);
    x = {hi1 ^ x[1] ^ key[0], lo1, hi0 ^ x[3] ^ key[1], lo0};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return x;
}

std::uint32_t Rng::next_u32() {
  if (state_.next_word >= 4) {
    block_ = philox4x32_10(state_.counter++, key_);
    state_.next_word = 0;
  }
  return block_[state_.next_word++];
}

void Rng::set_state(const State& s) {
  state_ = s;
  // The current block is a function of the counter that produced it, so it need not be stored.
  if (state_.next_word < 4) {
    BIGCOLOR_CHECK(state_.counter > 0, "Rng::set_state: a partly used block needs counter > 0");
    block_ = philox4x32_10(state_.counter - 1, key_);
  }
}

float Rng::uniform() { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }

float Rng::uniform(float low, float high) { return low + (high - low) * uniform(); }

float Rng::normal() {
  if (state_.has_spare_normal) {
    state_.has_spare_normal = false;
    return state_.spare_normal;
  }
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  double u1 = uniform();
  double u2 = uniform();
  double radius = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1 - u1 is in (0, 1]: log is finite
  state_.spare_normal = static_cast<float>(radius * std::sin(kTwoPi * u2));
  state_.has_spare_normal = true;
  return static_cast<float>(radius * std::cos(kTwoPi * u2));
}

void Rng::fill_uniform(const Tensor& t, float low, float high) {
  std::vector<float> values(static_cast<std::size_t>(t.numel()));
  for (float& v : values) v = uniform(low, high);
  t.copy_from(Tensor::from_vector(values, t.shape()));
}

void Rng::fill_normal(const Tensor& t, float mean, float stddev) {
  std::vector<float> values(static_cast<std::size_t>(t.numel()));
  for (float& v : values) v = normal(mean, stddev);
  t.copy_from(Tensor::from_vector(values, t.shape()));
}

}  // namespace bigcolor
