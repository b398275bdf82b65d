// Shared helpers for the doctest suites: comparing tensors the way the project promises (normalized error
// ‖out − ref‖ / ‖ref‖, max abs error reported, NaN never passes, no comparison against an all-zero reference),
// poisoning outputs so an element a kernel never wrote fails, and locating the golden files.
#pragma once

#include <filesystem>
#include <string>

#include "tensor/rng.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

struct Comparison {
  double normalized_error = 0.0;  // ‖out − ref‖₂ / ‖ref‖₂
  double max_abs_error = 0.0;
  bool has_nan = false;            // a NaN or Inf in `out`
  bool reference_is_zero = false;  // ‖ref‖ = 0: never a valid comparison
  std::string describe() const;
};

// Both tensors may live on any device; shapes must match (else the comparison fails with a message).
Comparison compare(const Tensor& out, const Tensor& ref);

// CHECKs that `out` matches `ref` within `tolerance` (normalized error), printing both error measures and `what`.
void check_close(const Tensor& out, const Tensor& ref, double tolerance, const std::string& what);

// Fills an F32 tensor with NaN, so anything a kernel forgets to write is caught.
void poison(const Tensor& t);
// A fresh F32 tensor of `shape` on `device`, all NaN: an output or overwritten gradient before the call.
Tensor poisoned(const Shape& shape, Device device = Device::CPU);

// A fresh tensor with values from N(0, 1) (or uniform in [low, high)).
Tensor random_normal(const Shape& shape, Rng& rng, Device device = Device::CPU);
Tensor random_uniform(const Shape& shape, Rng& rng, float low, float high, Device device = Device::CPU);

// Full path of a file in tests/golden/.
std::string golden_path(const std::string& name);

// A fresh, uniquely named folder under the system's temporary folder (prefix + time + random + counter), removed with
// everything in it at the end of the scope.
class TempFolder {
 public:
  explicit TempFolder(const std::string& prefix);
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace bigcolor::test
