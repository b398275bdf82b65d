// Image handling against torchvision / PIL / the official colour code: decoding (tests/golden/images/), gray
// conversion, bilinear resize, the official resize sizes, Lab conversion and fusion, the float -> uint8 step, and
// saving (round trips, atomic replacement, clear errors). References: tests/golden/imaging.safetensors, written by
// tools/make_golden_imaging.py (see its header for the layout and how to regenerate). A stored tensor that no
// check read is a failure, so a reference cannot be dropped silently.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "imaging/color.h"
#include "imaging/image.h"
#include "imaging/resize.h"
#include "kernels/ops.h"
#include "tensor/error.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
namespace fs = std::filesystem;

constexpr double kResizeMaxAbs = 1e-6;    // bilinear resize vs PyTorch, max abs error
constexpr double kColorTolerance = 1e-5;  // Lab conversions vs the official code, normalized error

// The reference file. Each test reads the tensors of its own prefixes and ends with all_checked(prefixes), which
// fails for a stored tensor under them that it never read; a last test checks that every stored tensor belongs to
// one of the prefixes some test covers.
class Golden {
 public:
  Golden() : file_(load_safetensors(test::golden_path("imaging.safetensors"))) {}

  const Tensor& t(const std::string& key) {
    REQUIRE_MESSAGE(file_.contains(key), "imaging.safetensors: missing tensor ", key);
    used_.insert(key);
    return file_.at(key);
  }
  std::string meta(const std::string& key) const {
    const auto it = file_.metadata.find(key);
    REQUIRE_MESSAGE(it != file_.metadata.end(), "imaging.safetensors: missing metadata ", key);
    return it->second;
  }
  // Keys starting with `prefix`, the prefix removed.
  std::vector<std::string> keys(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& [key, tensor] : file_.tensors) {
      if (key.rfind(prefix, 0) == 0) out.push_back(key.substr(prefix.size()));
    }
    return out;
  }
  std::vector<std::string> all_keys() const { return keys(""); }
  void all_checked(const std::vector<std::string>& prefixes) const {
    for (const std::string& prefix : prefixes) {
      for (const std::string& rest : keys(prefix)) {
        if (used_.count(prefix + rest) == 0) FAIL_CHECK("imaging.safetensors: ", prefix + rest, " was never checked");
      }
    }
  }

 private:
  SafetensorsFile file_;
  std::set<std::string> used_;
};

const std::vector<std::string> kCoveredPrefixes = {"decode.", "gray.", "resize.", "sizes.", "lab.", "fusion.",
                                                   "quant."};

std::string image_path(const std::string& name) { return test::golden_path("images/" + name); }

// A fresh folder for one test's files.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bigcolor_test_imaging_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Names in `dir` other than `keep` (temporary files a save left behind).
std::vector<std::string> other_files(const fs::path& dir, const std::set<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (keep.count(name) == 0) out.push_back(name);
  }
  return out;
}

// An H x W x C tensor of an Image's pixels.
Tensor pixels_tensor(const Image& image) {
  return Tensor::from_vector(image.pixels, {image.height, image.width, image.channels});
}

double max_abs(const Tensor& a, const Tensor& b) { return test::compare(a, b).max_abs_error; }

// Checks that `call` throws a bigcolor::Error whose message names `path` and contains `problem`.
template <typename F>
void check_error(F&& call, const std::string& path, const std::string& problem) {
  INFO("file: ", path);
  CHECK_THROWS_WITH_AS(call(), doctest::Contains(problem.c_str()), Error);
  try {
    call();
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind(path, 0) == 0);  // the message starts with the file's path
    CHECK(std::string(e.what()).find('\n') == std::string::npos);  // and is one line
  }
}

// A smooth colour field (slowly varying chroma: what JPEG's 4:2:0 chroma subsampling is made for), H x W x C.
Image make_smooth_image(int h, int w, int c) {
  Image image;
  image.height = h;
  image.width = w;
  image.channels = c;
  image.pixels.resize(static_cast<std::size_t>(h) * w * c);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        image.pixels[(static_cast<std::size_t>(y) * w + x) * c + k] =
            0.5f + 0.35f * std::sin(0.11f * static_cast<float>(x) + 0.07f * static_cast<float>(y) +
                                    1.3f * static_cast<float>(k));
      }
    }
  }
  return image;
}

// ---- small PNG and JPEG files made here, for layouts and damage the golden files do not cover ----------------

