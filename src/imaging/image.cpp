#include "imaging/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tensor/error.h"

// stb_image / stb_image_write (Debian libstb-dev) are compiled here, privately (static functions), with only the
// decoders this file accepts. They are third-party headers, included as system headers.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

namespace bigcolor {
namespace {

// Files above this size are refused before reading (stb_image takes an int length).
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{1} << 30;

enum class Format { PNG, JPEG, BMP };

const char* format_name(Format f) {
  switch (f) {
    case Format::PNG: return "PNG";
    case Format::JPEG: return "JPEG";
    case Format::BMP: return "BMP";
  }
  return "?";
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    detail::throw_error(path, ": cannot read image file: no such file");
  }
  BIGCOLOR_CHECK(!std::filesystem::is_directory(status), path, ": cannot read image file: it is a directory");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) detail::throw_error(path, ": cannot read image file: ", std::strerror(errno));
  const std::streamoff size = in.tellg();
  BIGCOLOR_CHECK(size >= 0, path, ": cannot read image file: cannot tell its size");
  BIGCOLOR_CHECK(static_cast<std::uintmax_t>(size) <= kMaxFileBytes, path, ": file is ", size,
                 " bytes, over the limit of ", kMaxFileBytes, " bytes for an image");
  BIGCOLOR_CHECK(size > 0, path, ": empty file (0 bytes), not an image");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  BIGCOLOR_CHECK(in.good(), path, ": cannot read image file: read error");
  return bytes;
}

bool starts_with(const std::vector<std::uint8_t>& b, std::initializer_list<int> magic, std::size_t at = 0) {
  if (b.size() < at + magic.size()) return false;
  std::size_t i = at;
  for (int m : magic) {
    if (b[i++] != static_cast<std::uint8_t>(m)) return false;
  }
  return true;
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

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8); }

// CRC-32 (ISO 3309, the polynomial PNG uses), bitwise table.
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// PNG: every chunk complete and with a correct CRC, up to IEND. stb_image itself would read zeros past the end of
// the data and checks no CRC, so a cut or damaged file would otherwise decode into a partly gray picture.
void check_png_structure(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::size_t pos = 8;
  std::string last = "the signature";
  while (true) {
    BIGCOLOR_CHECK(pos + 8 <= b.size(), path, ": truncated PNG (file ends after ", last, ", before IEND)");
    const std::uint32_t length = be32(&b[pos]);
    const std::string type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    const bool letters = std::all_of(type.begin(), type.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    });
    BIGCOLOR_CHECK(letters && length <= 0x7FFFFFFFu, path, ": corrupt PNG (invalid chunk header after ", last, ")");
    BIGCOLOR_CHECK(pos + 12 + std::size_t{length} <= b.size(), path, ": truncated PNG (file ends inside chunk '",
                   type, "')");
    const std::uint32_t stored = be32(&b[pos + 8 + length]);
    BIGCOLOR_CHECK(crc32(&b[pos + 4], 4 + std::size_t{length}) == stored, path,
                   ": corrupt PNG (CRC mismatch in chunk '", type, "')");
    if (type == "IEND") return;
    last = "chunk '" + type + "'";
    pos += 12 + std::size_t{length};
  }
}

// JPEG: the image data must be followed by an end-of-image marker. Inside entropy-coded data a 0xFF byte is
// always followed by 0x00 or a restart marker, so FF DA (start of scan) and FF D9 (end of image) cannot occur
// there. stb_image reads zeros past the end of a cut file and would return a partly gray picture.
void check_jpeg_structure(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::size_t last_sos = std::string::npos;
  for (std::size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i;
  }
  BIGCOLOR_CHECK(last_sos != std::string::npos, path, ": truncated JPEG (the file ends before the image data)");
  for (std::size_t i = last_sos + 2; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return;
  }
  detail::throw_error(path, ": truncated JPEG (no end-of-image marker after the image data)");
}

// BMP: for uncompressed layouts, the pixel rows the header promises must be in the file.
void check_bmp_structure(const std::string& path, const std::vector<std::uint8_t>& b) {
  BIGCOLOR_CHECK(b.size() >= 26, path, ": truncated BMP (", b.size(), " bytes, shorter than its header)");
  const std::uint32_t data_offset = le32(&b[10]);
  const std::uint32_t dib_size = le32(&b[14]);
  std::int64_t width = 0, height = 0;
  std::uint32_t bpp = 0, compression = 0;
  if (dib_size == 12) {
    width = le16(&b[18]);
    height = le16(&b[20]);
    bpp = le16(&b[24]);
  } else if (dib_size >= 40) {
    BIGCOLOR_CHECK(b.size() >= 14 + std::size_t{dib_size}, path, ": truncated BMP (", b.size(),
                   " bytes, shorter than its header)");
    width = static_cast<std::int32_t>(le32(&b[18]));
    height = static_cast<std::int32_t>(le32(&b[22]));
    bpp = le16(&b[28]);
    compression = le32(&b[30]);
  } else {
    return;  // a layout stb_image will judge
  }
  if (compression != 0 && compression != 3 && compression != 6) return;  // only uncompressed rows have a known size
  if (width <= 0 || bpp == 0) return;
  const std::int64_t row_bytes = (static_cast<std::int64_t>(bpp) * width + 31) / 32 * 4;
  const std::int64_t needed = static_cast<std::int64_t>(data_offset) + row_bytes * std::llabs(height);
  BIGCOLOR_CHECK(static_cast<std::int64_t>(b.size()) >= needed, path, ": truncated BMP (", b.size(), " of ", needed,
                 " bytes)");
}

