#include "train/data_loader.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>
#include <utility>

#include "imaging/image.h"
#include "tensor/error.h"
#include "tensor/rng.h"

namespace bigcolor::train {

namespace {

constexpr std::size_t kMaxExamples = 5;  // skipped images named in SkippedImages::examples

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in 0..bound-1 from 64-bit draws: a draw below 2^64 mod bound is rejected, the rest are equally spread.
std::uint64_t uniform_below(Rng& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const std::uint64_t high = rng.next_u32();
    const std::uint64_t draw = (high << 32) | rng.next_u32();
    if (draw >= threshold) return draw % bound;
  }
}

// The blend of color_enhance. torch evaluates it as separate float32 tensor ops, so a fused multiply-add (which
// GCC forms by default on FMA targets) would change the last bit: contraction is off here.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void blend(const float* gray, const float* x, float* out, std::size_t n, float a, float k) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  for (std::size_t i = 0; i < n; ++i) {
    float v = gray[i] * a + x[i] * k;
    if (v < 0.0f) v = 0.0f;
    if (v > 1.0f) v = 1.0f;
    out[i] = v;
  }
}

void check_batch(const Tensor& x, const char* what) {
  BIGCOLOR_CHECK(x.defined() && x.device() == Device::CPU && x.dtype() == DType::F32 && x.ndim() == 4 &&
                     x.dim(1) == 3,
                 what, ": needs a (B, 3, H, W) F32 CPU tensor, got ",
                 x.defined() ? x.describe() : std::string("an undefined tensor"));
}

}  // namespace

// One decoded walk position. `error` set: unreadable; `low`: under the colourfulness threshold; `fatal`: an
// exception that is not a bad image (e.g. out of memory), rethrown to the consumer.
struct DataLoader::Slot {
  bool ready = false;
  std::int64_t index = -1;  // dataset index
  Tensor sample;            // (3, S, S)
  std::string error;
  bool low = false;
  double colorfulness = 0;
  std::exception_ptr fatal;
};

std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  BIGCOLOR_CHECK(n >= 0 && epoch >= 0, "epoch_order: n ", n, " and epoch ", epoch, " must not be negative");
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  Rng rng(splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(epoch)));
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

std::vector<std::int64_t> shard_of(const std::vector<std::int64_t>& order, int rank, int world_size) {
  BIGCOLOR_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "shard_of: rank ", rank, " of ", world_size);
  if (world_size == 1) return order;
  const std::size_t used = order.size() / static_cast<std::size_t>(world_size) * static_cast<std::size_t>(world_size);
  std::vector<std::int64_t> out;
  out.reserve(used / static_cast<std::size_t>(world_size));
  for (std::size_t i = static_cast<std::size_t>(rank); i < used; i += static_cast<std::size_t>(world_size))
    out.push_back(order[i]);
  return out;
}

DataLoader::DataLoader(Dataset dataset, const LoaderOptions& options)
    : dataset_(std::move(dataset)), options_(options) {
  BIGCOLOR_CHECK(options_.batch_size > 0, "data loader: batch size ", options_.batch_size, " is not positive");
  BIGCOLOR_CHECK(options_.image_size > 0, "data loader: image size ", options_.image_size, " is not positive");
  BIGCOLOR_CHECK(options_.prefetch_batches > 0 && options_.prefetch_batches <= 64, "data loader: prefetch of ",
                 options_.prefetch_batches, " batches (1..64)");
  BIGCOLOR_CHECK(options_.num_threads >= 0 && options_.num_threads <= 256, "data loader: ", options_.num_threads,
                 " threads (0 = automatic, at most 256)");
  BIGCOLOR_CHECK(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
                 "data loader: rank ", options_.rank, " of ", options_.world_size);
  if (options_.world_size == 1) {
    BIGCOLOR_CHECK(dataset_.size() >= options_.batch_size, dataset_.root, ": ", dataset_.size(),
                   " images, fewer than the batch size ", options_.batch_size);
  } else {
    BIGCOLOR_CHECK(shard_size() >= options_.batch_size, dataset_.root, ": ", dataset_.size(), " images give each of ",
                   options_.world_size, " ranks ", shard_size(), ", fewer than its batch of ", options_.batch_size,
                   " (the global batch ", options_.batch_size * options_.world_size, ")");
  }
  if (options_.num_threads == 0) {
    options_.num_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  }
  window_ = static_cast<std::int64_t>(options_.prefetch_batches) * options_.batch_size;
  ring_.resize(static_cast<std::size_t>(window_));
  try {
    for (int i = 0; i < options_.num_threads; ++i) threads_.emplace_back([this] { worker(); });
  } catch (...) {  // no destructor runs for a half-built object: join the threads that did start
    stop_threads();
    throw;
  }
}

