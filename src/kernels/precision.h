// The thread's compute-precision policy (bigcolor/precision.h), read by the dispatchers of the autocast ops in
// ops_lowp.cpp. Like torch.autocast it is per thread and scoped: FP32 unless a PrecisionScope says otherwise, so
// the FP32 paths are untouched. The OpenMP workers inside an op never read it; only the calling thread does.
#pragma once

#include "bigcolor/precision.h"
#include "tensor/dtype.h"

namespace bigcolor {

Precision compute_precision();

// Sets the calling thread's precision until the scope ends (nested scopes restore the outer one).
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision precision);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

// The storage type of a reduced precision's operands: BF16 or F16 (F32 for FP32).
DType operand_dtype(Precision precision);

}  // namespace bigcolor
