// The CPU's native bf16 engine: convolutions and the attention core's forward on oneDNN (Debian's libdnnl-dev), which runs bf16 on Intel AMX tiles
// where the CPU has them (Sapphire Rapids and later) and on AVX512-BF16 otherwise.
//
// Why oneDNN and not our own AMX tiles: measured on the 2-core Sapphire Rapids development machine (2026-12-02,
// tools/... in bench/results/2026-12-02-cpu-2core-mixed-precision.md), oneDNN 2.6.3's AMX convolution
// (brgconv:avx512_core_amx_bf16, which 2.6 enables by default) reached 1.25–2.9 TFLOP/s on BigColor's 3×3 layers
// against 0.17 TFLOP/s for OpenBLAS's sgemm, including its blocked-layout reorders; a hand-written tile kernel
// would have to re-create those reorders, the blocking and the threading to come close. Debian's OpenBLAS 0.3.21
// is built without sbgemm, so it has no bf16 GEMM to offer.
//
// Operands (in, weight, d_out) are converted to bf16 by oneDNN's reorders on the way in; results are F32 (NCHW,
// as every op's), accumulated in F32. Arguments are trusted (ops:: checked them).
#pragma once

#include "tensor/tensor.h"

namespace bigcolor::cpu::dnnl_engine {

// True when this build has oneDNN and the CPU computes bf16 natively (AVX512-BF16 or AMX): only then is the engine
// used; otherwise bf16 runs the emulated path (operands rounded to bf16, F32 arithmetic), slower but the same
// numbers. Never an illegal instruction: oneDNN picks its code from the CPU it finds.
bool bf16_native();
// The ISA oneDNN runs on, for the benchmarks' records ("avx512_core_amx", "avx512_core_bf16", ... or "none").
const char* isa_name();

// out (B, Cout, OH, OW) = conv(U, weight) + bias, stride 1, zero padding `padding`, U = in, or with `upsample`
// U = upsample_nearest2x(in) (the upsampling convolution, padding 1, 3×3).
void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding,
                    bool upsample);
// The op contract: d_in overwritten; d_weight, d_bias accumulated; undefined = not wanted.
void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding, bool upsample);
// The attention core's forward (ops.h's attention_forward: out (B, Cv, N), lse (B, N) from θ (B, Ck, N),
// φ (B, Ck, M), g (B, Cv, M)) with both products on bf16 operands and oneDNN's softmax; P enters the second
// product rounded to bf16. Measured at the 768×1024 photo's shape (N = 49,152, M = 12,288): see dnnl_engine.cpp.
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g);

}  // namespace bigcolor::cpu::dnnl_engine
