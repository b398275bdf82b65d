// Tensor and Storage: allocation, explicit copies between devices, reshape views.
#include "tensor/tensor.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "tensor/host_cache.h"

namespace bigcolor {

namespace {
std::atomic<std::size_t> g_host_in_use{0};
std::atomic<std::size_t> g_host_peak{0};
std::atomic<std::uint64_t> g_next_storage_id{1};
// One slot per engine that keeps converted copies of immutable weights (the CPU's oneDNN, the CUDA lowp engine).
constexpr int kMaxReleaseHooks = 4;
std::atomic<void (*)(std::uint64_t)> g_immutable_release_hooks[kMaxReleaseHooks] = {};

void count_host_allocation(std::size_t bytes) {
  const std::size_t now = g_host_in_use.fetch_add(bytes) + bytes;
  std::size_t peak = g_host_peak.load();
  while (now > peak && !g_host_peak.compare_exchange_weak(peak, now)) {
  }
}

cuda::CopyKind copy_kind(Device dst, Device src) {
  if (dst == Device::CUDA && src == Device::CUDA) return cuda::CopyKind::DeviceToDevice;
  return dst == Device::CUDA ? cuda::CopyKind::HostToDevice : cuda::CopyKind::DeviceToHost;
}
}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
  }
  return "?";
}

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

std::string shape_string(const Shape& shape) {
  std::ostringstream s;
  s << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ')';
  return s.str();
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

Storage::Storage(std::size_t bytes, Device device) : id_(g_next_storage_id.fetch_add(1)), bytes_(bytes), device_(device) {
  if (bytes == 0) return;
  if (device == Device::CUDA) {
    ptr_ = cuda::allocate(bytes);
  } else {
    ptr_ = host_allocate(bytes);  // large blocks are reused (host_cache.h)
    BIGCOLOR_CHECK(ptr_ != nullptr, "out of host memory allocating ", bytes, " bytes");
    count_host_allocation(bytes);
  }
}

Storage::~Storage() {
  if (immutable_) {
    for (auto& slot : g_immutable_release_hooks)
      if (auto* hook = slot.load()) hook(id_);
  }
  if (ptr_ == nullptr) return;
  if (device_ == Device::CUDA) {
    cuda::deallocate(ptr_, bytes_);
  } else {
    host_release(ptr_, bytes_);
    g_host_in_use.fetch_sub(bytes_);
  }
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (std::int64_t d : shape) BIGCOLOR_CHECK(d >= 0, "negative dimension in shape ", shape_string(shape));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  BIGCOLOR_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
                 " values for shape ", shape_string(shape));
  Tensor host = empty(shape, DType::F32, Device::CPU);
  if (!values.empty()) std::memcpy(host.raw(), values.data(), host.nbytes());
  return device == Device::CPU ? host : host.to(device);
}

Tensor Tensor::from_indices(const std::vector<std::int32_t>& values, const Shape& shape, Device device) {
  BIGCOLOR_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "from_indices: ", values.size(),
                 " values for shape ", shape_string(shape));
  Tensor host = empty(shape, DType::I32, Device::CPU);
  if (!values.empty()) std::memcpy(host.raw(), values.data(), host.nbytes());
  return device == Device::CPU ? host : host.to(device);
}

std::int64_t Tensor::dim(int axis) const {
  int n = ndim();
  int a = axis < 0 ? axis + n : axis;
  BIGCOLOR_CHECK(a >= 0 && a < n, "axis ", axis, " out of range for shape ", shape_string(shape_));
  return shape_[static_cast<std::size_t>(a)];
}

void* Tensor::raw() const {
  BIGCOLOR_CHECK(defined(), "use of an undefined tensor");
  return storage_->ptr();
}

void Tensor::check_dtype(DType expected) const {
  BIGCOLOR_CHECK(defined(), "use of an undefined tensor");
  BIGCOLOR_CHECK(dtype_ == expected, "tensor ", describe(), " accessed as ", dtype_name(expected));
}

Tensor Tensor::to(Device device) const {
  Tensor out = empty(shape_, dtype_, device);
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) const {
  BIGCOLOR_CHECK(defined() && src.defined(), "copy_from: undefined tensor");
  BIGCOLOR_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_, "copy_from: ", src.describe(), " into ",
                 describe());
  if (nbytes() == 0 || raw() == src.raw()) return;
  if (device_ == Device::CPU && src.device_ == Device::CPU) {
    std::memcpy(raw(), src.raw(), nbytes());
  } else {
    cuda::copy(raw(), src.raw(), nbytes(), copy_kind(device_, src.device_));
  }
}

Tensor Tensor::reshape(const Shape& shape) const {
  BIGCOLOR_CHECK(shape_numel(shape) == numel(), "reshape: ", describe(), " to ", shape_string(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

void Tensor::fill(float value) const {
  check_dtype(DType::F32);
  if (device_ == Device::CPU) {
    float* p = data<float>();
    for (std::int64_t i = 0; i < numel(); ++i) p[i] = value;
  } else {
    copy_from(full(shape_, value, Device::CPU));
  }
}

void Tensor::zero() const {
  if (nbytes() == 0) return;
  if (device_ == Device::CPU) {
    std::memset(raw(), 0, nbytes());
  } else {
    cuda::memset_zero(raw(), nbytes());
  }
}

std::vector<float> Tensor::to_vector() const {
  check_dtype(DType::F32);
  Tensor host = device_ == Device::CPU ? *this : to(Device::CPU);
  const float* p = host.data<float>();
  return std::vector<float>(p, p + numel());
}

std::vector<std::int32_t> Tensor::to_indices() const {
  check_dtype(DType::I32);
  Tensor host = device_ == Device::CPU ? *this : to(Device::CPU);
  const std::int32_t* p = host.data<std::int32_t>();
  return std::vector<std::int32_t>(p, p + numel());
}

std::string Tensor::describe() const {
  if (!defined()) return "(undefined)";
  return shape_string(shape_) + " " + dtype_name(dtype_) + " " + device_name(device_);
}

void add_immutable_release_hook(void (*hook)(std::uint64_t)) {
  for (auto& slot : g_immutable_release_hooks) {
    void (*expected)(std::uint64_t) = nullptr;
    if (slot.load() == hook || slot.compare_exchange_strong(expected, hook)) return;
  }
  detail::throw_error("add_immutable_release_hook: more than ", kMaxReleaseHooks, " hooks");
}

void Tensor::mark_immutable() const {
  BIGCOLOR_CHECK(storage_ != nullptr, "mark_immutable of an undefined tensor");
  storage_->mark_immutable();
}

HostMemoryStats host_memory_stats() { return {g_host_in_use.load(), g_host_peak.load()}; }

void reset_host_peak_memory() { g_host_peak.store(g_host_in_use.load()); }

bool cuda_available() {
  static const bool available = cuda::device_count() > 0;
  return available;
}

}  // namespace bigcolor
