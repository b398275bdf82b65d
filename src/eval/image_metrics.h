// The per-image metrics of `bigcolor eval`, on 8-bit RGB as the colorization papers' scripts compute them:
//   colorfulness  Hasler & Süsstrunk (2003) in the papers' variant: rg = |R − G|, yb = |½(R + G) − B| over all
//                 pixels, σ = sqrt(var(rg) + var(yb)) (population variances), μ = sqrt(mean(rg)² + mean(yb)²),
//                 C = σ + 0.3·μ. `signed_differences`: the original rg = R − G, yb = ½(R + G) − B.
//   psnr          skimage.metrics.peak_signal_noise_ratio(ref, pred, data_range=255): 10·log10(255² / MSE), the MSE
//                 over every pixel and channel (+inf for identical images).
//   ssim          skimage.metrics.structural_similarity(ref, pred, channel_axis=2, data_range=255) with its
//                 defaults: 7×7 uniform window, K1 0.01, K2 0.03, sample covariances (× 49/48); per channel the mean
//                 of the SSIM map without its 3-pixel border, then the mean of the three channels. Images must be
//                 at least 7×7.
//   ab errors     the mean absolute error of the CIELAB a and b channels (rgb_to_lab of imaging/color.h, the
//                 official float32 conversion, from v/255), (|Δa| + |Δb|) / 2 over every pixel; with it, the error
//                 a = b = 0 (the gray input itself) and a constant (a0, b0) would have, and the reference's mean a, b.
// Everything in double precision (ab: the Lab values in float32, as the official code, then sums in double).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bigcolor/image.h"

namespace bigcolor::eval {

// An 8-bit RGB picture, interleaved: px[(y·width + x)·3 + c].
struct Rgb8 {
  int width = 0, height = 0;
  std::vector<std::uint8_t> px;
};

// A decoded image (values v/255 from an 8-bit file; a 16-bit one is rounded to 8 bits) as 8-bit RGB; a gray image's
// one channel is repeated (as PIL's convert('RGB')).
Rgb8 to_rgb8(const Image& image);

double colorfulness(const Rgb8& image, bool signed_differences = false);
// `what` names the pair in errors (sizes must be equal).
double psnr(const Rgb8& ref, const Rgb8& pred, const std::string& what = "images");
double ssim(const Rgb8& ref, const Rgb8& pred, const std::string& what = "images");

struct AbErrors {
  double pred = 0;        // mean (|a_pred − a_ref| + |b_pred − b_ref|) / 2
  double gray = 0;        // the same for a = b = 0
  double constant = 0;    // the same for a = a0, b = b0
  double mean_a_ref = 0, mean_b_ref = 0;
};
AbErrors ab_errors(const Rgb8& ref, const Rgb8& pred, double a0, double b0, const std::string& what = "images");

}  // namespace bigcolor::eval
