#include "eval/image_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "imaging/color.h"
#include "tensor/error.h"

namespace bigcolor::eval {

Rgb8 to_rgb8(const Image& image) {
  BIGCOLOR_CHECK(image.channels == 1 || image.channels == 3, "eval: an image with ", image.channels, " channels");
  Rgb8 out;
  out.width = image.width;
  out.height = image.height;
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  out.px.resize(n * 3);
  for (std::size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      const float v = image.pixels[i * image.channels + (image.channels == 3 ? c : 0)];
      out.px[i * 3 + c] = static_cast<std::uint8_t>(std::clamp(std::lround(v * 255.0f), 0L, 255L));
    }
  return out;
}

double colorfulness(const Rgb8& image, bool signed_differences) {
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  BIGCOLOR_CHECK(n > 0, "colorfulness of an empty image");
  double s_rg = 0, s_yb = 0, q_rg = 0, q_yb = 0;
  std::vector<double> rg(n), yb(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double r = image.px[i * 3], g = image.px[i * 3 + 1], b = image.px[i * 3 + 2];
    rg[i] = signed_differences ? r - g : std::abs(r - g);
    yb[i] = signed_differences ? 0.5 * (r + g) - b : std::abs(0.5 * (r + g) - b);
    s_rg += rg[i];
    s_yb += yb[i];
  }
  const double m_rg = s_rg / n, m_yb = s_yb / n;
  for (std::size_t i = 0; i < n; ++i) {  // two passes: the variances without cancellation
    q_rg += (rg[i] - m_rg) * (rg[i] - m_rg);
    q_yb += (yb[i] - m_yb) * (yb[i] - m_yb);
  }
  return std::sqrt(q_rg / n + q_yb / n) + 0.3 * std::sqrt(m_rg * m_rg + m_yb * m_yb);
}

namespace {

void check_same_size(const Rgb8& a, const Rgb8& b, const std::string& what) {
  BIGCOLOR_CHECK(a.width == b.width && a.height == b.height, what, ": sizes differ (", a.width, "x", a.height,
                 " and ", b.width, "x", b.height, ")");
}

}  // namespace

double psnr(const Rgb8& ref, const Rgb8& pred, const std::string& what) {
  check_same_size(ref, pred, what);
  double sum = 0;
  for (std::size_t i = 0; i < ref.px.size(); ++i) {
    const double d = static_cast<double>(ref.px[i]) - pred.px[i];
    sum += d * d;
  }
  const double mse = sum / static_cast<double>(ref.px.size());
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssim(const Rgb8& ref, const Rgb8& pred, const std::string& what) {
  check_same_size(ref, pred, what);
  constexpr int kWin = 7, kPad = (kWin - 1) / 2;
  const int w = ref.width, h = ref.height;
  BIGCOLOR_CHECK(w >= kWin && h >= kWin, what, ": ", w, "x", h, " is smaller than SSIM's 7x7 window");
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  const double np = kWin * kWin, cov_norm = np / (np - 1);
  double total = 0;
  for (int c = 0; c < 3; ++c) {
    // The SSIM map is averaged over the pixels whose 7×7 window lies inside the image (skimage crops the 3-pixel
    // border, where its reflected padding would matter), so only full windows are ever summed.
    double channel = 0;
    for (int y = kPad; y < h - kPad; ++y)
      for (int x = kPad; x < w - kPad; ++x) {
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (int dy = -kPad; dy <= kPad; ++dy)
          for (int dx = -kPad; dx <= kPad; ++dx) {
            const std::size_t i = (static_cast<std::size_t>(y + dy) * w + (x + dx)) * 3 + c;
            const double a = ref.px[i], b = pred.px[i];
            sx += a, sy += b, sxx += a * a, syy += b * b, sxy += a * b;
          }
        const double ux = sx / np, uy = sy / np;
        const double vx = cov_norm * (sxx / np - ux * ux), vy = cov_norm * (syy / np - uy * uy);
        const double vxy = cov_norm * (sxy / np - ux * uy);
        channel += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      }
    total += channel / (static_cast<double>(w - 2 * kPad) * (h - 2 * kPad));
  }
  return total / 3.0;
}

namespace {

// (3, H, W) CIELAB of an 8-bit RGB picture.
Tensor lab_of(const Rgb8& im) {
  const std::int64_t hw = static_cast<std::int64_t>(im.width) * im.height;
  const Tensor rgb = Tensor::empty({3, im.height, im.width});
  float* p = rgb.data<float>();
  for (std::int64_t i = 0; i < hw; ++i)
    for (int c = 0; c < 3; ++c) p[c * hw + i] = static_cast<float>(im.px[static_cast<std::size_t>(i * 3 + c)]) / 255.0f;
  return rgb_to_lab(rgb);
}

}  // namespace

AbErrors ab_errors(const Rgb8& ref, const Rgb8& pred, double a0, double b0, const std::string& what) {
  BIGCOLOR_CHECK(ref.width == pred.width && ref.height == pred.height, what, ": ", pred.width, "x", pred.height,
                 " against a ", ref.width, "x", ref.height, " reference: the ab error compares images of one size");
  const std::int64_t hw = static_cast<std::int64_t>(ref.width) * ref.height;
  BIGCOLOR_CHECK(hw > 0, what, ": empty image");
  const Tensor lr = lab_of(ref), lp = lab_of(pred);
  const float* ar = lr.data<float>() + hw;
  const float* br = ar + hw;
  const float* ap = lp.data<float>() + hw;
  const float* bp = ap + hw;
  AbErrors e;
  for (std::int64_t i = 0; i < hw; ++i) {
    e.pred += std::abs(double{ap[i]} - ar[i]) + std::abs(double{bp[i]} - br[i]);
    e.gray += std::abs(double{ar[i]}) + std::abs(double{br[i]});
    e.constant += std::abs(a0 - ar[i]) + std::abs(b0 - br[i]);
    e.mean_a_ref += ar[i];
    e.mean_b_ref += br[i];
  }
  const double n = static_cast<double>(hw);
  e.pred /= 2 * n;
  e.gray /= 2 * n;
  e.constant /= 2 * n;
  e.mean_a_ref /= n;
  e.mean_b_ref /= n;
  return e;
}

}  // namespace bigcolor::eval
