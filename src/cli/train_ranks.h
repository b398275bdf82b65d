// What `bigcolor train` asks of the ranks of a data-parallel run besides the trainer's own collectives (start-up
// checks, per-step agreement, the checkpoint's per-rank states). With no group (one process) each is the trivial
// answer, so the training loop reads the same either way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/data_loader.h"
#include "train/process_group.h"
#include "train/train_checkpoint.h"

namespace bigcolor::cli {

class TrainRanks {
 public:
  explicit TrainRanks(train::ProcessGroup* group) : group_(group) {}
  int rank() const { return group_ ? group_->rank() : 0; }
  int size() const { return group_ ? group_->size() : 1; }
  bool leader() const { return rank() == 0; }  // writes the run folder, the log, samples and checkpoints

  // CommonError (rank 0 reports it once) unless every rank has the same `text` (its options, its data set): ranks
  // started with different commands or seeing different files would silently train different things.
  void require_same(const std::string& what, const std::string& text) const;

  bool all(bool mine) const;  // true on every rank exactly when it is true on every rank
  bool any(bool mine) const;

  // Every rank's data cursor and Rng state, in rank order (for rank 0's checkpoint; every rank calls it).
  std::vector<train::RankProgress> gather(const train::RankProgress& mine) const;

  // The counts summed over the ranks (the examples stay this rank's).
  train::SkippedImages sum(const train::SkippedImages& mine) const;

 private:
  train::ProcessGroup* group_;
};

}  // namespace bigcolor::cli
