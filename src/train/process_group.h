// Data-parallel training over several processes (ranks), as the official train.py runs it with
// DistributedDataParallel: every rank holds the whole model, trains on its own part of each global batch, and the
// ranks average their gradients before every optimizer step, so their weights stay identical.
//
// The library defines what a transport must do (ProcessGroup) and everything built on it (gradient buckets, state
// broadcasts); it links no transport itself. The command-line tool provides MPI (CPU tensors, and the launcher:
// `mpirun -np N bigcolor train`) and NCCL (CUDA tensors, bootstrapped over MPI); tests provide an in-process one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "layers/module.h"
#include "tensor/tensor.h"

namespace bigcolor::train {

// The collectives of one group of ranks. Every rank calls the same collectives in the same order with tensors of
// the same shapes (the trainer guarantees that); a transport that cannot complete one (a rank died or stopped
// answering) throws Error, or ends the process, within its own bounded time: never waits forever.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every rank's `t` gets root's values. F32 tensors, contiguous, on the device the transport serves.
  virtual void broadcast(const Tensor& t, int root) = 0;
  // In place: element-wise sum over the ranks, every rank gets the result.
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // Host values (losses, counters): element-wise sum over the ranks.
  virtual void all_reduce_sum(std::vector<double>& values) = 0;
  // Host integers (flags, counters, and gathers: each rank fills its own slots, the others leave zeros).
  virtual void all_reduce_sum(std::vector<std::int64_t>& values) = 0;
  // Host bytes: root's string to every rank (small metadata: the checkpoint's per-rank states).
  virtual void broadcast(std::string& bytes, int root) = 0;

  // A collective started and not complete yet.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void poll() {}     // lets the transport progress it (MPI moves nonblocking collectives in its calls)
    virtual void wait() = 0;   // completes it, within the transport's deadline
  };
  // all_reduce_sum(t) started now and completed by the handle's wait(); `t` must not be touched in between. This is
  // what lets a bucket's all-reduce run while the backward computes the next gradients. A transport without
  // asynchronous collectives completes it at once (this default).
  virtual std::unique_ptr<Pending> start_all_reduce_sum(const Tensor& t);
};

// The gradients of a list of parameters packed into flat buckets of at most `bucket_bytes` (DDP's default: 25 MiB),
// in reverse registration order (the order a backward pass finishes them), so that one all-reduce per bucket
// averages them all. Parameters without a gradient are left out.
//
// Overlapped, as DDP's bucket hooks: begin() before the backward pass that completes the gradients; ready(module)
// from that backward each time a module's parameter gradients are final (Module::set_gradients_ready_hook): every
// bucket whose gradients are then all final is packed and its all-reduce started at once, while the backward goes
// on; finish() after the backward starts the buckets left, waits for all and writes the means back. The values are
// those of average(): only the timing differs.
class GradientBuckets {
 public:
  static constexpr std::size_t kDefaultBucketBytes = 25u << 20;

  GradientBuckets(const std::vector<Module::NamedParameter>& parameters, Device device,
                  std::size_t bucket_bytes = kDefaultBucketBytes);

  // grad ← mean over the ranks of grad, for every parameter (on a group of one the identity, computed).
  void average(ProcessGroup& group) {
    begin(group);
    finish();
  }
  void begin(ProcessGroup& group);
  void ready(Module& module);  // no-op unless begun
  void finish();
  bool active() const { return group_ != nullptr; }
  // Of the last begin()..finish(): buckets started from ready() (before finish), and the time their all-reduces had
  // been in flight when finish() began (summed over buckets; communication that could run behind the backward).
  std::size_t started_early() const { return started_early_; }
  double in_flight_seconds() const { return in_flight_seconds_; }

  std::size_t bucket_count() const { return buckets_.size(); }
  std::int64_t numel() const { return numel_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel_) * sizeof(float); }

 private:
  struct Bucket {
    std::vector<Parameter*> parameters;
    Tensor flat;  // (sum of their numels) F32 on the device
    std::size_t missing = 0;  // parameters not final yet (during begin()..finish())
    std::unique_ptr<ProcessGroup::Pending> pending;
    double started_at = 0.0;
  };
  void launch(Bucket& b);

  std::vector<Bucket> buckets_;
  std::map<const Parameter*, std::size_t> bucket_of_;
  std::set<const Parameter*> final_;  // reported final since begin()
  std::int64_t numel_ = 0;
  ProcessGroup* group_ = nullptr;
  std::size_t started_early_ = 0;
  double in_flight_seconds_ = 0.0;
};

// Every rank gets root's values of these tensors (parameters and buffers of a model, optimizer states), packed into
// buckets as above: identical initial weights, spectral-norm u vectors and batch-norm statistics on every rank.
void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root = 0,
                       std::size_t bucket_bytes = GradientBuckets::kDefaultBucketBytes);
std::vector<Tensor> state_tensors(Module& module, bool buffers_only = false);

// Rank k's seed for its trainer's draws (z, dropout): `seed` itself on rank 0 (a run of one process is unchanged), a
// different stream on every other rank (the ranks must not draw the same noise for their different images).
std::uint64_t rank_seed(std::uint64_t seed, int rank);

// A 64-bit fingerprint (FNV-1a) of text, for checking at start that every rank has the same options and data.
std::uint64_t fingerprint(const std::string& text);

}  // namespace bigcolor::train
