// Tensor: a contiguous, row-major (NCHW for images) array on one device.
//
// A Tensor is a handle: copying it shares the storage (like a shared_ptr), and writing through a const handle is
// allowed, which is how ops take their outputs (`const Tensor& out`) and how an undefined Tensor{} marks an
// optional output as "not wanted". Copies between devices are always explicit (to(), copy_from()).
// CPU storage is 64-byte aligned; CUDA storage comes from the caching allocator (cuda_memory.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace bigcolor {

using Shape = std::vector<std::int64_t>;

std::string shape_string(const Shape& shape);  // "(3, 4, 5)"
std::int64_t shape_numel(const Shape& shape);

// Owns one allocation; returns it to the right allocator when the last handle goes.
class Storage {
 public:
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* ptr() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  std::uint64_t id() const { return id_; }  // unique in the process, never reused
  bool immutable() const { return immutable_; }
  void mark_immutable() { immutable_ = true; }

 private:
  std::uint64_t id_;
  bool immutable_ = false;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_ = Device::CPU;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::CPU);
  static Tensor from_indices(const std::vector<std::int32_t>& values, const Shape& shape,
                             Device device = Device::CPU);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const;  // negative axes count from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_cuda() const { return device_ == Device::CUDA; }

  // Checked element access: throws if T does not match dtype(). The pointer is a device pointer for CUDA tensors.
  template <typename T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(raw());
  }
  void* raw() const;

  Tensor to(Device device) const;        // a copy on `device` (a copy even when already there)
  Tensor clone() const { return to(device_); }
  void copy_from(const Tensor& src) const;  // same shape and dtype, any devices
  Tensor reshape(const Shape& shape) const;  // shares storage; numel must match
  void fill(float value) const;              // F32 only
  void zero() const;

  std::vector<float> to_vector() const;  // F32 values, copied to the host
  std::vector<std::int32_t> to_indices() const;

  std::string describe() const;  // "(3, 4, 5) F32 cpu"

  // A promise that the storage's contents never change again (the fixed inference weights, layers/module.h), so
  // engines may keep converted copies of it, keyed by storage_id() (tensor/immutable_copies.h). Writing to an
  // immutable tensor afterwards is a bug those copies would hide.
  void mark_immutable() const;
  bool immutable() const { return storage_ != nullptr && storage_->immutable(); }
  std::uint64_t storage_id() const { return storage_ != nullptr ? storage_->id() : 0; }

 private:
  void check_dtype(DType expected) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
};

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();

// Bytes of CPU tensor storage alive now and at most since the last reset (kernels' own scratch buffers excluded).
struct HostMemoryStats {
  std::size_t in_use = 0;
  std::size_t peak_in_use = 0;
};
HostMemoryStats host_memory_stats();
// Adds a hook called with the storage id of every immutable storage when it is freed (engines drop their converted
// copies); adding the same hook twice keeps one. At most 4 hooks.
void add_immutable_release_hook(void (*hook)(std::uint64_t storage_id));
void reset_host_peak_memory();

}  // namespace bigcolor