std::uint32_t crc32_of(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char ch : bytes) {
    crc ^= ch;
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

std::string be_bytes(std::uint32_t v, int n) {
  std::string out;
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  return out;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be_bytes(static_cast<std::uint32_t>(data.size()), 4) + type + data + be_bytes(crc32_of(type + data), 4);
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::string zlib_stored(const std::string& raw) {
  std::string out = "\x78\x01";
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(raw.size() - pos, 65535);
    out.push_back(pos + n == raw.size() ? '\x01' : '\x00');
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xFF);
    out += static_cast<char>((~n >> 8) & 0xFF);
    out += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  return out + be_bytes((b << 16) | a, 4);
}

// A PNG of 8- or 16-bit samples (height x width x samples_per_pixel values, row-major), every row filter 0,
// optionally Adam7-interlaced; `chunks` (PLTE, tRNS, ...) go between IHDR and IDAT. `keep_rows` < height cuts
// the image data short (the file is otherwise well formed).
std::string png_file(int width, int height, int bit_depth, int color_type, int samples_per_pixel,
                     const std::vector<unsigned>& samples, bool interlaced, const std::string& chunks = "",
                     int keep_rows = -1) {
  const int bytes_per_sample = bit_depth / 8;
  auto pixel = [&](int y, int x) {
    std::string out;
    for (int s = 0; s < samples_per_pixel; ++s) {
      out += be_bytes(samples[(static_cast<std::size_t>(y) * width + x) * samples_per_pixel + s], bytes_per_sample);
    }
    return out;
  };
  struct Pass {
    int y0, x0, dy, dx;
  };
  const std::vector<Pass> passes =
      interlaced ? std::vector<Pass>{{0, 0, 8, 8}, {0, 4, 8, 8}, {4, 0, 8, 4}, {0, 2, 4, 4}, {2, 0, 4, 2},
                                     {0, 1, 2, 2}, {1, 0, 2, 1}}  // Adam7: first row and column, row and column steps
                 : std::vector<Pass>{{0, 0, 1, 1}};
  std::string raw;
  int rows = 0;
  for (const Pass& p : passes) {
    if (p.x0 >= width) continue;  // an empty pass has no rows at all
    for (int y = p.y0; y < height; y += p.dy) {
      if (keep_rows >= 0 && rows++ >= keep_rows) break;
      raw.push_back('\0');
      for (int x = p.x0; x < width; x += p.dx) raw += pixel(y, x);
    }
  }
  const std::string ihdr = be_bytes(static_cast<std::uint32_t>(width), 4) +
                           be_bytes(static_cast<std::uint32_t>(height), 4) + static_cast<char>(bit_depth) +
                           static_cast<char>(color_type) + std::string(2, '\0') + static_cast<char>(interlaced ? 1 : 0);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + chunks +
         png_chunk("IDAT", zlib_stored(raw)) + png_chunk("IEND", "");
}

std::vector<unsigned> counting(std::size_t n, unsigned step, unsigned modulo) {
  std::vector<unsigned> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned>((i * step + 3) % modulo);
  return out;
}

// The (h << 4 | v) sampling factors of a JPEG's frame header, one a component ({} when there is none).
std::vector<int> jpeg_sampling(const std::string& jpg) {
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= jpg.size() && static_cast<unsigned char>(jpg[pos]) == 0xFF) {
    const int marker = static_cast<unsigned char>(jpg[pos + 1]);
    const std::size_t length = (static_cast<std::size_t>(static_cast<unsigned char>(jpg[pos + 2])) << 8) |
                               static_cast<unsigned char>(jpg[pos + 3]);
    if (marker >= 0xC0 && marker <= 0xC2) {
      std::vector<int> out;
      const int components = pos + 10 <= jpg.size() ? static_cast<unsigned char>(jpg[pos + 9]) : 0;
      if (pos + 11 + 3 * static_cast<std::size_t>(components) > jpg.size()) return {};
      for (int c = 0; c < components; ++c) out.push_back(static_cast<unsigned char>(jpg[pos + 11 + 3 * c]));
      return out;
    }
    pos += 2 + length;
  }
  return {};
}

Image make_image(int h, int w, int c, float seed) {
  Image image;
  image.height = h;
  image.width = w;
  image.channels = c;
  image.pixels.resize(static_cast<std::size_t>(h) * w * c);
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    image.pixels[i] = 0.5f + 0.5f * std::sin(seed + 0.37f * static_cast<float>(i % 97) + 0.011f * static_cast<float>(i));
  }
  return image;
}

}  // namespace

