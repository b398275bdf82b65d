// The CPU backend: the readable reference implementation of every op (see ../ops.h for the contract).
// Arguments are trusted: ops:: has checked shapes, dtypes and devices before calling here.
#pragma once

#include "kernels/conv_window.h"
#include "tensor/tensor.h"

namespace bigcolor::cpu {
#include "kernels/op_signatures.inc"
#include "kernels/fused_signatures.inc"
#include "kernels/inference_signatures.inc"
#include "kernels/precision_signatures.inc"
}  // namespace bigcolor::cpu
