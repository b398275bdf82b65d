// Nearest ×2 upsampling and 2×2 pooling on the CPU, parallel over (batch · channel) planes.
// Pooling floors odd sizes as PyTorch does: the last row/column of an odd input is ignored and gets zero gradient.
#include <algorithm>

#include "kernels/cpu/cpu_ops.h"

namespace bigcolor::cpu {

namespace {
struct Planes {
  std::int64_t count, h, w;  // the low-resolution side: (B·C, H, W)
};
Planes planes_of(const Tensor& t) { return {t.dim(0) * t.dim(1), t.dim(2), t.dim(3)}; }
}  // namespace

void upsample_nearest2x_forward(const Tensor& out, const Tensor& in) {
  const Planes p = planes_of(in);
  const float* x = in.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl)
    for (std::int64_t oy = 0; oy < 2 * p.h; ++oy)
      for (std::int64_t ox = 0; ox < 2 * p.w; ++ox)
        y[(pl * 2 * p.h + oy) * 2 * p.w + ox] = x[(pl * p.h + oy / 2) * p.w + ox / 2];
}

void upsample_nearest2x_backward(const Tensor& d_in, const Tensor& d_out) {
  const Planes p = planes_of(d_in);
  const float* g = d_out.data<float>();
  float* dx = d_in.data<float>();
  const std::int64_t ow = 2 * p.w;
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl)
    for (std::int64_t y = 0; y < p.h; ++y)
      for (std::int64_t x = 0; x < p.w; ++x) {
        const float* q = g + (pl * 2 * p.h + 2 * y) * ow + 2 * x;
        dx[(pl * p.h + y) * p.w + x] = q[0] + q[1] + q[ow] + q[ow + 1];
      }
}

void avgpool2x2_forward(const Tensor& out, const Tensor& in) {
  const Planes p = planes_of(in);
  const std::int64_t oh = p.h / 2, ow = p.w / 2;
  const float* x = in.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        const float* q = x + (pl * p.h + 2 * i) * p.w + 2 * j;
        y[(pl * oh + i) * ow + j] = 0.25f * (q[0] + q[1] + q[p.w] + q[p.w + 1]);
      }
}

void avgpool2x2_backward(const Tensor& d_in, const Tensor& d_out) {
  const Planes p = planes_of(d_in);
  const std::int64_t oh = p.h / 2, ow = p.w / 2;
  const float* g = d_out.data<float>();
  float* dx = d_in.data<float>();
  d_in.zero();  // covers the dropped odd row/column
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        const float v = 0.25f * g[(pl * oh + i) * ow + j];
        float* q = dx + (pl * p.h + 2 * i) * p.w + 2 * j;
        q[0] = v;
        q[1] = v;
        q[p.w] = v;
        q[p.w + 1] = v;
      }
}

namespace {
// Offset (within the plane) of the first maximum of the 2×2 window at (i, j), scanning row by row.
std::int64_t argmax_2x2(const float* plane, std::int64_t w, std::int64_t i, std::int64_t j) {
  const std::int64_t base = 2 * i * w + 2 * j;
  const std::int64_t offsets[4] = {base, base + 1, base + w, base + w + 1};
  std::int64_t best = offsets[0];
  for (int k = 1; k < 4; ++k)
    if (plane[offsets[k]] > plane[best]) best = offsets[k];
  return best;
}
}  // namespace

void maxpool2x2_forward(const Tensor& out, const Tensor& in) {
  const Planes p = planes_of(in);
  const std::int64_t oh = p.h / 2, ow = p.w / 2;
  const float* x = in.data<float>();
  float* y = out.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl) {
    const float* plane = x + pl * p.h * p.w;
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) y[(pl * oh + i) * ow + j] = plane[argmax_2x2(plane, p.w, i, j)];
  }
}

void maxpool2x2_backward(const Tensor& d_in, const Tensor& d_out, const Tensor& in) {
  const Planes p = planes_of(in);
  const std::int64_t oh = p.h / 2, ow = p.w / 2;
  const float* x = in.data<float>();
  const float* g = d_out.data<float>();
  float* dx = d_in.data<float>();
  d_in.zero();
#pragma omp parallel for schedule(static)
  for (std::int64_t pl = 0; pl < p.count; ++pl) {
    const float* plane = x + pl * p.h * p.w;
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) dx[pl * p.h * p.w + argmax_2x2(plane, p.w, i, j)] = g[(pl * oh + i) * ow + j];
  }
}

}  // namespace bigcolor::cpu
