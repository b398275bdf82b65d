// F32 / F16 / BF16 conversion on the CPU (kernels/precision_signatures.inc), through tensor/half.h's scalar rules.
#include <cstring>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/half.h"

namespace bigcolor::cpu {

namespace {

float load(const void* p, DType t, std::int64_t i) {
  if (t == DType::F32) return static_cast<const float*>(p)[i];
  const std::uint16_t h = static_cast<const std::uint16_t*>(p)[i];
  return float_from_16bit(h, t != DType::F16);
}

void store(void* p, DType t, std::int64_t i, float v) {
  if (t == DType::F32)
    static_cast<float*>(p)[i] = v;
  else
    static_cast<std::uint16_t*>(p)[i] = float_to_16bit(v, t != DType::F16);
}

}  // namespace

void convert(const Tensor& out, const Tensor& in) {
  if (out.dtype() == in.dtype()) {
    if (out.raw() != in.raw()) std::memcpy(out.raw(), in.raw(), in.nbytes());
    return;
  }
  const std::int64_t n = in.numel();
  const void* src = in.raw();
  void* dst = out.raw();
  const DType from = in.dtype(), to = out.dtype();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) store(dst, to, i, load(src, from, i));
}

void round_to(const Tensor& out, const Tensor& in, DType format) {
  const std::int64_t n = in.numel();
  const float* src = in.data<float>();
  float* dst = out.data<float>();
  if (format == DType::BF16) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(float_to_bf16(src[i]));
  } else {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = half_to_float(float_to_half(src[i]));
  }
}

}  // namespace bigcolor::cpu
