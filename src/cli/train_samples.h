// The sample sheets of `bigcolor train`: a fixed set of images (the first N usable ones of a data set, in its
// order) colorized with a fixed z by the current weights and by the EMA weights, in eval mode, one PNG per call:
// each row is gray input | output | EMA output | ground truth (S x S tiles).
#pragma once

#include <string>

#include "train/dataset.h"
#include "train/trainer.h"

namespace bigcolor::cli {

struct SampleSet {
  Tensor x;        // (N, 3, S, S) CPU in [0, 1]
  Tensor classes;  // (N) I32
  Tensor z;        // (N, dim_z) fixed draws
};

// The first `count` images of `dataset` that load (fewer if the set is smaller; an Error if none loads).
SampleSet load_sample_set(const train::Dataset& dataset, int count, int image_size, std::uint64_t seed,
                          const ColorizerConfig& config);

// Writes the sheet (PNG, atomically). The models are left in training mode with their weights unchanged.
void write_sample_sheet(const std::string& path, train::Trainer& trainer, const SampleSet& samples);

}  // namespace bigcolor::cli