DataLoader::~DataLoader() { stop_threads(); }

void DataLoader::stop_threads() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void DataLoader::start_epoch(const LoaderPosition& position) {
  BIGCOLOR_CHECK(position.epoch >= 0 && position.batch >= 0, "data loader: cannot start at epoch ", position.epoch,
                 ", batch ", position.batch);
  BIGCOLOR_CHECK(position.cursor >= -1 && position.cursor <= shard_size(), "data loader: cursor ",
                 position.cursor, " outside -1..", shard_size());
  std::vector<std::int64_t> order;
  if (options_.shuffle) {
    order = epoch_order(dataset_.size(), options_.seed, position.epoch);
  } else {
    order.resize(static_cast<std::size_t>(dataset_.size()));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  order = shard_of(order, options_.rank, options_.world_size);
  const bool known = position.cursor >= 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    order_ = std::move(order);
    cursor_ = claim_ = known ? position.cursor : 0;
    for (Slot& slot : ring_) slot = Slot{};
    active_ = true;
  }
  work_cv_.notify_all();
  started_ = true;
  finished_ = false;
  epoch_ = position.epoch;
  batch_ = known ? position.batch : 0;
  skip_until_ = known ? 0 : position.batch;
  epoch_skipped_ = SkippedImages{};
}

void DataLoader::worker() {
  omp_set_num_threads(1);  // this thread's OpenMP regions run on it alone (the ICV is per thread)
  std::unique_lock<std::mutex> lock(mutex_);
  const std::int64_t n = shard_size();
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || (active_ && claim_ < n && claim_ < cursor_ + window_); });
    if (stop_) return;
    const std::int64_t position = claim_++;
    const std::uint64_t generation = generation_;
    const std::int64_t index = order_[static_cast<std::size_t>(position)];
    lock.unlock();
    Slot slot = decode(dataset_.samples[static_cast<std::size_t>(index)].path);  // dataset_ never changes
    slot.index = index;
    slot.ready = true;
    lock.lock();
    if (generation == generation_) {
      ring_[static_cast<std::size_t>(position % window_)] = std::move(slot);
      ready_cv_.notify_all();
    }
  }
}

DataLoader::Slot DataLoader::decode(const std::string& path) const {
  Slot slot;
  try {
    slot.sample = load_training_sample(path, options_.image_size);
    if (options_.min_colorfulness > 0) {
      slot.colorfulness = colorfulness(slot.sample);
      slot.low = slot.colorfulness < options_.min_colorfulness;
    }
  } catch (const Error& e) {
    slot.error = e.what();
    if (slot.error.empty()) slot.error = path + ": unreadable";
  } catch (...) {
    slot.fatal = std::current_exception();
  }
  return slot;
}

void DataLoader::count_skip(const Slot& slot) {
  std::string example;
  const std::string& path = dataset_.samples[static_cast<std::size_t>(slot.index)].path;
  if (!slot.error.empty()) {
    ++epoch_skipped_.unreadable;
    ++total_skipped_.unreadable;
    // load_image's messages start with the path already.
    example = slot.error.rfind(path, 0) == 0 ? slot.error : path + ": " + slot.error;
  } else {
    ++epoch_skipped_.low_colorfulness;
    ++total_skipped_.low_colorfulness;
    std::ostringstream s;
    s << path << ": colourfulness " << slot.colorfulness << " < " << options_.min_colorfulness;
    example = s.str();
  }
  for (SkippedImages* stats : {&epoch_skipped_, &total_skipped_}) {
    if (stats->examples.size() < kMaxExamples) stats->examples.push_back(example);
  }
}

