// PNG reading and writing with libpng (see image.h for the layouts read and what is written).
#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "imaging/codecs.h"
#include "tensor/error.h"

// libpng (Debian libpng-dev).
#include <png.h>

namespace bigcolor::detail {

namespace {

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

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

// PNG: every chunk complete and with a correct CRC, up to IEND, checked before libpng sees the file: a cut or
// damaged file then gets a message that says so, and a bad CRC in an ancillary chunk (which libpng would only warn
// about) is an error too.
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

struct PngDecoder {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t pos = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char message[256] = {};
  // After png_read_update_info: the decoded rows' layout.
  std::size_t rowbytes = 0;
  int channels = 0;
  int bit_depth = 0;
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  PngDecoder() = default;
  ~PngDecoder() {
    if (png) png_destroy_read_struct(&png, &info, nullptr);
  }
};

struct PngEncoder {
  std::vector<std::uint8_t>* out = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char message[256] = {};
  PngEncoder(const PngEncoder&) = delete;
  PngEncoder& operator=(const PngEncoder&) = delete;
  PngEncoder() = default;
  ~PngEncoder() {
    if (png) png_destroy_write_struct(&png, &info);
  }
};

// libpng's error callback; its error pointer is the PngDecoder or PngEncoder, which keeps the message.
template <typename Codec>
[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
  Codec* codec = static_cast<Codec*>(png_get_error_ptr(png));
  std::snprintf(codec->message, sizeof codec->message, "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

void png_warning_ignored(png_structp, png_const_charp) {}  // e.g. a bad ancillary chunk, which is then skipped

void png_read_bytes(png_structp png, png_bytep out, std::size_t size) {
  PngDecoder& d = *static_cast<PngDecoder*>(png_get_io_ptr(png));
  if (size > d.size - d.pos) png_error(png, "file ends early");
  std::memcpy(out, d.data + d.pos, size);
  d.pos += size;
}

void png_write_bytes(png_structp png, png_bytep data, std::size_t size) {
  PngEncoder& e = *static_cast<PngEncoder*>(png_get_io_ptr(png));
  if (!append_bytes(*e.out, data, size)) png_error(png, "out of memory");
}

void png_flush_nothing(png_structp) {}

// Reads the chunks before the image data and sets the transformations: palette -> RGB, gray of 1, 2 or 4 bits ->
// 8 bits, alpha (an alpha channel, or tRNS transparency) dropped without compositing; 16 bits stay 16 bits
// (big-endian). Ancillary chunks other than tRNS are skipped unread (no gamma, ICC profile or text is applied or
// decompressed).
bool png_read_header_guarded(PngDecoder& d) {
  if (setjmp(png_jmpbuf(d.png))) return false;
  png_set_read_fn(d.png, &d, png_read_bytes);
  png_set_keep_unknown_chunks(d.png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_set_user_limits(d.png, kMaxImageSide, kMaxImageSide);
  png_read_info(d.png, d.info);
  png_set_expand(d.png);
  png_set_strip_alpha(d.png);
  png_set_interlace_handling(d.png);
  png_read_update_info(d.png, d.info);
  d.rowbytes = png_get_rowbytes(d.png, d.info);
  d.channels = png_get_channels(d.png, d.info);
  d.bit_depth = png_get_bit_depth(d.png, d.info);
  return true;
}

bool png_read_rows_guarded(PngDecoder& d, png_bytepp rows) {
  if (setjmp(png_jmpbuf(d.png))) return false;
  png_read_image(d.png, rows);
  png_read_end(d.png, nullptr);
  return true;
}

bool png_encode_guarded(PngEncoder& e, int width, int height, int channels, png_bytepp rows) {
  if (setjmp(png_jmpbuf(e.png))) return false;
  png_set_write_fn(e.png, &e, png_write_bytes, png_flush_nothing);
  png_set_IHDR(e.png, e.info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(e.png, e.info);
  png_write_image(e.png, rows);
  png_write_end(e.png, nullptr);
  return true;
}

}  // namespace

Image load_png(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  // The size limits from IHDR, which must be the first chunk, before anything else is looked at.
  const bool has_ihdr =
      bytes.size() >= 8 + 8 + 13 && be32(&bytes[8]) == 13 && starts_with(bytes, {'I', 'H', 'D', 'R'}, 12);
  if (!has_ihdr) {
    check_png_structure(path, bytes);  // a cut or damaged file says so
    detail::throw_error(path, ": corrupt PNG (the first chunk is not IHDR)");
  }
  check_size(path, Format::PNG, be32(&bytes[16]), be32(&bytes[20]));
  check_png_structure(path, bytes);

  PngDecoder d;
  d.data = bytes.data();
  d.size = bytes.size();
  d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, png_fail<PngDecoder>, png_warning_ignored);
  if (d.png) d.info = png_create_info_struct(d.png);
  BIGCOLOR_CHECK(d.png && d.info, path, ": cannot read PNG: libpng could not start (out of memory)");
  if (!png_read_header_guarded(d)) detail::throw_error(path, ": corrupt PNG (libpng: ", d.message, ")");
  const png_uint_32 width = png_get_image_width(d.png, d.info), height = png_get_image_height(d.png, d.info);
  BIGCOLOR_CHECK(width == be32(&bytes[16]) && height == be32(&bytes[20]), path,
                 ": corrupt PNG (libpng read another size than IHDR's)");
  const int bytes_per_sample = d.bit_depth / 8;
  BIGCOLOR_CHECK((d.channels == 1 || d.channels == 3) && (d.bit_depth == 8 || d.bit_depth == 16) &&
                     d.rowbytes == std::size_t{width} * static_cast<std::size_t>(d.channels * bytes_per_sample),
                 path, ": corrupt PNG (unexpected decoded layout: ", d.channels, " channels of ", d.bit_depth,
                 " bits)");

  std::vector<std::uint8_t> raw(d.rowbytes * height);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = raw.data() + std::size_t{y} * d.rowbytes;
  if (!png_read_rows_guarded(d, rows.data())) detail::throw_error(path, ": corrupt PNG (libpng: ", d.message, ")");

  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = d.channels;
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * image.channels);
  if (bytes_per_sample == 2) {
    for (std::size_t i = 0; i < image.pixels.size(); ++i) {
      const unsigned v = (unsigned{raw[2 * i]} << 8) | raw[2 * i + 1];
      image.pixels[i] = static_cast<float>(v) / 65535.0f;
    }
  } else {
    const auto& table = u8_to_float();
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = table[raw[i]];
  }
  return image;
}

std::vector<std::uint8_t> encode_png(const std::string& path, std::vector<std::uint8_t>& samples, const Image& image) {
  std::vector<std::uint8_t> encoded;
  std::vector<png_bytep> rows(static_cast<std::size_t>(image.height));
  for (std::size_t y = 0; y < rows.size(); ++y) {
    rows[y] = samples.data() + y * static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.channels);
  }
  PngEncoder e;
  e.out = &encoded;
  e.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, png_fail<PngEncoder>, png_warning_ignored);
  if (e.png) e.info = png_create_info_struct(e.png);
  BIGCOLOR_CHECK(e.png && e.info, path, ": PNG encoding failed: libpng could not start (out of memory)");
  if (!png_encode_guarded(e, image.width, image.height, image.channels, rows.data())) {
    detail::throw_error(path, ": PNG encoding failed (libpng: ", e.message, ")");
  }
  return encoded;
}

}  // namespace bigcolor::detail
