#include "kernels/precision.h"

namespace bigcolor {

namespace {
thread_local Precision current_precision = Precision::FP32;
}  // namespace

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::BF16: return "bf16";
    case Precision::FP16: return "fp16";
    case Precision::FP32: break;
  }
  return "fp32";
}

std::optional<Precision> parse_precision(std::string_view name) {
  for (Precision p : {Precision::FP32, Precision::BF16, Precision::FP16})
    if (name == precision_name(p)) return p;
  return std::nullopt;
}

Precision compute_precision() { return current_precision; }

PrecisionScope::PrecisionScope(Precision precision) : previous_(current_precision) { current_precision = precision; }
PrecisionScope::~PrecisionScope() { current_precision = previous_; }

DType operand_dtype(Precision precision) {
  switch (precision) {
    case Precision::BF16: return DType::BF16;
    case Precision::FP16: return DType::F16;
    case Precision::FP32: break;
  }
  return DType::F32;
}

}  // namespace bigcolor
