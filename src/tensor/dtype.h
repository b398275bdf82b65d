// Element types and devices. Only F32 is computed today; the other types can be stored, loaded and saved
// (safetensors) so that bf16/fp16 kernels can arrive later without changing the Tensor type. I32 holds indices
// (embedding lookups, class labels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bigcolor {

enum class DType : std::uint8_t { F32, F16, BF16, I32, I64 };
enum class Device : std::uint8_t { CPU, CUDA };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // safetensors spelling: "F32", "BF16", ...
const char* device_name(Device device);  // "cpu" or "cuda"

// The C++ element type behind a DType, for checked access through Tensor::data<T>().
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<std::int32_t>() { return DType::I32; }
template <>
constexpr DType dtype_of<std::int64_t>() { return DType::I64; }

}  // namespace bigcolor
