// Resizing as the official colorize_real.py does it: torchvision `Resize` on a tensor, which in torchvision 0.11 is
// torch.nn.functional.interpolate(mode='bilinear', align_corners=False) with no antialiasing, and the sizes its
// `--type_resize` modes ask for.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace bigcolor {

// Bilinear resize of a (B, C, H, W) F32 CPU tensor to (B, C, out_h, out_w), as interpolate(mode='bilinear',
// align_corners=False, antialias=False): source coordinate (dst + 0.5) * (in / out) - 0.5 in float32, clamped at
// 0, two taps per axis. Downscaling therefore skips pixels (no antialiasing), as the official code does. The
// same size returns an exact copy.
Tensor resize_bilinear(const Tensor& x, int out_h, int out_w);

struct ImageSize {
  int height = 0;
  int width = 0;
  bool operator==(const ImageSize&) const = default;
};

// colorize_real.py --type_resize:
//   powerof  (the real-photo default, with size_target 256, num_power 4): the short side becomes size_target and the
//            long side ceil(long * (size_target / short) / 2^num_power) * 2^num_power, in double precision exactly
//            as the official Python (so e.g. 182 x 273 gives a long side of 400, not 384: 273 * (256 / 182) is a
//            hair above 384). Landscape (width > height) -> (size_target, long); otherwise, squares included,
//            (long, size_target). size_target must be a multiple of 2^num_power.
//   square   (size_target, size_target).
//   original the input size.
//   absolute torchvision 0.11 Resize(size_target): the short side becomes size_target and the long side
//            int(size_target * long / short) (truncated); unchanged when the short side already is size_target.
// The model's output is resized back to the input's original size (resize_bilinear to its height and width).
enum class ResizeMode { PowerOf, Square, Original, Absolute };

ResizeMode parse_resize_mode(const std::string& name);  // "powerof", "square", "original", "absolute"
const char* resize_mode_name(ResizeMode mode);

// The size the model is run at for an input of in_h x in_w. Errors: non-positive sizes or target, num_power
// outside 0..10, size_target not a multiple of 2^num_power (powerof), a result over 2^20 pixels a side (a guard
// against overflow only: what fits the model's memory is the caller's to judge).
ImageSize model_input_size(int in_h, int in_w, ResizeMode mode, int size_target = 256, int num_power = 4);

}  // namespace bigcolor
