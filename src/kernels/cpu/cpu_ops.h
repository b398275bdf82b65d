// The CPU backend: the readable reference implementation of every op (see ../ops.h for the contract).
// Arguments are trusted: ops:: has checked shapes, dtypes and devices before calling here.
#pragma once

#include "tensor/tensor.h"

namespace bigcolor::cpu {
#include "kernels/op_signatures.inc"
#include "kernels/fused_signatures.inc"
}  // namespace bigcolor::cpu
