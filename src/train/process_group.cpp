#include "train/process_group.h"

#include <chrono>
#include <cstring>

#include "layers/functional.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"

namespace bigcolor::train {

namespace {

// Copies `count` floats between a tensor and a flat buffer at an element offset (same device).
void copy_floats(float* dst, const float* src, std::int64_t count, Device device) {
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(float);
  if (bytes == 0) return;
  if (device == Device::CPU) std::memcpy(dst, src, bytes);
  else cuda::copy(dst, src, bytes, cuda::CopyKind::DeviceToDevice);
}

// Splits tensors (all on `device`, F32) into runs of at most bucket_bytes (a tensor larger than that is a bucket of
// its own), in the order given.
std::vector<std::vector<Tensor>> split_into_buckets(const std::vector<Tensor>& tensors, std::size_t bucket_bytes) {
  std::vector<std::vector<Tensor>> out;
  std::size_t filled = bucket_bytes;  // forces a first bucket
  for (const Tensor& t : tensors) {
    if (filled + t.nbytes() > bucket_bytes || out.empty()) {
      out.emplace_back();
      filled = 0;
    }
    out.back().push_back(t);
    filled += t.nbytes();
  }
  return out;
}

std::int64_t total_numel(const std::vector<Tensor>& tensors) {
  std::int64_t n = 0;
  for (const Tensor& t : tensors) n += t.numel();
  return n;
}

void pack(const Tensor& flat, const std::vector<Tensor>& parts) {
  std::int64_t at = 0;
  for (const Tensor& t : parts) {
    copy_floats(flat.data<float>() + at, t.data<float>(), t.numel(), flat.device());
    at += t.numel();
  }
}

void unpack(const std::vector<Tensor>& parts, const Tensor& flat) {
  std::int64_t at = 0;
  for (const Tensor& t : parts) {
    copy_floats(t.data<float>(), flat.data<float>() + at, t.numel(), flat.device());
    at += t.numel();
  }
}

void check_tensors(const std::vector<Tensor>& tensors, Device device, const char* what) {
  for (const Tensor& t : tensors)
    BIGCOLOR_CHECK(t.defined() && t.dtype() == DType::F32 && t.device() == device, what, ": ", t.describe(),
                   " is not an F32 tensor on ", device == Device::CPU ? "the CPU" : "the GPU");
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Completed final : public ProcessGroup::Pending {
 public:
  void wait() override {}
};

}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::start_all_reduce_sum(const Tensor& t) {
  all_reduce_sum(t);
  return std::make_unique<Completed>();
}

GradientBuckets::GradientBuckets(const std::vector<Module::NamedParameter>& parameters, Device device,
                                 std::size_t bucket_bytes) {
  std::vector<Tensor> grads;
  std::vector<Parameter*> owners;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (!it->parameter->grad.defined()) continue;
    grads.push_back(it->parameter->grad);
    owners.push_back(it->parameter);
  }
  check_tensors(grads, device, "gradient buckets");
  std::size_t next = 0;
  for (const std::vector<Tensor>& run : split_into_buckets(grads, bucket_bytes)) {
    Bucket b;
    for (std::size_t i = 0; i < run.size(); ++i) {
      bucket_of_[owners[next]] = buckets_.size();
      b.parameters.push_back(owners[next++]);
    }
    b.flat = Tensor::empty({total_numel(run)}, DType::F32, device);
    numel_ += b.flat.numel();
    buckets_.push_back(std::move(b));
  }
}

void GradientBuckets::begin(ProcessGroup& group) {
  group_ = &group;  // a group of one too: its transport runs (an identity), so one GPU exercises it
  started_early_ = 0;
  in_flight_seconds_ = 0.0;
  final_.clear();
  for (Bucket& b : buckets_) {
    b.missing = b.parameters.size();
    b.pending.reset();
  }
}

void GradientBuckets::launch(Bucket& b) {
  std::vector<Tensor> grads;
  for (Parameter* p : b.parameters) grads.push_back(p->grad);
  pack(b.flat, grads);
  b.started_at = now_seconds();
  b.pending = group_->start_all_reduce_sum(b.flat);
}

void GradientBuckets::ready(Module& module) {
  if (group_ == nullptr) return;
  for (const Module::NamedParameter& p : module.parameters()) {
    const auto it = bucket_of_.find(p.parameter);
    if (it == bucket_of_.end() || !final_.insert(p.parameter).second) continue;  // not ours, or already counted
    Bucket& b = buckets_[it->second];
    if (b.missing > 0 && --b.missing == 0 && !b.pending) {
      launch(b);
      ++started_early_;
    }
  }
  for (Bucket& b : buckets_)
    if (b.pending) b.pending->poll();
}

void GradientBuckets::finish() {
  if (group_ == nullptr) return;
  const double finish_start = now_seconds();
  for (Bucket& b : buckets_) {
    if (b.pending) in_flight_seconds_ += finish_start - b.started_at;
    else launch(b);
  }
  const float inverse = 1.0f / static_cast<float>(group_->size());
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    std::vector<Tensor> grads;
    for (Parameter* p : b.parameters) grads.push_back(p->grad);
    // DDP divides the summed gradient by the world size; so does this (x · (1/N) in float32, as torch's div_).
    unpack(grads, fn::scale(b.flat, inverse));
  }
  group_ = nullptr;
}

std::vector<Tensor> state_tensors(Module& module, bool buffers_only) {
  std::vector<Tensor> out;
  for (const Module::NamedTensor& s : module.state())
    if (!buffers_only || s.is_buffer) out.push_back(s.tensor);
  return out;
}

void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root, std::size_t bucket_bytes) {
  if (tensors.empty()) return;
  const Device device = tensors.front().device();
  check_tensors(tensors, device, "broadcast");
  for (const std::vector<Tensor>& run : split_into_buckets(tensors, bucket_bytes)) {
    const Tensor flat = Tensor::empty({total_numel(run)}, DType::F32, device);
    pack(flat, run);
    group.broadcast(flat, root);
    unpack(run, flat);
  }
}

std::uint64_t rank_seed(std::uint64_t seed, int rank) {
  if (rank == 0) return seed;
  return fingerprint("bigcolor rank seed " + std::to_string(seed) + " " + std::to_string(rank));
}

std::uint64_t fingerprint(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace bigcolor::train
