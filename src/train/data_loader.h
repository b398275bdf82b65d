// Batches of training samples, as the official DataLoader(batch_size=B, drop_last=True) gives them, decoded on
// background threads, deterministic and resumable; and the two transforms the training step applies to a batch.
//
// Order: each epoch walks the dataset in a permutation that depends only on (seed, epoch) (epoch_order). Batch k of
// an epoch is the next B *usable* images of that walk: an image load_image cannot read, or one whose colourfulness
// is under options.min_colorfulness, is skipped, counted, and the walk goes on, so batches stay full. The epoch
// ends when the walk runs out before a batch is full (the partial batch is dropped, as drop_last). None of this
// depends on the number of threads or on their timing: threads decode positions of the walk ahead of the consumer
// into slots indexed by position, and the consumer takes them in walk order.
//
// Resuming: every Batch says where the next one starts (Batch::next: epoch, batch index and the cursor, the
// number of walk positions consumed). start_epoch(that position) continues exactly where the run left off. With
// the cursor unknown (-1), the loader finds it by walking the epoch again from its start, decoding every image up
// to the requested batch (correct, but as slow as that many batches).
//
// Threads: options.num_threads decoders (std::thread), started by the constructor and joined by the destructor,
// also when the consumer stops mid-epoch. They hold at most prefetch_batches * B decoded samples ahead of the
// consumer. Each decoder runs its OpenMP regions (resize_bilinear) on one thread, so N decoders use N cores.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tensor/tensor.h"
#include "train/dataset.h"

namespace bigcolor::train {

struct LoaderOptions {
  int batch_size = 60;                   // the official total batch (spec section 7)
  int image_size = kTrainingImageSize;   // Resize + CenterCrop size S
  std::uint64_t seed = 0;
  bool shuffle = true;                   // false: dataset order in every epoch
  int num_threads = 0;                   // decoders; 0 = min(4, hardware threads)
  int prefetch_batches = 3;              // decoded samples held ahead of the consumer, in batches
  double min_colorfulness = 0;           // > 0: skip images under it (official recipe: kOfficialMinColorfulness),
                                         // measured on the (3, S, S) sample the model would see
  int rank = 0, world_size = 1;          // data parallelism: this rank walks only its shard (shard_of) of each
                                         // epoch's order; batch_size is then the rank's part of the global batch
};

struct LoaderPosition {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;    // batches of the epoch already consumed
  std::int64_t cursor = -1;  // walk positions those batches consumed; -1 = unknown (found by decoding again)
};

struct Batch {
  Tensor x;        // (B, 3, S, S) F32 CPU, values in [0,1]
  Tensor classes;  // (B) I32
  std::vector<std::string> paths;
  std::int64_t epoch = 0;
  std::int64_t index = 0;  // batch index within the epoch
  LoaderPosition next;     // where the batch after this one starts
};

struct SkippedImages {
  std::int64_t unreadable = 0;        // load_image threw
  std::int64_t low_colorfulness = 0;  // under options.min_colorfulness
  std::vector<std::string> examples;  // "path: reason" of the first few
};

// The walk of epoch `epoch`: a permutation of 0..n-1, Fisher-Yates (i from n-1 down to 1, swap i with a uniform
// j in 0..i, drawn from two Philox words with rejection, so unbiased) on an Rng seeded from a mix of seed and epoch.
std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

// Rank `rank`'s part of an epoch's order among `world_size` ranks, as torch's DistributedSampler with
// drop_last=True: the order cut to a multiple of world_size (the last n mod world_size positions dropped), then every
// world_size-th position from `rank`. The shards are disjoint and equally long (n / world_size).
std::vector<std::int64_t> shard_of(const std::vector<std::int64_t>& order, int rank, int world_size);

class DataLoader {
 public:
  // Errors: batch_size, image_size, prefetch_batches or num_threads out of range; fewer images than batch_size.
  DataLoader(Dataset dataset, const LoaderOptions& options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts, dropping whatever was prefetched) an epoch at `position`. Error: a cursor outside
  // -1..size, negative epoch or batch.
  void start_epoch(const LoaderPosition& position);
  void start_epoch(std::int64_t epoch) { start_epoch(LoaderPosition{epoch, 0, 0}); }

  // The next batch of the current epoch, or nullopt when the epoch is over. Error: no epoch started; an epoch whose
  // walk gives no full batch at all (every image unreadable or filtered: the message gives counts and examples).
  std::optional<Batch> next();

  const SkippedImages& skipped_this_epoch() const { return epoch_skipped_; }
  const SkippedImages& skipped_total() const { return total_skipped_; }  // every skip seen, restarts included
  const Dataset& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }  // num_threads resolved
  std::int64_t shard_size() const { return dataset_.size() / options_.world_size; }  // walk positions per epoch
  std::int64_t max_batches_per_epoch() const { return shard_size() / options_.batch_size; }

 private:
  struct Slot;
  void worker();
  void stop_threads();
  Slot decode(const std::string& path) const;
  bool collect(std::vector<Slot>& out);  // the next B usable samples in walk order; false at the epoch's end
  void count_skip(const Slot& slot);

  Dataset dataset_;
  LoaderOptions options_;
  std::int64_t window_ = 0;  // ring size: prefetch_batches * B positions

  std::mutex mutex_;
  std::condition_variable work_cv_;   // decoders wait for a position to claim
  std::condition_variable ready_cv_;  // the consumer waits for its position's slot
  bool stop_ = false;
  bool active_ = false;             // an epoch is running
  std::uint64_t generation_ = 0;    // bumped by start_epoch: results of an older epoch are dropped
  std::vector<std::int64_t> order_; // the walk: dataset indices
  std::int64_t claim_ = 0;          // next position a decoder takes
  std::int64_t cursor_ = 0;         // next position the consumer takes
  std::vector<Slot> ring_;          // position p lives in ring_[p % window_]

  // Consumer-side state (touched only by the consumer's thread).
  bool started_ = false;
  bool finished_ = false;
  std::int64_t epoch_ = 0;
  std::int64_t batch_ = 0;          // index of the next batch
  std::int64_t skip_until_ = 0;     // batches below this are decoded and dropped (resume without a cursor)
  SkippedImages epoch_skipped_;
  SkippedImages total_skipped_;
  std::vector<std::thread> threads_;
};

// ---- batch transforms (CPU, F32) -------------------------------------------------------------------------------

// torchvision Grayscale of a (B, 3, H, W) batch -> (B, 1, H, W): 0.2989 R + 0.587 G + 0.114 B in float32, in that
// order (the code path of to_gray in imaging/image.h).
Tensor grayscale(const Tensor& x);

// The official color_enhacne_blend(x, k) of a (B, 3, H, W) batch in [0,1] -> (B, 3, H, W):
// clip(gray3 * (1 - k) + x * k, 0, 1), evaluated as torch does it: (1 - k) in double (Python) and both scalars
// rounded to float32, then (gray * a) + (x * k) each rounded to float32, values < 0 set to 0 and > 1 to 1 (NaN
// stays). k is a double so that 1 - k rounds as in Python (1.2 as a float would give a different a).
Tensor color_enhance(const Tensor& x, double k);

}  // namespace bigcolor::train
