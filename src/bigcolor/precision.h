// The compute precision of the matrix-multiply ops (the role torch.autocast plays in PyTorch), for the library API
// and the command line's --precision.
//   FP32: everything in float32 (the reference; bit-for-bit what the FP32 tests check).
//   BF16: convolutions, the upsampling convolution, linear layers, batched matmuls and the attention core read
//         their operands rounded to bfloat16 and accumulate in float32; everything else stays float32.
//   FP16: the same with IEEE half precision operands (training needs loss scaling: values past 65504 become Inf).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bigcolor {

enum class Precision : std::uint8_t { FP32, BF16, FP16 };

// "fp32", "bf16", "fp16".
const char* precision_name(Precision precision);
// The inverse of precision_name; nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view name);

}  // namespace bigcolor
