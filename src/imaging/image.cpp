// The Image type's conversions, reading a file and telling its format, and the load/save dispatch to the codecs
// (codec_png.cpp, codec_jpeg.cpp, codec_bmp.cpp; what they share is declared in codecs.h).
#include "imaging/image.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>

#include "imaging/codecs.h"
#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor {

namespace detail {

const char* format_name(Format f) {
  switch (f) {
    case Format::PNG: return "PNG";
    case Format::JPEG: return "JPEG";
    case Format::BMP: return "BMP";
  }
  return "?";
}

bool starts_with(const std::vector<std::uint8_t>& b, std::initializer_list<int> magic, std::size_t at) {
  if (b.size() < at + magic.size()) return false;
  std::size_t i = at;
  for (int m : magic) {
    if (b[i++] != static_cast<std::uint8_t>(m)) return false;
  }
  return true;
}

// The uint8 -> float table of ToTensor: v / 255.0f in float32.
const std::array<float, 256>& u8_to_float() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[static_cast<std::size_t>(v)] = static_cast<float>(v) / 255.0f;
    return t;
  }();
  return table;
}

// The size limits, from a header's width and height (before any pixel is decoded).
void check_size(const std::string& path, Format format, std::int64_t width, std::int64_t height) {
  BIGCOLOR_CHECK(width <= kMaxImageSide && height <= kMaxImageSide, path, ": image is ", width, " x ", height,
                 " pixels, over the limit of ", kMaxImageSide, " pixels a side");
  const std::int64_t pixels = width * height;
  BIGCOLOR_CHECK(pixels <= kMaxImagePixels, path, ": image is ", width, " x ", height, " pixels (", pixels,
                 "), over the limit of ", kMaxImagePixels, " pixels");
  BIGCOLOR_CHECK(width > 0 && height > 0, path, ": corrupt ", format_name(format), " (zero width or height)");
}