void check_structure(const std::string& path, Format format, const std::vector<std::uint8_t>& b) {
  switch (format) {
    case Format::PNG: check_png_structure(path, b); break;
    case Format::JPEG: check_jpeg_structure(path, b); break;
    case Format::BMP: check_bmp_structure(path, b); break;
  }
}

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown error";
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// The uint8 -> float table of ToTensor: v / 255.0f in float32.
const std::array<float, 256>& u8_to_float() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[static_cast<std::size_t>(v)] = static_cast<float>(v) / 255.0f;
    return t;
  }();
  return table;
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* p = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  static std::atomic<unsigned> counter{0};
  const std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    detail::throw_error(path, ": cannot write image file: ", std::strerror(err));
  }
  std::size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    detail::throw_error(path, ": cannot write image file: ", std::strerror(err));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(temp.c_str());
    detail::throw_error(path, ": cannot replace file: ", std::strerror(err));
  }
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
  const Format format = sniff_format(path, bytes);
  const int len = static_cast<int>(bytes.size());

  int width = 0, height = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &width, &height, &comp)) {
    check_structure(path, format, bytes);  // a cut or damaged file says so rather than what stb tripped on
    detail::throw_error(path, ": corrupt ", format_name(format), " (stb_image: ", stb_reason(), ")");
  }
  BIGCOLOR_CHECK(width <= kMaxImageSide && height <= kMaxImageSide, path, ": image is ", width, " x ", height,
                 " pixels, over the limit of ", kMaxImageSide, " pixels a side");
  const std::int64_t pixels = static_cast<std::int64_t>(width) * height;
  BIGCOLOR_CHECK(pixels <= kMaxImagePixels, path, ": image is ", width, " x ", height, " pixels (", pixels,
                 "), over the limit of ", kMaxImagePixels, " pixels");
  BIGCOLOR_CHECK(width > 0 && height > 0, path, ": corrupt ", format_name(format), " (zero width or height)");
  check_structure(path, format, bytes);

  Image image;
  image.channels = comp <= 2 ? 1 : 3;  // gray(+alpha) -> gray; RGB(A), palette -> RGB; alpha ignored
  int w = 0, h = 0, in_file = 0;
  if (stbi_is_16_bit_from_memory(bytes.data(), len)) {
    std::unique_ptr<stbi_us, StbFree> data(
        stbi_load_16_from_memory(bytes.data(), len, &w, &h, &in_file, image.channels));
    if (!data) detail::throw_error(path, ": corrupt ", format_name(format), " (stb_image: ", stb_reason(), ")");
    image.width = w;
    image.height = h;
    image.pixels.resize(static_cast<std::size_t>(w) * h * image.channels);
    for (std::size_t i = 0; i < image.pixels.size(); ++i) {
      image.pixels[i] = static_cast<float>(data.get()[i]) / 65535.0f;
    }
  } else {
    std::unique_ptr<stbi_uc, StbFree> data(stbi_load_from_memory(bytes.data(), len, &w, &h, &in_file, image.channels));
    if (!data) detail::throw_error(path, ": corrupt ", format_name(format), " (stb_image: ", stb_reason(), ")");
    image.width = w;
    image.height = h;
    image.pixels.resize(static_cast<std::size_t>(w) * h * image.channels);
    const auto& table = u8_to_float();
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = table[data.get()[i]];
  }
  BIGCOLOR_CHECK(w == width && h == height, path, ": corrupt ", format_name(format),
                 " (decoded size differs from the header's)");
  return image;
}

std::uint8_t float_to_u8(float x) {
  if (!(x > 0.0f)) return 0;  // also NaN
  if (x >= 1.0f) return 255;
  return static_cast<std::uint8_t>(x * 255.0f);  // truncation, as torch's float -> uint8 cast
}

void save_image(const std::string& path, const Image& image, int jpeg_quality) {
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
  if (jpeg) {
    BIGCOLOR_CHECK(jpeg_quality >= 1 && jpeg_quality <= 100, path, ": JPEG quality ", jpeg_quality,
                   " is not in 1..100");
    BIGCOLOR_CHECK(image.width <= 65535 && image.height <= 65535, path, ": JPEG sides are at most 65535 pixels");
  }
  std::vector<std::uint8_t> samples(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), samples.begin(), float_to_u8);

  std::vector<std::uint8_t> encoded;
  const int ok = png ? stbi_write_png_to_func(append_bytes, &encoded, image.width, image.height, image.channels,
                                              samples.data(), image.width * image.channels)
                     : stbi_write_jpg_to_func(append_bytes, &encoded, image.width, image.height, image.channels,
                                              samples.data(), jpeg_quality);
  BIGCOLOR_CHECK(ok != 0 && !encoded.empty(), path, ": ", png ? "PNG" : "JPEG", " encoding failed");
  write_atomically(path, encoded);
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

}  // namespace bigcolor
