// The primitive ops of bigcolor, forward/backward pairs, one signature for both backends.
//
// Conventions (the rule for the whole kernels folder):
// - Arguments: outputs first, then inputs, then weights, then sizes/flags. Backward mirrors the forward:
//   `xxx_backward(d_inputs..., d_weights..., d_out, saved inputs..., flags)`.
// - Tensor is a handle: outputs are passed as `const Tensor&` and written in place. Every output must already be
//   allocated with the right shape, dtype F32 and the same device as the inputs; ops never allocate outputs.
// - An undefined Tensor{} for a gradient output means "not wanted": it is not computed.
// - Parameter gradients (d_weight, d_bias, d_table, d_gamma, d_beta) ACCUMULATE (+=), so several uses of one
//   parameter and several micro-batches add up; zero them before a step. Activation gradients (d_in, d_a, d_b)
//   OVERWRITE; where two branches meet (a residual sum) the caller adds the second into the first (add_forward).
// - Every op checks shapes, dtypes and devices and throws bigcolor::Error naming the op and the mismatch. The
//   dispatchers in ops.cpp do those checks once, then call cpu::xxx or cuda::xxx (same signatures, no checks).
// - Images are NCHW float32. Shapes in comments: (B, C, H, W).
#pragma once

#include "kernels/conv_window.h"
#include "tensor/tensor.h"

namespace bigcolor::ops {
#include "kernels/op_signatures.inc"
#include "kernels/fused_signatures.inc"
#include "kernels/inference_signatures.inc"
#include "kernels/precision_signatures.inc"
}  // namespace bigcolor::ops
