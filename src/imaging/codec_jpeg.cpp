// JPEG reading and writing with libjpeg-turbo, with PIL's settings (see image.h for what is read and written).
#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "imaging/codecs.h"
#include "tensor/error.h"

// libjpeg-turbo (Debian libjpeg62-turbo-dev). jpeglib.h needs <cstdio> (FILE, size_t) first; jerror.h gives the
// message codes.
#include <jpeglib.h>
#include <jerror.h>

namespace bigcolor::detail {

namespace {

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

}  // namespace

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

void check_jpeg_encodable(const std::string& path, const Image& image, int jpeg_quality) {
  BIGCOLOR_CHECK(jpeg_quality >= 1 && jpeg_quality <= 100, path, ": JPEG quality ", jpeg_quality,
                 " is not in 1..100");
  BIGCOLOR_CHECK(image.width <= JPEG_MAX_DIMENSION && image.height <= JPEG_MAX_DIMENSION, path,
                 ": JPEG sides are at most ", JPEG_MAX_DIMENSION, " pixels");
}

std::vector<std::uint8_t> encode_jpeg(const std::string& path, const std::vector<std::uint8_t>& samples,
                                      const Image& image, int jpeg_quality) {
  std::vector<std::uint8_t> encoded;
  JpegEncoder e(encoded);
  if (!jpeg_encode_guarded(e, samples.data(), image.width, image.height, image.channels, jpeg_quality)) {
    detail::throw_error(path, ": JPEG encoding failed (libjpeg: ", e.errors.message, ")");
  }
  return encoded;
}

}  // namespace bigcolor::detail
