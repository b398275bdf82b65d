#include "imaging/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/files.h"

// libjpeg-turbo (Debian libjpeg62-turbo-dev) and libpng (libpng-dev) read and write JPEG and PNG. jpeglib.h needs
// <cstdio> (FILE, size_t) first; jerror.h gives the message codes.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

// stb_image (Debian libstb-dev) reads BMP only; it is compiled here, privately (static functions). A third-party
// header, included as a system header.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb/stb_image.h>

namespace bigcolor {
namespace {

// Files above this size are refused before reading.
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
  std::vector<std::uint8_t> bytes = read_regular_file(path, kMaxFileBytes, "an image");
  BIGCOLOR_CHECK(!bytes.empty(), path, ": empty file (0 bytes), not an image");
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

// JPEG: the image data must be followed by an end-of-image marker. Inside entropy-coded data a 0xFF byte is
// always followed by 0x00 or a restart marker, so FF DA (start of scan) and FF D9 (end of image) cannot occur
// there. (libjpeg would complete a cut file with gray, with a warning, which load_jpeg makes an error too; this
// check gives such a file the message that it is truncated.)
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
  // stb_image reads uncompressed rows (0) and bit fields (3) only, but takes a compression field that is negative as
  // an int for 0 (and would then read zeros past the end of the file): every other value is refused here.
  BIGCOLOR_CHECK(compression == 0 || compression == 3, path, ": unsupported BMP (compression type ", compression,
                 "; bigcolor reads uncompressed BMP images only)");
  // Sides over the limit are check_size's to refuse (and the arithmetic below could overflow on them).
  if (width <= 0 || bpp == 0 || width > kMaxImageSide || std::llabs(height) > kMaxImageSide) return;
  const std::int64_t row_bytes = (static_cast<std::int64_t>(bpp) * width + 31) / 32 * 4;
  const std::int64_t needed = static_cast<std::int64_t>(data_offset) + row_bytes * std::llabs(height);
  BIGCOLOR_CHECK(static_cast<std::int64_t>(b.size()) >= needed, path, ": truncated BMP (", b.size(), " of ", needed,
                 " bytes)");
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

// ---- C libraries and setjmp/longjmp ----------------------------------------------------------------------------
// libjpeg and libpng report a fatal error through a callback that must not return; ours record the message and
// longjmp back to the setjmp of the "guarded" function that called into the library, which returns false. A
// guarded function calls setjmp first and then only the library and plain arithmetic on its arguments: it holds no
// object with a destructor (so the longjmp skips no C++ cleanup, as [csetjmp.syn] requires) and reads no local
// after the longjmp. The library objects are released by the destructors of JpegDecoder, JpegEncoder,
// PngDecoder and PngEncoder, on success and failure alike; the caller then throws a bigcolor::Error naming the
// file.

// ---- libjpeg ---------------------------------------------------------------------------------------------------

// Progressive JPEGs may have any number of scans, each a pass over the whole image: more than this many are
// refused (libjpeg-turbo's own tools use the same bound against files built to take forever).
constexpr int kMaxJpegScans = 500;

struct JpegErrors {
  jpeg_error_mgr mgr;  // first member: libjpeg's cinfo->err points at it, and so at the whole struct
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
static_assert(std::is_standard_layout_v<JpegErrors>);

JpegErrors& jpeg_errors(j_common_ptr cinfo) { return *reinterpret_cast<JpegErrors*>(cinfo->err); }

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  (*cinfo->err->format_message)(cinfo, jpeg_errors(cinfo).message);
  std::longjmp(jpeg_errors(cinfo).jump, 1);
}

// libjpeg goes on after a "warning" by inventing data: a file that ends early, or whose entropy-coded data hits a
// marker, is completed with gray; a bad Huffman or arithmetic code is skipped. Those are errors here, so a damaged
// file is never returned as a partly made-up picture. The warnings that do not touch the pixels are let through,
// as PIL does: unknown JFIF revision or Adobe transform code, a bad ICC marker, and extraneous bytes between
// segments (padding that some cameras write before the end-of-image marker). Trace messages (level >= 0) are
// ignored; nothing is ever printed.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  switch (cinfo->err->msg_code) {
    case JWRN_ADOBE_XFORM:
    case JWRN_JFIF_MAJOR:
    case JWRN_BOGUS_ICC:
    case JWRN_EXTRANEOUS_DATA:
      return;
    default:
      jpeg_fail(cinfo);
  }
}

