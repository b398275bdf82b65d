// Internal to src/imaging (not part of the library's interface): what image.cpp (reading the file, telling the
// format, the load/save dispatch) and the codecs (codec_png.cpp: libpng, codec_jpeg.cpp: libjpeg-turbo,
// codec_bmp.cpp: stb_image) share. Each codec file is the only one that includes its C library's header.
//
// C libraries and setjmp/longjmp (codec_png.cpp, codec_jpeg.cpp): libjpeg and libpng report a fatal error through a
// callback that must not return; ours record the message and longjmp back to the setjmp of the "guarded" function
// that called into the library, which returns false. A guarded function calls setjmp first and then only the library
// and plain arithmetic on its arguments: it holds no object with a destructor (so the longjmp skips no C++ cleanup,
// as [csetjmp.syn] requires) and reads no local after the longjmp. The library objects are released by the
// destructors of JpegDecoder, JpegEncoder, PngDecoder and PngEncoder, on success and failure alike; the caller then
// throws a bigcolor::Error naming the file.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "imaging/image.h"

namespace bigcolor::detail {

enum class Format { PNG, JPEG, BMP };
const char* format_name(Format f);

// Whether `b` holds the bytes `magic` from offset `at`.
bool starts_with(const std::vector<std::uint8_t>& b, std::initializer_list<int> magic, std::size_t at = 0);

// The uint8 -> float table of ToTensor: v / 255.0f in float32.
const std::array<float, 256>& u8_to_float();

// The size limits, from a header's width and height (before any pixel is decoded).
void check_size(const std::string& path, Format format, std::int64_t width, std::int64_t height);

// Appends bytes to a buffer without letting an exception out: the encoders' output callbacks run inside C
// libraries, through which no exception may unwind; they report a failure as a library error instead.
bool append_bytes(std::vector<std::uint8_t>& out, const std::uint8_t* data, std::size_t size) noexcept;

// The codecs. Each load_* gets the whole file, already known to start with its format's signature, and returns the
// image or throws bigcolor::Error naming `path`; each encode_* gets the 8-bit samples (height x width x channels)
// of an image that encode_image has checked, and returns the encoded file.
Image load_png(const std::string& path, const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> encode_png(const std::string& path, std::vector<std::uint8_t>& samples, const Image& image);
Image load_jpeg(const std::string& path, const std::vector<std::uint8_t>& bytes);
// The JPEG-only checks of encode_image (quality, side limit), before any sample is converted.
void check_jpeg_encodable(const std::string& path, const Image& image, int jpeg_quality);
std::vector<std::uint8_t> encode_jpeg(const std::string& path, const std::vector<std::uint8_t>& samples,
                                      const Image& image, int jpeg_quality);
Image load_bmp(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace bigcolor::detail