bool DataLoader::collect(std::vector<Slot>& out) {
  out.clear();
  const std::int64_t n = shard_size();
  std::unique_lock<std::mutex> lock(mutex_);
  while (static_cast<int>(out.size()) < options_.batch_size) {
    if (cursor_ >= n) {
      active_ = false;
      return false;
    }
    Slot& cell = ring_[static_cast<std::size_t>(cursor_ % window_)];
    ready_cv_.wait(lock, [&] { return cell.ready; });
    Slot slot = std::move(cell);
    cell = Slot{};
    ++cursor_;
    work_cv_.notify_all();  // the window moved: a decoder may claim one more position
    if (slot.fatal) {
      active_ = false;
      finished_ = true;
      std::rethrow_exception(slot.fatal);
    }
    if (!slot.error.empty() || slot.low) {
      count_skip(slot);
    } else {
      out.push_back(std::move(slot));
    }
  }
  return true;
}

std::optional<Batch> DataLoader::next() {
  BIGCOLOR_CHECK(started_, "data loader: next() before start_epoch()");
  if (finished_) return std::nullopt;
  std::vector<Slot> slots;
  while (true) {
    if (!collect(slots)) {
      finished_ = true;
      if (batch_ == 0) {
        std::ostringstream message;
        message << dataset_.root << ": epoch " << epoch_ << " gives no batch of " << options_.batch_size << " from "
                << dataset_.size() << " images: " << epoch_skipped_.unreadable << " unreadable, "
                << epoch_skipped_.low_colorfulness << " under colourfulness " << options_.min_colorfulness;
        if (!epoch_skipped_.examples.empty()) message << " (first: " << epoch_skipped_.examples.front() << ")";
        throw Error(message.str());
      }
      return std::nullopt;
    }
    if (batch_ >= skip_until_) break;
    ++batch_;  // resuming without a cursor: this batch was consumed before
  }

  const int b = options_.batch_size, s = options_.image_size;
  const std::size_t plane = static_cast<std::size_t>(3) * s * s;
  Batch batch;
  batch.x = Tensor::empty({b, 3, s, s});
  std::vector<std::int32_t> classes;
  float* dst = batch.x.data<float>();
  for (int i = 0; i < b; ++i) {
    const Slot& slot = slots[static_cast<std::size_t>(i)];
    const DatasetSample& sample = dataset_.samples[static_cast<std::size_t>(slot.index)];
    std::memcpy(dst + plane * i, slot.sample.data<float>(), sizeof(float) * plane);
    classes.push_back(sample.class_index);
    batch.paths.push_back(sample.path);
  }
  batch.classes = Tensor::from_indices(classes, {b});
  batch.epoch = epoch_;
  batch.index = batch_++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.next = LoaderPosition{epoch_, batch_, cursor_};
  }
  return batch;
}

Tensor grayscale(const Tensor& x) {
  check_batch(x, "grayscale");
  const int h = static_cast<int>(x.dim(2)), w = static_cast<int>(x.dim(3));
  const std::size_t hw = static_cast<std::size_t>(h) * w;
  Tensor out = Tensor::empty({x.dim(0), 1, h, w});
  // Through to_gray, so the weights and the float32 order of operations live in one place: each image is
  // handed over as an Image (H x W x 3) and comes back as (1, 1, H, W).
  Image image{w, h, 3, std::vector<float>(hw * 3)};
  for (std::int64_t b = 0; b < x.dim(0); ++b) {
    const float* src = x.data<float>() + b * 3 * hw;
    for (std::size_t i = 0; i < hw; ++i) {
      for (std::size_t c = 0; c < 3; ++c) image.pixels[i * 3 + c] = src[c * hw + i];
    }
    const Tensor gray = to_gray(image);
    std::memcpy(out.data<float>() + b * hw, gray.data<float>(), sizeof(float) * hw);
  }
  return out;
}

Tensor color_enhance(const Tensor& x, double k) {
  check_batch(x, "color_enhance");
  const Tensor gray = grayscale(x);
  const std::size_t hw = static_cast<std::size_t>(x.dim(2) * x.dim(3));
  const auto a = static_cast<float>(1.0 - k), kf = static_cast<float>(k);
  Tensor out = Tensor::empty(x.shape());
  for (std::int64_t b = 0; b < x.dim(0); ++b) {
    for (std::int64_t c = 0; c < 3; ++c) {
      const std::size_t offset = static_cast<std::size_t>(b * 3 + c) * hw;
      blend(gray.data<float>() + b * hw, x.data<float>() + offset, out.data<float>() + offset, hw, a, kf);
    }
  }
  return out;
}

}  // namespace bigcolor::train
