// Training checkpoints: everything a run needs to continue exactly where it stopped, in one safetensors file
// written atomically (temporary file, fsync, rename: a kill at any moment leaves the previous checkpoint intact).
//
// Tensors: "EG.<state name>" and "D.<state name>" (parameters and buffers: u0/sv0, stored statistics),
// "EMA.<parameter name>" (the shadows of Trainer::trained_parameters), "adam_g.<name>.exp_avg|exp_avg_sq",
// "adam_d.<name>.exp_avg|exp_avg_sq". Metadata: "bigcolor.training_format" ("1"), "bigcolor.config" (the
// ColorizerConfig JSON, as our colorizer files), "bigcolor.progress" (JSON: step, epoch, batch_in_epoch, data_cursor, the Adam
// step counts and learning rates, the EMA update count, the Rng state with the spare normal as its bit pattern),
// "bigcolor.run" (free JSON the caller stores: options, data set, seed).
// A data-parallel run (train/process_group.h) is written by rank 0 and adds, in the progress JSON, "world_size" and
// "ranks": every rank's data cursor and Rng state (each rank walks its own shard and draws its own z and dropout),
// so that each rank of a resumed run of the same size continues exactly where it stopped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace bigcolor::train {

struct TrainProgress {
  std::int64_t step = 0;            // optimizer steps done
  std::int64_t epoch = 0;           // the epoch the next batch belongs to
  std::int64_t batch_in_epoch = 0;  // batches of that epoch already trained on
  std::int64_t data_cursor = -1;    // images of that epoch's walk consumed (the data loader's cursor; -1 unknown)
};

// What differs between the ranks of a data-parallel run.
struct RankProgress {
  std::int64_t data_cursor = -1;
  std::uint64_t rng_seed = 0;
  Rng::State rng;
};
RankProgress rank_progress(Trainer& trainer, std::int64_t data_cursor);

// `ranks`: empty for a run of one process; otherwise every rank's state, rank 0's first (progress.data_cursor and
// the trainer's Rng are then rank 0's own).
void save_training_checkpoint(const std::string& path, Trainer& trainer, const TrainProgress& progress,
                              const std::string& run_json = "{}", const std::vector<RankProgress>& ranks = {});

struct LoadedTrainingCheckpoint {
  TrainProgress progress;  // data_cursor: the loading rank's
  std::string run_json;
  int world_size = 1;      // of the run that wrote it
};
// Restores a checkpoint into a trainer built with the same configuration (checked: the config JSON must match,
// every tensor present with its shape), as rank `rank` of `world_size` (the trainer's Rng and the returned cursor
// are that rank's). Error: a checkpoint of a run with another number of ranks. Nothing is changed unless everything
// matches. Errors name the file.
LoadedTrainingCheckpoint load_training_checkpoint(const std::string& path, Trainer& trainer, int rank = 0,
                                                  int world_size = 1);

// The configuration stored in a training checkpoint (to build the models before load_training_checkpoint).
ColorizerConfig training_checkpoint_config(const std::string& path);

// Writes the EMA weights as one of our colorizer files (what `bigcolor colorize --ckpt` reads).
void export_ema_colorizer(const std::string& path, Trainer& trainer);

}  // namespace bigcolor::train
