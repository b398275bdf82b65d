// The CUDA backend: same signatures as the CPU backend (see ../ops.h for the contract). cuDNN for convolution,
// cuBLAS for the matrix products, handwritten kernels for the rest. All work runs on the default stream.
#pragma once

#include "kernels/conv_window.h"
#include "tensor/tensor.h"

namespace bigcolor::cuda {
#include "kernels/op_signatures.inc"
#include "kernels/fused_signatures.inc"
#include "kernels/inference_signatures.inc"
#include "kernels/precision_signatures.inc"
}  // namespace bigcolor::cuda
