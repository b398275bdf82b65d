// Pictures in and out, part of the public API (<bigcolor/bigcolor.h>): the float image the colorizer takes and
// returns, and the PNG/JPEG/BMP files it is read from and written to (src/imaging/image.h documents the decoding
// and encoding exactly as the official pipeline's PIL + torchvision do it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bigcolor {

// PIL's JPEG quality when `Image.save` is given none, which is what the official code saves with.
inline constexpr int kOfficialJpegQuality = 75;

// An image as float samples in [0, 1], interleaved: pixels[(y * width + x) * channels + c].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;           // 1 (gray) or 3 (RGB)
  std::vector<float> pixels;  // height x width x channels, row-major, values in [0,1]

  float at(int y, int x, int c) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

// A PNG, JPEG or BMP file (8- or 16-bit, gray, RGB, palette; alpha dropped). Error: the file and the problem.
Image load_image(const std::string& path);

// .png (8-bit, lossless) or .jpg/.jpeg (baseline, 4:2:0, `jpeg_quality` 1..100), chosen by the extension; written
// atomically (a temporary file renamed over `path`). The image must have 1 or 3 channels and width * height *
// channels pixels; values outside [0,1] are clamped first (NaN -> 0).
void save_image(const std::string& path, const Image& image, int jpeg_quality = kOfficialJpegQuality);

}  // namespace bigcolor
