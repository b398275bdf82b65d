// Where a convolution's window goes over its input: one stride for both axes and a zero padding given per side.
// Per-side padding is what TF's "same" padding needs (timm's Conv2dSame): for a total padding T along an axis,
// T/2 before and T − T/2 after, so a 3×3 kernel at stride 2 on an even size pads 0 before and 1 after.
#pragma once

#include <cstdint>

namespace bigcolor {

struct ConvWindow {
  int stride = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  // The same padding p on every side.
  static ConvWindow symmetric(int stride, int pad) { return {stride, pad, pad, pad, pad}; }
  // TF "same" padding for an input of in_h × in_w and a kernel kh × kw: the output is ceil(in / stride) and the
  // total padding of an axis is max((out − 1)·stride + k − in, 0), split as above.
  static ConvWindow same(int stride, std::int64_t in_h, std::int64_t in_w, std::int64_t kh, std::int64_t kw);

  // Output size along one axis: (in + before + after − k) / stride + 1 (floor); ≤ 0 when the kernel does not fit.
  std::int64_t out_h(std::int64_t in_h, std::int64_t kh) const { return (in_h + pad_top + pad_bottom - kh) / stride + 1; }
  std::int64_t out_w(std::int64_t in_w, std::int64_t kw) const { return (in_w + pad_left + pad_right - kw) / stride + 1; }
  bool is_symmetric() const { return pad_top == pad_bottom && pad_left == pad_right && pad_top == pad_left; }
};

// Output size of a pooling window without padding in ceil mode (PyTorch's rule): ceil((n − kernel)/stride) + 1,
// less one when that last window would start at or past n. Needs n ≥ kernel.
inline std::int64_t ceil_mode_pool_size(std::int64_t n, int kernel, int stride) {
  std::int64_t out = (n - kernel + stride - 1) / stride + 1;
  if ((out - 1) * stride >= n) --out;
  return out;
}

inline ConvWindow ConvWindow::same(int stride, std::int64_t in_h, std::int64_t in_w, std::int64_t kh,
                                   std::int64_t kw) {
  auto total = [stride](std::int64_t in, std::int64_t k) {
    const std::int64_t out = (in + stride - 1) / stride;
    const std::int64_t t = (out - 1) * stride + k - in;
    return static_cast<int>(t > 0 ? t : 0);
  };
  const int th = total(in_h, kh), tw = total(in_w, kw);
  return {stride, th / 2, th - th / 2, tw / 2, tw - tw / 2};
}

}  // namespace bigcolor