// Appends bytes to a buffer without letting an exception out: the encoders' output callbacks run inside C
// libraries, through which no exception may unwind; they report a failure as a library error instead.
bool append_bytes(std::vector<std::uint8_t>& out, const std::uint8_t* data, std::size_t size) noexcept {
  try {
    out.insert(out.end(), data, data + size);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace detail

using namespace detail;  // the codecs and what they share (codecs.h)

namespace {

// Files above this size are refused before reading.
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{1} << 30;

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_regular_file(path, kMaxFileBytes, "an image");
  BIGCOLOR_CHECK(!bytes.empty(), path, ": empty file (0 bytes), not an image");
  return bytes;
}

Format sniff_format(const std::string& path, const std::vector<std::uint8_t>& b) {
  if (starts_with(b, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return Format::PNG;
  if (starts_with(b, {0xFF, 0xD8, 0xFF})) return Format::JPEG;
  if (starts_with(b, {'B', 'M'})) return Format::BMP;
  const char* other = nullptr;
  if (starts_with(b, {'G', 'I', 'F', '8'})) other = "GIF";
  if (starts_with(b, {'I', 'I', '*', 0}) || starts_with(b, {'M', 'M', 0, '*'})) other = "TIFF";
  if (starts_with(b, {'R', 'I', 'F', 'F'}) && starts_with(b, {'W', 'E', 'B', 'P'}, 8)) other = "WebP";
  if (other) detail::throw_error(path, ": ", other, " image: bigcolor reads PNG, JPEG and BMP images only");
  detail::throw_error(path, ": not a PNG, JPEG or BMP image (unknown file signature)");
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// torchvision's rgb_to_grayscale on a float tensor is three scalings and two additions, each its own tensor op
// rounded to float32. A fused multiply-add (which GCC forms by default in C++ on FMA targets, and clang within an
// expression) would round differently in the last bit, so contraction is turned off for this loop: the result is
// then bit-identical to the official pipeline's gray input.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void gray_from_rgb(const float* r, const float* g, const float* b, float* out, std::size_t n) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = (0.2989f * r[i] + 0.587f * g[i]) + 0.114f * b[i];
}

}  // namespace

Image load_image(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  switch (sniff_format(path, bytes)) {
    case Format::PNG: return load_png(path, bytes);
    case Format::JPEG: return load_jpeg(path, bytes);
    case Format::BMP: return load_bmp(path, bytes);
  }
  detail::throw_error(path, ": unknown image format");
}

std::uint8_t float_to_u8(float x) {
  if (!(x > 0.0f)) return 0;  // also NaN
  if (x >= 1.0f) return 255;
  return static_cast<std::uint8_t>(x * 255.0f);  // truncation, as torch's float -> uint8 cast
}

std::vector<std::uint8_t> encode_image(const std::string& path, const Image& image, int jpeg_quality) {
  const std::string ext = lower_extension(path);
  const bool png = ext == ".png";
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  BIGCOLOR_CHECK(png || jpeg, path, ": unknown image file extension '", ext, "' (use .png, .jpg or .jpeg)");
  BIGCOLOR_CHECK(image.channels == 1 || image.channels == 3, path, ": cannot save an image with ", image.channels,
                 " channels (1 or 3)");
  BIGCOLOR_CHECK(image.width > 0 && image.height > 0, path, ": cannot save an empty image (", image.width, " x ",
                 image.height, ")");
  BIGCOLOR_CHECK(image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels, path,
                 ": image holds ", image.pixels.size(), " values, not ", image.width, " x ", image.height, " x ",
                 image.channels);
  if (jpeg) check_jpeg_encodable(path, image, jpeg_quality);
  std::vector<std::uint8_t> samples(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), samples.begin(), float_to_u8);

  std::vector<std::uint8_t> encoded =
      png ? encode_png(path, samples, image) : encode_jpeg(path, samples, image, jpeg_quality);
  BIGCOLOR_CHECK(!encoded.empty(), path, ": ", png ? "PNG" : "JPEG", " encoding failed (no output)");
  return encoded;
}

void save_image(const std::string& path, const Image& image, int jpeg_quality) {
  const std::vector<std::uint8_t> encoded = encode_image(path, image, jpeg_quality);
  write_file_atomically(path, encoded.data(), encoded.size(), "image file");
}

Tensor to_tensor(const Image& image) {
  BIGCOLOR_CHECK(image.channels == 1 || image.channels == 3, "to_tensor: image has ", image.channels,
                 " channels (1 or 3)");
  const std::size_t hw = static_cast<std::size_t>(image.width) * image.height;
  BIGCOLOR_CHECK(image.pixels.size() == hw * image.channels, "to_tensor: image holds ", image.pixels.size(),
                 " values, not ", image.width, " x ", image.height, " x ", image.channels);
  Tensor t = Tensor::empty({1, image.channels, image.height, image.width});
  float* out = t.data<float>();
  for (int c = 0; c < image.channels; ++c) {
    for (std::size_t i = 0; i < hw; ++i) out[c * hw + i] = image.pixels[i * image.channels + c];
  }
  return t;
}

Tensor to_gray(const Image& image) {
  Tensor x = to_tensor(image);
  if (image.channels == 1) return x;
  const std::size_t hw = static_cast<std::size_t>(image.width) * image.height;
  Tensor gray = Tensor::empty({1, 1, image.height, image.width});
  const float* r = x.data<float>();
  const float* g = r + hw;
  const float* b = g + hw;
  gray_from_rgb(r, g, b, gray.data<float>(), hw);
  return gray;
}

ImageFileKind image_file_kind(const std::string& name) {
  static constexpr const char* kReadable[] = {".jpg", ".jpeg", ".png", ".bmp"};
  static constexpr const char* kUnsupported[] = {".ppm", ".pgm", ".tif", ".tiff", ".webp"};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto ends_with = [&](const char* ext) { return lower.ends_with(ext); };
  if (std::any_of(std::begin(kReadable), std::end(kReadable), ends_with)) return ImageFileKind::Readable;
  if (std::any_of(std::begin(kUnsupported), std::end(kUnsupported), ends_with)) return ImageFileKind::Unsupported;
  return ImageFileKind::Other;
}

}  // namespace bigcolor