TEST_SUITE("imaging") {

// JPEGs are decoded by libjpeg-turbo with the settings PIL uses (its defaults: accurate integer IDCT, fancy
// upsampling), and come out bit-exact against PIL's libjpeg-turbo; the golden file's per-file tolerances (from
// the stb_image decoder used before) are still required, and exactness on top.
TEST_CASE("imaging: decoded pixels match PIL + ToTensor (PNG, BMP and JPEG exactly)") {
  Golden g;
  const std::vector<std::string> files = g.keys("decode.");
  CHECK(files.size() == 12);
  for (const std::string& file : files) {
    INFO("file: ", file);
    const Tensor& ref = g.t("decode." + file);
    const Image image = load_image(image_path(file));
    CHECK(image.height == ref.dim(0));
    CHECK(image.width == ref.dim(1));
    REQUIRE(image.channels == ref.dim(2));
    const Tensor got = pixels_tensor(image);
    const test::Comparison c = test::compare(got, ref);
    const bool is_jpeg = file.ends_with(".jpg");
    if (is_jpeg) {
      const double tolerance = std::stod(g.meta("decode." + file + ".tolerance"));
      CHECK(c.max_abs_error <= tolerance);
      CHECK(c.normalized_error <= 0.01);
    }
    CHECK(c.max_abs_error == 0.0);  // bit-exact: v / 255.0f (or v / 65535.0f) as ToTensor
    MESSAGE(file, ": ", image.width, " x ", image.height, " x ", image.channels, ", ", c.describe());
  }
  g.all_checked({"decode."});
}

TEST_CASE("imaging: gray conversion is ToTensor then torchvision Grayscale (0.2989, 0.587, 0.114)") {
  Golden g;
  for (const std::string& file : g.keys("gray.")) {
    INFO("file: ", file);
    const Tensor& ref = g.t("gray." + file);
    const Tensor got = to_gray(load_image(image_path(file)));
    REQUIRE(got.shape() == ref.shape());
    const double err = max_abs(got, ref);
    CHECK(err == 0.0);  // bit-exact, JPEGs included (libjpeg-turbo as PIL)
    MESSAGE("gray ", file, ": max abs error ", err);
  }
  g.all_checked({"gray."});
  // The tensor weights, not PIL's convert("L") (299/587/114 in fixed point): 1 x 1 pure red is 0.2989.
  Image red;
  red.width = red.height = 1;
  red.channels = 3;
  red.pixels = {1.0f, 0.0f, 0.0f};
  CHECK(to_gray(red).to_vector()[0] == 0.2989f);
  // A gray image is passed through; to_tensor keeps the channels as they are (CHW).
  const Image rgb = load_image(image_path("rgb.png"));
  const Tensor t = to_tensor(rgb);
  CHECK(t.shape() == Shape{1, 3, 13, 19});
  CHECK(t.to_vector()[1 * 13 * 19 + 2 * 19 + 5] == rgb.at(2, 5, 1));
  const Image gray = load_image(image_path("gray.png"));
  CHECK(to_gray(gray).to_vector() == to_tensor(gray).to_vector());
}

TEST_CASE("imaging: bad files are errors naming the file and the problem") {
  check_error([] { load_image(image_path("empty.png")); }, image_path("empty.png"), "empty file");
  check_error([] { load_image(image_path("truncated.png")); }, image_path("truncated.png"),
              "truncated PNG (file ends inside chunk 'IDAT')");
  check_error([] { load_image(image_path("bad_crc.png")); }, image_path("bad_crc.png"),
              "corrupt PNG (CRC mismatch in chunk 'IDAT')");
  check_error([] { load_image(image_path("not_an_image.png")); }, image_path("not_an_image.png"),
              "not a PNG, JPEG or BMP image");
  check_error([] { load_image(image_path("truncated.jpg")); }, image_path("truncated.jpg"), "truncated JPEG");
  check_error([] { load_image(image_path("truncated.bmp")); }, image_path("truncated.bmp"), "truncated BMP");
  check_error([] { load_image(image_path("unsupported.gif")); }, image_path("unsupported.gif"),
              "GIF image: bigcolor reads PNG, JPEG and BMP images only");
  check_error([] { load_image(image_path("no_such_file.png")); }, image_path("no_such_file.png"), "no such file");
  check_error([] { load_image(test::golden_path("images")); }, test::golden_path("images"), "is a directory");
  // A progressive JPEG with a malformed Huffman table, found by fuzz/fuzz_image.cpp (stb_image, the decoder
  // before libjpeg, indexed past the end of a table on it). Added by hand, not by tools/make_golden_imaging.py.
  check_error([] { load_image(image_path("bad_huffman.jpg")); }, image_path("bad_huffman.jpg"),
              "corrupt JPEG (libjpeg: Bogus Huffman table definition)");
  // A BMP header with absurd width, height and bits per pixel (fuzz/fuzz_image.cpp: our truncation check's
  // arithmetic overflowed on it). Added by hand too.
  check_error([] { load_image(image_path("bad_bmp_header.bmp")); }, image_path("bad_bmp_header.bmp"),
              "corrupt BMP (stb_image: unknown image type)");
  // A compression type stb_image does not know (it would take 0xEAEAEAEA for "uncompressed" and read past the end
  // of the file), and run-length encoding, which it does not read.
  const fs::path bmp_dir = scratch("bmp_compression");
  for (const auto& [value, name] : {std::pair<std::uint32_t, const char*>{0xEAEAEAEAu, "3941264106"}, {1u, "1"}}) {
    std::string bmp = read_bytes(image_path("rgb.bmp"));
    bmp.replace(30, 4, std::string{static_cast<char>(value & 0xFF), static_cast<char>((value >> 8) & 0xFF),
                                   static_cast<char>((value >> 16) & 0xFF), static_cast<char>(value >> 24)});
    const fs::path file = bmp_dir / (std::string("compression_") + name + ".bmp");
    write_bytes(file, bmp);
    check_error([&] { load_image(file.string()); }, file.string(),
                std::string("unsupported BMP (compression type ") + name + "; bigcolor reads uncompressed BMP");
  }
  fs::remove_all(bmp_dir);

  // Cut files at many lengths: never a picture, always an Error naming the file.
  const fs::path dir = scratch("cuts");
  for (const std::string name : {"rgb.png", "rgb.jpg", "rgb.bmp", "gray16.png", "progressive.jpg"}) {
    const std::string bytes = read_bytes(image_path(name));
    for (std::size_t keep : {std::size_t{1}, std::size_t{4}, std::size_t{9}, std::size_t{30}, bytes.size() / 3,
                             bytes.size() - 2}) {
      const fs::path cut = dir / ("cut_" + std::to_string(keep) + "_" + name);
      write_bytes(cut, bytes.substr(0, keep));
      INFO("cut ", name, " to ", keep, " bytes");
      CHECK_THROWS_AS(load_image(cut.string()), Error);
      try {
        load_image(cut.string());
      } catch (const Error& e) {
        CHECK(std::string(e.what()).rfind(cut.string(), 0) == 0);
      }
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("imaging: images over the size limit are refused from their header") {
  check_error([] { load_image(image_path("too_wide.png")); }, image_path("too_wide.png"),
              "image is 20000 x 4 pixels, over the limit of 16384 pixels a side");
  check_error([] { load_image(image_path("too_many_pixels.png")); }, image_path("too_many_pixels.png"),
              "image is 12000 x 12000 pixels (144000000), over the limit of 100000000 pixels");
}

TEST_CASE("imaging: PNG layouts: transparency and alpha dropped, palettes expanded, 16 bits kept, Adam7") {
  const fs::path dir = scratch("png_layouts");
  struct Case {
    const char* name;
    int width, height, bit_depth, color_type, samples_per_pixel;
    bool interlaced;
    std::string chunks;
    int channels;  // what load_image gives
  };
  const std::string plte = png_chunk("PLTE", std::string("\x00\x00\x00\xFF\x10\x20\x30\x40\x50\xFE\xFD\xFC", 12));
  const std::vector<Case> cases = {
      {"palette_trns", 5, 3, 8, 3, 1, false, plte + png_chunk("tRNS", std::string("\x00\x80\xFF", 3)), 3},
      {"gray_trns", 4, 3, 8, 0, 1, false,  // with ancillary chunks libpng skips (gamma and text are not applied)
       png_chunk("gAMA", be_bytes(100000, 4)) + png_chunk("tEXt", std::string("Comment\0hello", 13)) +
           png_chunk("tRNS", std::string("\x00\x07", 2)),
       1},
      {"gray16_trns", 4, 3, 16, 0, 1, false, png_chunk("tRNS", std::string("\x01\x02", 2)), 1},
      {"rgb_trns_interlaced", 9, 10, 8, 2, 3, true, png_chunk("tRNS", std::string("\x00\x05\x00\x06\x00\x07", 6)),
       3},
      {"gray_alpha16_interlaced", 7, 5, 16, 4, 2, true, "", 1},
      {"rgba16_interlaced", 11, 9, 16, 6, 4, true, "", 3},
      {"rgba_interlaced_1x1", 1, 1, 8, 6, 4, true, "", 3},
  };
  for (const Case& c : cases) {
    INFO("case: ", c.name);
    const std::size_t n = static_cast<std::size_t>(c.width) * c.height;
    const unsigned modulo = c.color_type == 3 ? 4 : c.bit_depth == 16 ? 65536 : 256;
    const std::vector<unsigned> samples = counting(n * c.samples_per_pixel, c.bit_depth == 16 ? 7919 : 37, modulo);
    const fs::path file = dir / (std::string(c.name) + ".png");
    write_bytes(file, png_file(c.width, c.height, c.bit_depth, c.color_type, c.samples_per_pixel, samples,
                               c.interlaced, c.chunks));
    const Image image = load_image(file.string());
    REQUIRE(image.channels == c.channels);
    CHECK(image.width == c.width);
    CHECK(image.height == c.height);
    std::vector<float> expected;
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned* px = &samples[i * c.samples_per_pixel];
      if (c.color_type == 3) {  // palette: the entry's RGB, its tRNS alpha ignored
        const std::string entry = plte.substr(8 + 3 * px[0], 3);
        for (unsigned char v : entry) expected.push_back(static_cast<float>(v) / 255.0f);
        continue;
      }
      for (int k = 0; k < c.channels; ++k) {  // the colour samples; alpha (the last sample) dropped
        expected.push_back(static_cast<float>(px[k]) / (c.bit_depth == 16 ? 65535.0f : 255.0f));
      }
    }
    CHECK(image.pixels == expected);
  }

  // Image data that stops short (a well-formed file otherwise, correct CRCs): an error, not a partial picture.
  const fs::path short_file = dir / "short_idat.png";
  write_bytes(short_file, png_file(6, 5, 8, 2, 3, counting(90, 11, 256), false, "", 3));
  check_error([&] { load_image(short_file.string()); }, short_file.string(),
              "corrupt PNG (libpng: Not enough image data)");
  // A palette image without its palette.
  const fs::path no_plte = dir / "no_plte.png";
  write_bytes(no_plte, png_file(2, 2, 8, 3, 1, {0, 1, 1, 0}, false));
  check_error([&] { load_image(no_plte.string()); }, no_plte.string(), "corrupt PNG (libpng: ");
  // IHDR must come first.
  const fs::path no_ihdr = dir / "no_ihdr.png";
  std::string bytes = png_file(2, 2, 8, 0, 1, {0, 1, 2, 3}, false);
  bytes = bytes.substr(0, 8) + png_chunk("tEXt", std::string("a\0b", 3)) + bytes.substr(8);
  write_bytes(no_ihdr, bytes);
  check_error([&] { load_image(no_ihdr.string()); }, no_ihdr.string(), "corrupt PNG (the first chunk is not IHDR)");
  fs::remove_all(dir);
}

TEST_CASE("imaging: JPEG data that libjpeg would complete or skip is an error; padding before the end is not") {
  const fs::path dir = scratch("jpeg_damage");
  const std::string good = read_bytes(image_path("rgb.jpg"));
  REQUIRE(good.substr(good.size() - 2) == "\xFF\xD9");
  const std::vector<float> reference = load_image(image_path("rgb.jpg")).pixels;

  // The entropy-coded data cut short, the end-of-image marker still there: libjpeg would fill the rest in gray.
  const fs::path cut = dir / "cut_scan.jpg";
  write_bytes(cut, good.substr(0, good.size() * 3 / 4) + "\xFF\xD9");
  check_error([&] { load_image(cut.string()); }, cut.string(),
              "corrupt JPEG (libjpeg: Corrupt JPEG data: premature end of data segment)");

  // Zero bytes between the image data and the end marker (some cameras pad so): decoded as without them.
  const fs::path padded = dir / "padded.jpg";
  write_bytes(padded, good.substr(0, good.size() - 2) + std::string(5, '\0') + "\xFF\xD9");
  CHECK(load_image(padded.string()).pixels == reference);

  // A restart marker in the middle of the image data, where none belongs: libjpeg would stop there and go on with
  // made-up blocks.
  const std::size_t sos = good.rfind("\xFF\xDA");
  REQUIRE(sos != std::string::npos);
  std::string bad = good;
  const std::size_t at = sos + (good.size() - sos) / 2;
  bad.replace(at, 2, "\xFF\xD3");
  const fs::path rst = dir / "stray_restart.jpg";
  write_bytes(rst, bad);
  check_error([&] { load_image(rst.string()); }, rst.string(), "corrupt JPEG (libjpeg: Corrupt JPEG data");

  // Saving: sides over libjpeg's 65500 are refused before anything is written.
  Image wide;
  wide.width = 65501;
  wide.height = 1;
  wide.channels = 1;
  wide.pixels.assign(65501, 0.5f);
  const std::string out = (dir / "wide.jpg").string();
  check_error([&] { save_image(out, wide); }, out, "JPEG sides are at most 65500 pixels");
  CHECK_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

TEST_CASE("imaging: bilinear resize matches interpolate(bilinear, align_corners=False, antialias=False)") {
  Golden g;
  std::set<std::string> cases;
  for (const std::string& key : g.keys("resize.")) cases.insert(key.substr(0, key.rfind('.')));
  CHECK(cases.size() == 12);
  double worst = 0.0;
  for (const std::string& c : cases) {
    INFO("case: ", c);
    const Tensor& in = g.t("resize." + c + ".in");
    const Tensor& ref = g.t("resize." + c + ".out");
    const std::string size = g.meta("resize." + c + ".size");
    const int out_h = std::stoi(size.substr(0, size.find(','))), out_w = std::stoi(size.substr(size.find(',') + 1));
    CHECK(out_h == ref.dim(2));
    CHECK(out_w == ref.dim(3));
    const Tensor got = resize_bilinear(in, out_h, out_w);
    REQUIRE(got.shape() == ref.shape());
    const test::Comparison cmp = test::compare(got, ref);
    CHECK_FALSE(cmp.has_nan);
    CHECK(cmp.max_abs_error <= kResizeMaxAbs);
    worst = std::max(worst, cmp.max_abs_error);
  }
  MESSAGE("resize: worst max abs error over all cases ", worst);
  const Tensor& same = g.t("resize.same_size_9x11.in");
  CHECK(resize_bilinear(same, 9, 11).to_vector() == same.to_vector());  // the same size is an exact copy

  CHECK_THROWS_WITH_AS(resize_bilinear(Tensor::zeros({3, 4, 5}), 2, 2), doctest::Contains("(B, C, H, W) F32 CPU"),
                       Error);
  CHECK_THROWS_WITH_AS(resize_bilinear(Tensor::zeros({1, 1, 4, 5}), 0, 2), doctest::Contains("not positive"), Error);
  CHECK_THROWS_WITH_AS(resize_bilinear(Tensor::zeros({1, 1, 0, 5}), 2, 2), doctest::Contains("empty input"), Error);
  g.all_checked({"resize."});
}

TEST_CASE("imaging: model input sizes follow colorize_real.py's --type_resize arithmetic") {
  Golden g;
  int rows_checked = 0;
  const std::vector<std::string> tables = g.keys("sizes.");
  CHECK(tables.size() == 5);
  for (const std::string& table : tables) {
    const std::string key = "sizes." + table;
    const Tensor& t = g.t(key);
    const ResizeMode mode = parse_resize_mode(g.meta(key + ".mode"));
    const int target = std::stoi(g.meta(key + ".target"));
    const int power = mode == ResizeMode::PowerOf ? std::stoi(g.meta(key + ".power")) : 4;
    const std::vector<std::int32_t> v = t.to_indices();
    for (std::int64_t r = 0; r < t.dim(0); ++r) {
      const std::int32_t* row = &v[static_cast<std::size_t>(r * 4)];
      INFO(table, ": ", row[0], " x ", row[1]);
      CHECK(model_input_size(row[0], row[1], mode, target, power) == ImageSize{row[2], row[3]});
      ++rows_checked;
    }
  }
  CHECK(rows_checked == 125);
  // The double-precision quirk of the official arithmetic: 273 * (256 / 182) rounds above 384.
  CHECK(model_input_size(182, 273, ResizeMode::PowerOf) == ImageSize{256, 400});
  CHECK(model_input_size(256, 256, ResizeMode::PowerOf) == ImageSize{256, 256});
  CHECK(model_input_size(300, 200, ResizeMode::PowerOf) == ImageSize{384, 256});  // portrait: (long, target)
  CHECK(model_input_size(123, 457, ResizeMode::Square, 256) == ImageSize{256, 256});
  CHECK(model_input_size(123, 457, ResizeMode::Original) == ImageSize{123, 457});
  CHECK(model_input_size(256, 999, ResizeMode::Absolute) == ImageSize{256, 999});  // short side already 256
  CHECK(std::string(resize_mode_name(parse_resize_mode("powerof"))) == "powerof");
  CHECK_THROWS_WITH_AS(parse_resize_mode("patch"), doctest::Contains("unknown resize mode 'patch'"), Error);
  CHECK_THROWS_WITH_AS(model_input_size(100, 100, ResizeMode::PowerOf, 250, 4),
                       doctest::Contains("not a multiple of 2^4"), Error);
  CHECK_THROWS_WITH_AS(model_input_size(0, 100, ResizeMode::PowerOf), doctest::Contains("not positive"), Error);
  CHECK_THROWS_WITH_AS(model_input_size(1, 16384, ResizeMode::PowerOf), doctest::Contains("over 2^20"), Error);
  g.all_checked({"sizes."});
}

TEST_CASE("imaging: Lab conversions and fusion match the official utils/color_models.py") {
  Golden g;
  struct Check {
    const char* what;
    Tensor got;
    const char* ref;
  };
  const Tensor& rgb = g.t("lab.rgb");
  const Tensor& lab = g.t("lab.lab");
  const Tensor& lab_in = g.t("lab.lab_in");
  const std::vector<Check> checks = {
      {"rgb_to_lab", rgb_to_lab(rgb), "lab.lab"},
      {"lab_to_rgb(rgb_to_lab(x))", lab_to_rgb(lab), "lab.rgb_back"},
      {"lab_to_rgb clipped, out of gamut", lab_to_rgb(lab_in, true), "lab.rgb_clip"},
      {"lab_to_rgb unclipped, out of gamut", lab_to_rgb(lab_in, false), "lab.rgb_noclip"},
      {"lab_fusion", lab_fusion(g.t("fusion.gray"), g.t("fusion.rgb")), "fusion.out"},
  };
  for (const Check& c : checks) {
    const Tensor& ref = g.t(c.ref);
    test::check_close(c.got, ref, kColorTolerance, c.what);
    INFO(std::string(c.what));
    CHECK(max_abs(c.got, ref) <= 1e-4);  // L and ab reach 100; RGB is in [0,1] and far tighter
  }
  // The round trip really is one, and the clipped output stays in [0,1].
  CHECK(max_abs(lab_to_rgb(rgb_to_lab(rgb)), rgb) < 1e-4);
  for (float v : lab_to_rgb(lab_in).to_vector()) CHECK((v >= 0.0f && v <= 1.0f));
  // Batched (N, 3, H, W) input gives each image its own conversion.
  const Tensor two = Tensor::empty({2, 3, rgb.dim(1), rgb.dim(2)});
  std::vector<float> v = rgb.to_vector();
  v.insert(v.end(), v.begin(), v.end());
  two.copy_from(Tensor::from_vector(v, two.shape()));
  const std::vector<float> one = rgb_to_lab(rgb).to_vector(), both = rgb_to_lab(two).to_vector();
  CHECK(std::equal(one.begin(), one.end(), both.begin() + static_cast<std::ptrdiff_t>(one.size())));
  // The trainer's a/b loss sees the colour this transform gives: ops::rgb_to_ab is its a and b planes, bit for bit.
  const std::int64_t hw = rgb.dim(1) * rgb.dim(2);
  const Tensor ab = Tensor::empty({1, 2, rgb.dim(1), rgb.dim(2)});
  ops::rgb_to_ab_forward(ab, rgb.reshape({1, 3, rgb.dim(1), rgb.dim(2)}));
  CHECK(ab.to_vector() == std::vector<float>(one.begin() + hw, one.end()));
  // A (1, 1, H, W) gray and (1, 3, H, W) colour image are accepted too.
  const Tensor& gray = g.t("fusion.gray");
  const Tensor& color = g.t("fusion.rgb");
  CHECK(lab_fusion(gray.reshape({1, 1, 13, 17}), color.reshape({1, 3, 13, 17})).to_vector() ==
        lab_fusion(gray, color).to_vector());
  CHECK_THROWS_WITH_AS(lab_fusion(gray, Tensor::zeros({3, 13, 16})), doctest::Contains("differ in size"), Error);
  CHECK_THROWS_WITH_AS(rgb_to_lab(Tensor::zeros({4, 5, 5})), doctest::Contains("(..., 3, H, W)"), Error);
  g.all_checked({"lab.", "fusion."});
}

TEST_CASE("imaging: float -> uint8 is ToPILImage's mul(255) and truncation") {
  Golden g;
  const std::vector<float> in = g.t("quant.in").to_vector();
  const std::vector<std::int32_t> ref = g.t("quant.out").to_indices();
  REQUIRE(in.size() == ref.size());
  int mismatches = 0;
  for (std::size_t i = 0; i < in.size(); ++i) mismatches += float_to_u8(in[i]) != ref[i];
  CHECK(mismatches == 0);
  CHECK(float_to_u8(-0.5f) == 0);
  CHECK(float_to_u8(1.5f) == 255);
  CHECK(float_to_u8(std::numeric_limits<float>::quiet_NaN()) == 0);
  CHECK(float_to_u8(0.99999f) == 254);  // truncation, not rounding
  g.all_checked({"quant."});

  // to_image: CHW -> HWC, clamped; its PNG holds exactly the truncated samples.
  const Tensor chw = Tensor::from_vector({0.0f, 0.5f, 1.0f, 2.0f, -1.0f, 0.25f}, {3, 1, 2});
  const Image image = to_image(chw);
  CHECK(image.channels == 3);
  CHECK(image.height == 1);
  CHECK(image.width == 2);
  CHECK(image.pixels == std::vector<float>{0.0f, 1.0f, 0.0f, 0.5f, 1.0f, 0.25f});
  const fs::path dir = scratch("quant");
  save_image((dir / "q.png").string(), image);
  const Image back = load_image((dir / "q.png").string());
  for (std::size_t i = 0; i < back.pixels.size(); ++i) {
    CHECK(back.pixels[i] == static_cast<float>(float_to_u8(image.pixels[i])) / 255.0f);
  }
  CHECK(to_image(chw.reshape({1, 3, 1, 2})).pixels == image.pixels);
  CHECK_THROWS_WITH_AS(to_image(Tensor::zeros({2, 4, 4})), doctest::Contains("1 or 3 channels"), Error);
  fs::remove_all(dir);
}

TEST_CASE("imaging: save and load round trips (PNG exact, JPEG close)") {
  const fs::path dir = scratch("roundtrip");
  for (int channels : {1, 3}) {
    INFO("channels: ", channels);
    const Image image = make_image(37, 29, channels, static_cast<float>(channels));
    const std::string png = (dir / (std::string("a") + std::to_string(channels) + ".png")).string();
    save_image(png, image);
    const Image back = load_image(png);
    REQUIRE(back.pixels.size() == image.pixels.size());
    CHECK(back.channels == channels);
    double png_err = 0.0;
    for (std::size_t i = 0; i < image.pixels.size(); ++i) {
      const float expected = static_cast<float>(float_to_u8(image.pixels[i])) / 255.0f;
      png_err = std::max(png_err, static_cast<double>(std::abs(back.pixels[i] - expected)));
    }
    CHECK(png_err == 0.0);
    // Saving what was loaded gives the same file contents back (v / 255 * 255 is exact in float32).
    const std::string png2 = (dir / (std::string("b") + std::to_string(channels) + ".PNG")).string();
    save_image(png2, back);
    CHECK(load_image(png2).pixels == back.pixels);

    // JPEG: 4:2:0 chroma subsampling at every quality (as PIL), so a smooth image: per-pixel chroma noise is
    // what subsampling drops by design. A gray image is written as a 1-component JPEG and comes back gray.
    const Image smooth = make_smooth_image(37, 29, channels);
    for (const std::string ext : {".jpg", ".jpeg", ".JPG"}) {
      const std::string jpg = (dir / (std::string("c") + std::to_string(channels) + ext)).string();
      save_image(jpg, smooth, 95);
      const Image j = load_image(jpg);
      CHECK(j.channels == channels);
      const double err = test::compare(pixels_tensor(j), pixels_tensor(smooth)).normalized_error;
      CHECK(err < 0.03);
      const std::string bytes = read_bytes(jpg);
      CHECK(bytes.substr(0, 11) == std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF", 11));  // JFIF, as PIL writes
      CHECK(jpeg_sampling(bytes) == (channels == 1 ? std::vector<int>{0x11} : std::vector<int>{0x22, 0x11, 0x11}));
      if (ext == ".jpg") MESSAGE("JPEG q95 round trip, ", channels, " channel(s): normalized error ", err);
    }
  }
  // The official default quality (75) makes a smaller file than 95.
  const Image image = make_image(64, 48, 3, 7.0f);
  save_image((dir / "q75.jpg").string(), image);
  save_image((dir / "q95.jpg").string(), image, 95);
  CHECK(fs::file_size(dir / "q75.jpg") < fs::file_size(dir / "q95.jpg"));
  CHECK(other_files(dir, {"a1.png", "b1.PNG", "c1.jpg", "c1.jpeg", "c1.JPG", "a3.png", "b3.PNG", "c3.jpg", "c3.jpeg",
                          "c3.JPG", "q75.jpg", "q95.jpg"})
            .empty());
  fs::remove_all(dir);
}

TEST_CASE("imaging: a failed save leaves no partial file and never touches an existing one") {
  const fs::path dir = scratch("atomic");
  const std::string target = (dir / "out.png").string();
  const Image good = make_image(8, 6, 3, 1.0f);
  save_image(target, good);
  const std::string before = read_bytes(target);
  REQUIRE(!before.empty());

  Image bad = good;
  bad.pixels.pop_back();
  check_error([&] { save_image(target, bad); }, target, "image holds 143 values, not 6 x 8 x 3");
  Image two_channels = good;
  two_channels.channels = 2;
  check_error([&] { save_image(target, two_channels); }, target, "with 2 channels");
  Image empty;
  empty.channels = 3;
  check_error([&] { save_image(target, empty); }, target, "empty image");
  CHECK(read_bytes(target) == before);

  const std::string jpg = (dir / "out.jpg").string();
  check_error([&] { save_image(jpg, good, 0); }, jpg, "JPEG quality 0 is not in 1..100");
  check_error([&] { save_image(jpg, good, 101); }, jpg, "JPEG quality 101");
  CHECK_FALSE(fs::exists(jpg));

  const std::string tif = (dir / "out.tiff").string();
  check_error([&] { save_image(tif, good); }, tif, "unknown image file extension '.tiff'");
  check_error([&] { save_image((dir / "noext").string(), good); }, (dir / "noext").string(),
              "unknown image file extension ''");

  const std::string missing = (dir / "no_such_folder" / "out.png").string();
  check_error([&] { save_image(missing, good); }, missing, "cannot write image file: No such file or directory");

  // The encoding and the temporary file succeed, the rename fails (the target is a folder): nothing changes and
  // the temporary file is gone.
  const fs::path folder = dir / "folder.png";
  fs::create_directories(folder / "inside");
  check_error([&] { save_image(folder.string(), good); }, folder.string(), "cannot replace file");
  CHECK(fs::is_directory(folder / "inside"));

  // A good save replaces the existing file.
  save_image(target, make_image(8, 6, 3, 2.0f));
  CHECK(read_bytes(target) != before);
  CHECK(other_files(dir, {"out.png", "folder.png"}).empty());
  fs::remove_all(dir);
}

TEST_CASE("imaging: every stored reference belongs to a checked family") {
  Golden g;
  for (const std::string& key : g.all_keys()) {
    const bool covered = std::any_of(kCoveredPrefixes.begin(), kCoveredPrefixes.end(),
                                     [&](const std::string& p) { return key.rfind(p, 0) == 0; });
    if (!covered) FAIL_CHECK("imaging.safetensors: ", key, " belongs to no checked family");
  }
}

}  // TEST_SUITE("imaging")