void jpeg_print_nothing(j_common_ptr) {}

void jpeg_count_scans(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxJpegScans) {
    std::snprintf(jpeg_errors(cinfo).message, sizeof jpeg_errors(cinfo).message, "more than %d scans",
                  kMaxJpegScans);
    std::longjmp(jpeg_errors(cinfo).jump, 1);
  }
}

void init_jpeg_errors(JpegErrors& errors) {
  jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_fail;
  errors.mgr.emit_message = jpeg_message;
  errors.mgr.output_message = jpeg_print_nothing;
}

struct JpegDecoder {
  jpeg_decompress_struct cinfo{};  // zeroed: jpeg_destroy_decompress is then harmless even before creation
  JpegErrors errors{};
  jpeg_progress_mgr progress{};
  JpegDecoder() { init_jpeg_errors(errors); }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder() { jpeg_destroy_decompress(&cinfo); }
};

bool jpeg_read_header_guarded(JpegDecoder& d, const std::uint8_t* data, std::size_t size) {
  d.cinfo.err = &d.errors.mgr;
  if (setjmp(d.errors.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.progress.progress_monitor = jpeg_count_scans;
  d.cinfo.progress = &d.progress;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  if (jpeg_read_header(&d.cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(d.errors.message, sizeof d.errors.message, "no image in the file");
    return false;
  }
  return true;
}

// Decodes every scanline into `out` (output_height x output_width x `channels` floats, v / 255). 4-component
// (CMYK) output becomes RGB as PIL does: PIL takes every 4-component JPEG as Adobe's inverted CMYK and its
// convert("RGB") computes, per channel, k' - round(c' * k' / 255) with c' = 255 - stored c, k' = stored k.
bool jpeg_decode_guarded(JpegDecoder& d, float* out, int channels, const std::array<float, 256>& table) {
  if (setjmp(d.errors.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  const int components = d.cinfo.output_components;
  const int expected = channels == 1 ? 1 : d.cinfo.out_color_space == JCS_CMYK ? 4 : 3;
  if (components != expected || d.cinfo.output_width != d.cinfo.image_width ||
      d.cinfo.output_height != d.cinfo.image_height) {  // `out` holds the header's size
    std::snprintf(d.errors.message, sizeof d.errors.message, "unexpected decoder output layout");
    return false;
  }
  const std::size_t width = d.cinfo.output_width;
  JSAMPARRAY row = (*d.cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&d.cinfo), JPOOL_IMAGE,
                                                static_cast<JDIMENSION>(width * components), 1);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    float* dst = out + std::size_t{d.cinfo.output_scanline} * width * static_cast<std::size_t>(channels);
    if (jpeg_read_scanlines(&d.cinfo, row, 1) != 1) {
      std::snprintf(d.errors.message, sizeof d.errors.message, "no more scanlines");
      return false;
    }
    const JSAMPLE* src = row[0];
    if (components == 4) {
      for (std::size_t x = 0; x < width; ++x, src += 4, dst += 3) {
        const int k = src[3];
        for (int c = 0; c < 3; ++c) {
          const int t = (255 - src[c]) * k + 128;
          dst[c] = table[static_cast<std::size_t>(k - ((t + (t >> 8)) >> 8))];
        }
      }
    } else {
      for (std::size_t i = 0; i < width * static_cast<std::size_t>(components); ++i) dst[i] = table[src[i]];
    }
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

Image load_jpeg(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  JpegDecoder d;
  if (!jpeg_read_header_guarded(d, bytes.data(), bytes.size())) {
    // A frame header that was read (libjpeg itself refuses sides over 65500) is judged by the size limits first;
    // a cut file says so rather than what libjpeg tripped on.
    if (d.cinfo.image_width > 0 && d.cinfo.image_height > 0) {
      check_size(path, Format::JPEG, d.cinfo.image_width, d.cinfo.image_height);
    }
    check_jpeg_structure(path, bytes);
    detail::throw_error(path, ": corrupt JPEG (libjpeg: ", d.errors.message, ")");
  }
  check_size(path, Format::JPEG, d.cinfo.image_width, d.cinfo.image_height);
  check_jpeg_structure(path, bytes);

  Image image;
  switch (d.cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      d.cinfo.out_color_space = JCS_GRAYSCALE;
      image.channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      d.cinfo.out_color_space = JCS_RGB;
      image.channels = 3;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d.cinfo.out_color_space = JCS_CMYK;  // YCCK is converted to CMYK by libjpeg, CMYK to RGB here
      image.channels = 3;
      break;
    default:
      detail::throw_error(path, ": unsupported JPEG (", d.cinfo.num_components,
                          " colour components of an unknown colour space)");
  }
  // libjpeg's defaults otherwise, as PIL leaves them: accurate integer IDCT, fancy (smooth) chroma upsampling.
  image.width = static_cast<int>(d.cinfo.image_width);
  image.height = static_cast<int>(d.cinfo.image_height);
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * image.channels);
  const auto& table = u8_to_float();
  if (!jpeg_decode_guarded(d, image.pixels.data(), image.channels, table)) {
    detail::throw_error(path, ": corrupt JPEG (libjpeg: ", d.errors.message, ")");
  }
  return image;
}

// JPEG output into a growing buffer, through a fixed chunk.
struct JpegSink {
  jpeg_destination_mgr mgr;  // first member: cinfo->dest points at it, and so at the whole struct
  std::vector<std::uint8_t>* out;
  std::array<JOCTET, 16384> chunk;
};
static_assert(std::is_standard_layout_v<JpegSink>);

JpegSink& jpeg_sink(j_compress_ptr cinfo) { return *reinterpret_cast<JpegSink*>(cinfo->dest); }

void jpeg_sink_init(j_compress_ptr cinfo) {
  JpegSink& sink = jpeg_sink(cinfo);
  sink.mgr.next_output_byte = sink.chunk.data();
  sink.mgr.free_in_buffer = sink.chunk.size();
}

boolean jpeg_sink_flush(j_compress_ptr cinfo) {  // the whole chunk, whatever free_in_buffer says (libjpeg's rule)
  JpegSink& sink = jpeg_sink(cinfo);
  if (!append_bytes(*sink.out, sink.chunk.data(), sink.chunk.size())) ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
  jpeg_sink_init(cinfo);
  return TRUE;
}

void jpeg_sink_finish(j_compress_ptr cinfo) {
  JpegSink& sink = jpeg_sink(cinfo);
  if (!append_bytes(*sink.out, sink.chunk.data(), sink.chunk.size() - sink.mgr.free_in_buffer)) {
    ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
  }
}

struct JpegEncoder {
  jpeg_compress_struct cinfo{};  // zeroed: jpeg_destroy_compress is then harmless even before creation
  JpegErrors errors{};
  JpegSink sink{};
  explicit JpegEncoder(std::vector<std::uint8_t>& out) {
    init_jpeg_errors(errors);
    sink.mgr.init_destination = jpeg_sink_init;
    sink.mgr.empty_output_buffer = jpeg_sink_flush;
    sink.mgr.term_destination = jpeg_sink_finish;
    sink.out = &out;
  }
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;
  ~JpegEncoder() { jpeg_destroy_compress(&cinfo); }
};

// Baseline JPEG as PIL writes it by default: libjpeg's defaults (JFIF header, accurate integer DCT, standard
// Huffman tables), jpeg_set_quality(quality, force_baseline), YCbCr with 4:2:0 chroma subsampling for RGB; gray
// images as 1-component JPEGs.
bool jpeg_encode_guarded(JpegEncoder& e, const std::uint8_t* samples, int width, int height, int channels,
                         int quality) {
  e.cinfo.err = &e.errors.mgr;
  if (setjmp(e.errors.jump)) return false;
  jpeg_create_compress(&e.cinfo);
  e.cinfo.dest = &e.sink.mgr;
  e.cinfo.image_width = static_cast<JDIMENSION>(width);
  e.cinfo.image_height = static_cast<JDIMENSION>(height);
  e.cinfo.input_components = channels;
  e.cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&e.cinfo);
  jpeg_set_quality(&e.cinfo, quality, TRUE);
  if (channels == 3) {  // 4:2:0: luma 2 x 2, chroma 1 x 1 (libjpeg's default too; said here so it stays so)
    e.cinfo.comp_info[0].h_samp_factor = e.cinfo.comp_info[0].v_samp_factor = 2;
    for (int c = 1; c < 3; ++c) e.cinfo.comp_info[c].h_samp_factor = e.cinfo.comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(&e.cinfo, TRUE);
  const std::size_t stride = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  while (e.cinfo.next_scanline < e.cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(samples + std::size_t{e.cinfo.next_scanline} * stride);
    jpeg_write_scanlines(&e.cinfo, &row, 1);
  }
  jpeg_finish_compress(&e.cinfo);
  return true;
}

// ---- libpng ----------------------------------------------------------------------------------------------------

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

// ---- BMP (stb_image) -------------------------------------------------------------------------------------------

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown error";
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

Image load_bmp(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  BIGCOLOR_CHECK(bytes.size() <= static_cast<std::size_t>(std::numeric_limits<int>::max()), path,
                 ": BMP file too large");
  const int len = static_cast<int>(bytes.size());
  int width = 0, height = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &width, &height, &comp)) {
    check_bmp_structure(path, bytes);  // a cut or damaged file says so rather than what stb tripped on
    detail::throw_error(path, ": corrupt BMP (stb_image: ", stb_reason(), ")");
  }
  check_size(path, Format::BMP, width, height);
  check_bmp_structure(path, bytes);

  Image image;
  image.channels = comp <= 2 ? 1 : 3;  // RGB(A), palette -> RGB; alpha ignored
  int w = 0, h = 0, in_file = 0;
  std::unique_ptr<stbi_uc, StbFree> data(stbi_load_from_memory(bytes.data(), len, &w, &h, &in_file, image.channels));
  if (!data) detail::throw_error(path, ": corrupt BMP (stb_image: ", stb_reason(), ")");
  BIGCOLOR_CHECK(w == width && h == height, path, ": corrupt BMP (decoded size differs from the header's)");
  image.width = w;
  image.height = h;
  image.pixels.resize(static_cast<std::size_t>(w) * h * image.channels);
  const auto& table = u8_to_float();
  for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = table[data.get()[i]];
  return image;
}

// ---- writing ---------------------------------------------------------------------------------------------------

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
  if (jpeg) {
    BIGCOLOR_CHECK(jpeg_quality >= 1 && jpeg_quality <= 100, path, ": JPEG quality ", jpeg_quality,
                   " is not in 1..100");
    BIGCOLOR_CHECK(image.width <= JPEG_MAX_DIMENSION && image.height <= JPEG_MAX_DIMENSION, path,
                   ": JPEG sides are at most ", JPEG_MAX_DIMENSION, " pixels");
  }
  std::vector<std::uint8_t> samples(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), samples.begin(), float_to_u8);

  std::vector<std::uint8_t> encoded;
  if (png) {
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
  } else {
    JpegEncoder e(encoded);
    if (!jpeg_encode_guarded(e, samples.data(), image.width, image.height, image.channels, jpeg_quality)) {
      detail::throw_error(path, ": JPEG encoding failed (libjpeg: ", e.errors.message, ")");
    }
  }
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

}  // namespace bigcolor
