#include "seeded_state.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "tensor/error.h"

namespace bigcolor::test {

namespace {

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

Tensor seeded_tensor(const std::string& name, const Shape& shape, std::uint64_t base_seed) {
  const std::uint64_t stream = mix(fnv1a64(name) ^ base_seed);
  const std::int64_t n = shape_numel(shape);
  std::vector<float> v(static_cast<std::size_t>(n));
  enum { Variance, Mean, Gamma, Bias, Weight } role;
  if (name.ends_with(".running_var"))
    role = Variance;
  else if (name.ends_with(".running_mean"))
    role = Mean;
  else if (shape.size() == 1 && name.ends_with(".weight"))
    role = Gamma;
  else if (shape.size() == 1 && name.ends_with(".bias"))
    role = Bias;
  else if (shape.size() >= 2)
    role = Weight;
  else
    detail::throw_error("seeded_tensor: no role for '", name, "' ", shape_string(shape));
  const float scale = role == Weight ? static_cast<float>(2.0 * std::sqrt(3.0 / static_cast<double>(n / shape[0])))
                                     : 0.0f;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t bits = mix(stream + static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull) >> 40;
    const float u = static_cast<float>(bits) * 0x1p-24f;
    float x = 0.0f;
    switch (role) {
      case Variance: case Gamma: x = 0.5f + u; break;
      case Mean: case Bias: x = (u - 0.5f) * 0.2f; break;
      case Weight: x = (u - 0.5f) * scale; break;
    }
    v[static_cast<std::size_t>(i)] = x;
  }
  return Tensor::from_vector(v, shape);
}

std::map<std::string, Tensor> seeded_state(const StateShapes& shapes, std::uint64_t base_seed) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, shape] : shapes) out.emplace(name, seeded_tensor(name, shape, base_seed));
  return out;
}

StateShapes read_manifest(const std::string& path, std::int64_t* parameters) {
  std::ifstream in(path);
  BIGCOLOR_CHECK(in, path, ": cannot open the manifest");
  StateShapes shapes;
  std::string line;
  bool first_comment = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (first_comment && parameters) {  // "... N entries, P parameters ..."
        const std::size_t at = line.find(" parameters");
        const std::size_t start = line.rfind(' ', at - 1);
        BIGCOLOR_CHECK(at != std::string::npos && start != std::string::npos, path, ": no parameter count in '",
                       line, "'");
        *parameters = std::stoll(line.substr(start + 1, at - start - 1));
      }
      first_comment = false;
      continue;
    }
    const std::size_t tab = line.find('\t');
    BIGCOLOR_CHECK(tab != std::string::npos, path, ": no tab in '", line, "'");
    const std::string name = line.substr(0, tab);
    if (name.ends_with(".num_batches_tracked")) continue;
    Shape shape;
    std::stringstream dims(line.substr(tab + 1));
    for (std::string d; std::getline(dims, d, ',');)
      if (!d.empty()) shape.push_back(std::stoll(d));
    shapes[name] = shape;
  }
  return shapes;
}

}  // namespace bigcolor::test
