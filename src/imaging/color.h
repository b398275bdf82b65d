// CIE Lab as the official utils/color_models.py computes it (float32, the same operations in the same order), the
// Lab fusion of colorize_real.py, and the tensor -> Image step before saving.
//
// rgb -> lab: sRGB to linear (x > 0.04045 ? ((x + 0.055) / 1.055)^2.4 : x / 12.92), the 0.412453 ... 0.950227
// matrix to XYZ, division by the D65 white (0.95047, 1.0, 1.08883), f(t) = t > 0.008856 ? t^(1/3) :
// 7.787 t + 4/29, then L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz). (4/29 = 16/116 exactly.)
// lab -> rgb: fy = (L + 16) / 116, fx = a / 500 + fy, fz = max(fy - b / 200, 0), f > 0.2068966 ? f^3 :
// (f - 4/29) / 7.787, times the white, the inverse matrix (3.2404813432005266 ...), linear to sRGB
// (v > 0.0031308 ? 1.055 max(v, 0.0031308)^(1/2.4) - 0.055 : 12.92 v), then (clip) clamped to [0,1].
#pragma once

#include "imaging/image.h"
#include "tensor/tensor.h"

namespace bigcolor {

// (..., 3, H, W) F32 CPU tensors; the result has the input's shape.
Tensor rgb_to_lab(const Tensor& rgb);
Tensor lab_to_rgb(const Tensor& lab, bool clip = true);

// colorize_real.py's fusion: L from the gray input (gray * 100), a and b from the colour image (rgb_to_lab), back to
// RGB (clipped). gray (1, H, W) in [0,1], rgb (3, H, W) in [0,1] (the model output mapped by (o + 1) / 2 and resized
// to the gray's size); also accepts both with a leading batch of 1. Returns (3, H, W) in [0,1].
Tensor lab_fusion(const Tensor& gray, const Tensor& rgb);

// A (C, H, W) or (1, C, H, W) F32 tensor (C = 1 or 3, any device) as an Image (H x W x C). Values are clamped to
// [0,1] (NaN -> 0); save_image then truncates x * 255 as ToPILImage does (`mul(255).byte()`).
Image to_image(const Tensor& chw);

}  // namespace bigcolor
