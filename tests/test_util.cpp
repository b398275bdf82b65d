#include "test_util.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <limits>
#include <sstream>
#include <vector>

namespace bigcolor::test {

std::string Comparison::describe() const {
  std::ostringstream s;
  s << "normalized error " << normalized_error << ", max abs error " << max_abs_error
    << (has_nan ? ", NaN/Inf in output" : "") << (reference_is_zero ? ", reference is all zeros" : "");
  return s.str();
}

Comparison compare(const Tensor& out, const Tensor& ref) {
  Comparison c;
  if (out.shape() != ref.shape()) {
    c.normalized_error = std::numeric_limits<double>::infinity();
    c.max_abs_error = std::numeric_limits<double>::infinity();
    return c;
  }
  const std::vector<float> o = out.to_vector(), r = ref.to_vector();
  double diff2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (!std::isfinite(o[i])) c.has_nan = true;
    const double d = static_cast<double>(o[i]) - r[i];
    diff2 += d * d;
    ref2 += static_cast<double>(r[i]) * r[i];
    c.max_abs_error = std::max(c.max_abs_error, std::abs(d));
  }
  c.reference_is_zero = ref2 == 0.0;
  c.normalized_error = c.reference_is_zero ? std::sqrt(diff2) : std::sqrt(diff2 / ref2);
  return c;
}

void check_close(const Tensor& out, const Tensor& ref, double tolerance, const std::string& what) {
  INFO(what, ": out ", out.describe(), " vs ref ", ref.describe());
  CHECK(out.shape() == ref.shape());
  if (out.shape() != ref.shape()) return;  // a failed CHECK, not REQUIRE: the remaining cases still run
  const Comparison c = compare(out, ref);
  INFO(c.describe());
  CHECK_FALSE(c.has_nan);
  CHECK_FALSE(c.reference_is_zero);
  CHECK(c.normalized_error <= tolerance);
  MESSAGE(what, ": ", c.describe());
}

void poison(const Tensor& t) { t.fill(std::numeric_limits<float>::quiet_NaN()); }

Tensor poisoned(const Shape& shape, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  poison(t);
  return t;
}

Tensor random_normal(const Shape& shape, Rng& rng, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  rng.fill_normal(t, 0.0f, 1.0f);
  return t;
}

Tensor random_uniform(const Shape& shape, Rng& rng, float low, float high, Device device) {
  Tensor t = Tensor::empty(shape, DType::F32, device);
  rng.fill_uniform(t, low, high);
  return t;
}

std::string golden_path(const std::string& name) { return std::string(BIGCOLOR_GOLDEN_DIR) + "/" + name; }

TempFolder::TempFolder(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = std::filesystem::temp_directory_path() / (prefix + std::to_string(stamp) + "_" +
                                                    std::to_string(std::random_device{}()) + "_" +
                                                    std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempFolder::~TempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace bigcolor::test
