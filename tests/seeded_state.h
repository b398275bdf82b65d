// The seeded classifier weights of tools/make_golden_classifier.py, regenerated bit for bit in C++, so the parity
// tests of full-size networks (resnet50d: 25M parameters) store only names, shapes and logits, never weights.
//
// Recipe (the tool's docstring says the same): for the state-dict key `name`,
//   stream = mix(fnv1a64(name) ^ base_seed), u_i = float32(mix(stream + (i + 1) · 0x9E3779B97F4A7C15) >> 40) · 2⁻²⁴
// (mix = splitmix64's finalizer, i the flat C-order index), then, in float32 arithmetic:
//   *.running_var 0.5 + u;  *.running_mean (u − 0.5)·0.2;  other 1-D *.weight 0.5 + u;  1-D *.bias (u − 0.5)·0.2;
//   ≥ 2-D (u − 0.5)·s, s = float32(2·sqrt(3 / fan_in)), fan_in = numel / shape[0].
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "models/classifier.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

inline constexpr std::uint64_t kClassifierSeed = 2026;

Tensor seeded_tensor(const std::string& name, const Shape& shape, std::uint64_t base_seed = kClassifierSeed);
std::map<std::string, Tensor> seeded_state(const StateShapes& shapes, std::uint64_t base_seed = kClassifierSeed);

// A manifest of tools/make_golden_classifier.py: "name<TAB>d0,d1,..." lines (num_batches_tracked left out), '#'
// comment lines skipped; `parameters` receives the count on the first comment line ("..., P parameters ...").
StateShapes read_manifest(const std::string& path, std::int64_t* parameters = nullptr);

}  // namespace bigcolor::test
