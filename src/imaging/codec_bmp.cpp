// BMP reading with stb_image (uncompressed and bit-field BMPs; see image.h).
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "imaging/codecs.h"
#include "tensor/error.h"

// stb_image (Debian libstb-dev) reads BMP only; it is compiled here, privately (static functions). A third-party
// header, included as a system header.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb/stb_image.h>

namespace bigcolor::detail {

namespace {

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
std::uint32_t le16(const std::uint8_t* p) { return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8); }

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

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown error";
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

}  // namespace

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

}  // namespace bigcolor::detail
