// The `bigcolor` command (src/cli/): every option of colorize, inspect and convert, run as a separate process on the
// reduced-width official-format model tests/golden/official_tiny (10 classes, dim_z 119, any H, W multiple of 16)
// and on small images written by the tests into a temporary folder. The executable's path comes from CMake
// (BIGCOLOR_CLI_PATH); each run's stdout and stderr are captured in files.
//
// Parity with the official model: colorizer_parity.safetensors records the tiny model's outputs for float inputs
// that no 8-bit image file can carry exactly, so the recorded outputs are compared at the tensor level through the
// library functions the CLI runs (api/pipeline.h: class_embeddings, run_network, finish_result), within the
// project's 1e-4; and the executable itself is checked end to end against a direct Colorizer forward (--z-file,
// --rgb --no-upsample --resize original --png on a 48x32 image: the saved pixels must be the forward's (o + 1) / 2 as 8-bit).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "api/pipeline.h"
#include "imaging/color.h"
#include "imaging/image.h"
#include "imaging/resize.h"
#include "models/checkpoint.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"
#include "cli_test_util.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
using namespace bigcolor::test::cli;
namespace fs = std::filesystem;

constexpr double kModelTolerance = 1e-4;  // the project's bar for a whole model: never widen it

std::string tiny() { return test::golden_path("official_tiny"); }

// `colorize` on the tiny model with the given extra arguments.
Result colorize(const std::vector<std::string>& inputs, const std::string& out, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"colorize"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  args.insert(args.end(), {"-o", out, "--ckpt", tiny()});
  args.insert(args.end(), extra.begin(), extra.end());
  return run(args);
}

bool same_bytes(const std::string& a, const std::string& b) {
  return fs::exists(a) && fs::exists(b) && read_text(a) == read_text(b);
}

// The largest difference between two decoded images of the same size, in 8-bit levels.
int max_level_difference(const Image& a, const Image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  REQUIRE(a.channels == b.channels);
  int worst = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<int>(std::lround(a.pixels[i] * 255.0f)) -
                                     static_cast<int>(std::lround(b.pixels[i] * 255.0f))));
  return worst;
}
int max_level_difference(const std::string& a, const std::string& b) {
  return max_level_difference(load_image(a), load_image(b));
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) names.push_back(fs::relative(e.path(), dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

using Names = std::vector<std::string>;

const SafetensorsFile& parity() {
  static const SafetensorsFile file = load_safetensors(test::golden_path("colorizer_parity.safetensors"));
  return file;
}

float parity_float(const std::string& key) { return std::stof(parity().metadata.at(key)); }

// Row i of a (N, ...) tensor as (1, ...).
Tensor row(const Tensor& t, std::int64_t i) {
  const std::int64_t n = t.numel() / t.dim(0);
  const std::vector<float> v = t.to_vector();
  Shape shape = t.shape();
  shape[0] = 1;
  return Tensor::from_vector(std::vector<float>(v.begin() + i * n, v.begin() + (i + 1) * n), shape);
}

std::unique_ptr<Colorizer> tiny_model(bool ema) {
  ColorizerSource source;
  source.use_ema = ema;
  auto model = load_any_colorizer(tiny(), source);
  model->set_training(false);
  model->set_grad_enabled(false);
  return model;
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli: --help documents every option, --version, and usage errors exit 2") {
  const Result top = run({"--help"});
  CHECK(top.status == 0);
  for (const char* word : {"colorize", "classify", "eval", "inspect", "convert", "--version"}) CHECK(top.out.find(word) != std::string::npos);
  const Result version = run({"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.find("bigcolor ") == 0);

  const Result help = run({"colorize", "--help"});
  REQUIRE(help.status == 0);
  for (const char* option :
       {"--output", "--ckpt", "--epoch", "--no-ema", "--config", "--class", "--mix ", "--mix-weight", "--c-scale",
        "--c-bias", "--seed", "--z-std", "--num-z", "--z-file", "--resize", "--size", "--num-power", "--no-upsample",
        "--rgb", "--png", "--jpeg-quality", "--sheet", "--suffix", "--overwrite", "--recursive", "--device",
        "--threads", "--batch", "--quiet", "--verbose", "--topk", "--classifier", "--classifier-size", "=256", "=0.8", "=2", "=75",
        "=powerof", "=8", "=auto", "_c<class:03d>", "_z<k:02d>", "_sheet.png"})
    CHECK_MESSAGE(help.out.find(option) != std::string::npos, option);
  const Result inspect_help = run({"inspect", "--help"});
  CHECK(inspect_help.status == 0);
  for (const char* option : {"--epoch", "--config", "FILE_OR_DIR"}) CHECK(inspect_help.out.find(option) != std::string::npos);
  const Result convert_help = run({"convert", "--help"});
  CHECK(convert_help.status == 0);
  for (const char* option : {"--ckpt", "--output", "--epoch", "--no-ema", "--config", "--overwrite", "--quiet",
                             "--storage"})
    CHECK(convert_help.out.find(option) != std::string::npos);

  CHECK(run({}).status == 2);
  CHECK(run({"frobnicate"}).status == 2);
  CHECK(run({"colorize", "--ckpt", tiny(), "-o", "/tmp/x"}).status == 2);  // no input
}

TEST_CASE("cli: colorize writes <stem>_c<class>.jpg at the input's size, with progress and summary lines") {
  Scratch s;
  const std::string a = write_image(s / "in/photo.png", 40, 60);
  const Result r = colorize({a}, s / "out", {"--class", "1", "goldfish", "n01440764", "--size", "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(files_in(s / "out") == Names{"photo_c000.jpg", "photo_c001.jpg"});  // goldfish is class 1: written once
  for (const std::string& name : files_in(s / "out")) {
    const Image im = load_image(s / ("out/" + name));
    CHECK(im.width == 40);
    CHECK(im.height == 60);
    CHECK(im.channels == 3);
  }
  const auto progress = r.err_lines("[1/1] ");
  REQUIRE(progress.size() == 1);
  CHECK(progress[0].find("photo.png 40x60 -> 32x48, 2 results, ") != std::string::npos);
  const auto summary = r.err_lines("colorized ");
  REQUIRE(summary.size() == 1);
  CHECK(summary[0].find("colorized 1 of 1 images (2 results) in ") == 0);
  CHECK(summary[0].find("; 0 failed; peak memory: host ") != std::string::npos);
  // JPEG by default (magic FF D8), PNG with --png.
  CHECK(read_text(s / "out/photo_c001.jpg").substr(0, 2) == "\xFF\xD8");
  const Result p = colorize({a}, s / "png", {"--class", "1", "--size", "32", "--png"});
  REQUIRE_MESSAGE(p.status == 0, describe(p));
  CHECK(files_in(s / "png") == Names{"photo_c001.png"});
  CHECK(read_text(s / "png/photo_c001.png").substr(0, 4) == "\x89PNG");
}

TEST_CASE("cli: --resize modes give the documented model sizes; --no-upsample keeps them") {
  Scratch s;
  const std::string portrait = write_image(s / "in/p.png", 50, 70);  // W x H
  const std::string exact = write_image(s / "in/e.png", 32, 48);
  struct Case {
    std::vector<std::string> args;
    std::string input;
    std::string progress;  // "<input size> -> <model size>"
  };
  const std::vector<Case> cases = {
      // powerof: short side 50 -> 32, long 70 * 32 / 50 = 44.8 -> ceil(44.8 / 16) * 16 = 48
      {{"--size", "32"}, portrait, "50x70 -> 32x48"},
      {{"--resize", "powerof", "--size", "64"}, portrait, "50x70 -> 64x96"},   // 89.6 -> 96
      {{"--resize", "powerof", "--size", "32", "--num-power", "5"}, exact, "32x48 -> 32x64"},  // 48 -> 64
      {{"--resize", "square", "--size", "48"}, portrait, "50x70 -> 48x48"},
      {{"--resize", "absolute", "--size", "32"}, exact, "32x48 -> 32x48"},  // int(32 * 48 / 32) = 48
      {{"--resize", "original"}, exact, "32x48 -> 32x48"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string out = s / ("out" + std::to_string(i++));
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--class", "2", "--png", "--no-upsample"});
    const Result r = colorize({c.input}, out, args);
    REQUIRE_MESSAGE(r.status == 0, describe(r));
    CHECK_MESSAGE(r.err.find(c.progress + ", 1 result, ") != std::string::npos, r.err);
    // --no-upsample: the file has the model's size.
    const std::string model_size = c.progress.substr(c.progress.find("-> ") + 3);
    const Image im = load_image(out + "/" + fs::path(c.input).stem().string() + "_c002.png");
    CHECK(std::to_string(im.width) + "x" + std::to_string(im.height) == model_size);
  }
  // Without --no-upsample the result has the input's size.
  const Result up = colorize({portrait}, s / "up", {"--class", "2", "--png", "--size", "32"});
  REQUIRE_MESSAGE(up.status == 0, describe(up));
  const Image im = load_image(s / "up/p_c002.png");
  CHECK(im.width == 50);
  CHECK(im.height == 70);
  // A size the model cannot take is a clear failure of that input: absolute 32 on 50x70 gives 32x44.
  const Result bad = colorize({portrait}, s / "bad", {"--class", "2", "--resize", "absolute", "--size", "32"});
  CHECK(bad.status == 1);
  const auto lines = bad.err_lines("bigcolor: ");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("p.png") != std::string::npos);
  CHECK(lines[0].find("32x44") != std::string::npos);
  CHECK(lines[0].find("multiples of 16") != std::string::npos);
  // --size not a multiple of 2^--num-power for powerof, or of 16 for square: usage errors.
  CHECK(colorize({portrait}, s / "u", {"--class", "2", "--size", "40"}).status == 2);
  CHECK(colorize({portrait}, s / "u", {"--class", "2", "--resize", "square", "--size", "40"}).status == 2);
}

TEST_CASE("cli: --rgb gives the raw network colours, the default fuses them with the input's lightness") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  REQUIRE(colorize({a}, s / "fused", {"--class", "4", "--png", "--size", "32"}).status == 0);
  REQUIRE(colorize({a}, s / "rgb", {"--class", "4", "--png", "--size", "32", "--rgb"}).status == 0);
  const Image fused = load_image(s / "fused/a_c004.png");
  const Image raw = load_image(s / "rgb/a_c004.png");
  CHECK(max_level_difference(fused, raw) > 10);
  // The fused picture's lightness is the input's: its Lab L is gray * 100 up to 8-bit rounding, except where the
  // fused colour is out of gamut and clipped (rare); the raw output's lightness is the network's own.
  const std::vector<float> g = to_gray(load_image(a)).to_vector();
  auto lightness_error = [&](const Image& im) {  // the median of |L - 100 gray|
    const std::vector<float> l = rgb_to_lab(to_tensor(im)).to_vector();  // L is the first plane
    std::vector<double> e(g.size());
    for (std::size_t i = 0; i < g.size(); ++i) e[i] = std::abs(double(l[i]) - 100.0 * g[i]);
    std::nth_element(e.begin(), e.begin() + e.size() / 2, e.end());
    return e[e.size() / 2];
  };
  const double fused_error = lightness_error(fused), raw_error = lightness_error(raw);
  MESSAGE("median |L - 100 gray|: fused ", fused_error, ", raw ", raw_error);
  CHECK(fused_error < 0.5);
  CHECK(raw_error > 5.0);
}

TEST_CASE("cli: --num-z K writes K different results per class; --seed and --z-std change z") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  const Result r = colorize({a}, s / "k", {"--class", "1", "5", "--num-z", "3", "--png", "--size", "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(r.err.find("6 results") != std::string::npos);
  CHECK(files_in(s / "k") == Names{"a_c001_z00.png", "a_c001_z01.png", "a_c001_z02.png", "a_c005_z00.png",
                                   "a_c005_z01.png", "a_c005_z02.png"});
  CHECK(max_level_difference(s / "k/a_c001_z00.png", s / "k/a_c001_z01.png") > 0);
  CHECK(max_level_difference(s / "k/a_c001_z01.png", s / "k/a_c001_z02.png") > 0);
  CHECK(max_level_difference(s / "k/a_c001_z00.png", s / "k/a_c001_z02.png") > 0);
  // z_0 is the same as the single z of a run without --num-z (same seed): the same picture.
  REQUIRE(colorize({a}, s / "one", {"--class", "1", "--png", "--size", "32"}).status == 0);
  CHECK(max_level_difference(s / "one/a_c001.png", s / "k/a_c001_z00.png") <= 1);
  // The same seed reproduces the bytes; another seed or z_std changes the result.
  REQUIRE(colorize({a}, s / "again", {"--class", "1", "--png", "--size", "32", "--seed", "2"}).status == 0);
  CHECK(same_bytes(s / "one/a_c001.png", s / "again/a_c001.png"));
  REQUIRE(colorize({a}, s / "seed", {"--class", "1", "--png", "--size", "32", "--seed", "3"}).status == 0);
  CHECK(max_level_difference(s / "one/a_c001.png", s / "seed/a_c001.png") > 0);
  REQUIRE(colorize({a}, s / "std", {"--class", "1", "--png", "--size", "32", "--z-std", "0"}).status == 0);
  CHECK(max_level_difference(s / "one/a_c001.png", s / "std/a_c001.png") > 0);
  CHECK(colorize({a}, s / "bad", {"--class", "1", "--num-z", "0"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--class", "1", "--z-std", "-1"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--class", "1", "--seed", "-3"}).status == 2);
}

TEST_CASE("cli: --z-file uses the given z exactly (the saved pixels are a direct forward's)") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 48, 32, 1);  // gray, 48 wide: taken unchanged by the model
  Rng rng(77);
  const Tensor z = test::random_normal({2, 119}, rng);
  save_safetensors(s / "z.safetensors", {{"z", z}});
  const Result r = colorize({a}, s / "out", {"--class", "3", "--z-file", s / "z.safetensors", "--rgb", "--no-upsample",
                                             "--resize", "original", "--png", "--no-ema"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  REQUIRE(files_in(s / "out") == Names{"a_c003_z00.png", "a_c003_z01.png"});
  // The same computation directly: EG(x, 3, z_k), (o + 1) / 2, truncated to 8 bits.
  auto model = tiny_model(/*ema=*/false);
  const Tensor x = to_gray(load_image(a));
  for (int k = 0; k < 2; ++k) {
    const Tensor out = model->forward(x, Tensor::from_indices({3}, {1}), row(z, k));
    const std::vector<float> o = out.to_vector();
    const Image saved = load_image(s / ("out/a_c003_z0" + std::to_string(k) + ".png"));
    REQUIRE(saved.width == 48);
    REQUIRE(saved.height == 32);
    int worst = 0;
    const std::size_t hw = 48 * 32;
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < hw; ++i) {
        const int expected = float_to_u8((o[c * hw + i] + 1.0f) / 2.0f);
        const int got = static_cast<int>(std::lround(saved.pixels[i * 3 + c] * 255.0f));
        worst = std::max(worst, std::abs(expected - got));
      }
    CHECK(worst <= 1);  // 1: a value within float rounding of an 8-bit step may truncate either way
  }
  // A (119) tensor is one z: no _z suffix. The same z row gives the same picture.
  save_safetensors(s / "z1.safetensors", {{"z", row(z, 1).reshape({119})}});
  const Result one = colorize({a}, s / "one", {"--class", "3", "--z-file", s / "z1.safetensors", "--rgb",
                                               "--no-upsample", "--resize", "original", "--png", "--no-ema"});
  REQUIRE_MESSAGE(one.status == 0, describe(one));
  CHECK(same_bytes(s / "one/a_c003.png", s / "out/a_c003_z01.png"));
  // Wrong shapes, names or dtypes are errors naming the file; --z-file excludes --seed, --z-std and --num-z.
  save_safetensors(s / "bad.safetensors", {{"z", Tensor::zeros({2, 120})}});
  const Result bad = colorize({a}, s / "bad", {"--class", "3", "--z-file", s / "bad.safetensors"});
  CHECK(bad.status == 1);
  CHECK(bad.err.find("bad.safetensors") != std::string::npos);
  save_safetensors(s / "noz.safetensors", {{"w", Tensor::zeros({119})}});
  CHECK(colorize({a}, s / "bad", {"--class", "3", "--z-file", s / "noz.safetensors"}).status == 1);
  CHECK(colorize({a}, s / "bad", {"--class", "3", "--z-file", s / "z.safetensors", "--seed", "4"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--class", "3", "--z-file", s / "z.safetensors", "--num-z", "2"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--class", "3", "--z-file", s / "missing.safetensors"}).status == 2);
}

TEST_CASE("cli: --mix and --mix-weight interpolate class embeddings; --c-scale and --c-bias change them") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  const std::vector<std::string> common{"--png", "--size", "32"};
  auto with = [&](std::vector<std::string> v) {
    v.insert(v.end(), common.begin(), common.end());
    return v;
  };
  REQUIRE(colorize({a}, s / "plain", with({"--class", "1", "3"})).status == 0);
  const Result mix = colorize({a}, s / "mix", with({"--mix", "1", "3", "--mix-weight", "0", "0.25", "1"}));
  REQUIRE_MESSAGE(mix.status == 0, describe(mix));
  CHECK(files_in(s / "mix") == Names{"a_c001_c003_w0.25.png", "a_c001_c003_w0.png", "a_c001_c003_w1.png"});
  // Weight 0 is class A exactly, weight 1 class B exactly; 0.25 is neither.
  CHECK(max_level_difference(s / "mix/a_c001_c003_w0.png", s / "plain/a_c001.png") == 0);
  CHECK(max_level_difference(s / "mix/a_c001_c003_w1.png", s / "plain/a_c003.png") == 0);
  CHECK(max_level_difference(s / "mix/a_c001_c003_w0.25.png", s / "plain/a_c001.png") > 0);
  CHECK(max_level_difference(s / "mix/a_c001_c003_w0.25.png", s / "plain/a_c003.png") > 0);
  // Default mix weight 0.5; --mix with --class gives both.
  const Result both = colorize({a}, s / "both", with({"--class", "1", "--mix", "1", "3"}));
  REQUIRE_MESSAGE(both.status == 0, describe(both));
  CHECK(files_in(s / "both") == Names{"a_c001.png", "a_c001_c003_w0.5.png"});
  // --c-scale 1 --c-bias 0 is the default; other values change the picture (--suffix keeps the names apart).
  REQUIRE(colorize({a}, s / "plain", with({"--class", "1", "--c-scale", "1", "--c-bias", "0", "--suffix", "_id"}))
              .status == 0);
  CHECK(same_bytes(s / "plain/a_c001.png", s / "plain/a_c001_id.png"));
  REQUIRE(colorize({a}, s / "plain", with({"--class", "1", "--c-scale", "1.5", "--suffix", "_s"})).status == 0);
  REQUIRE(colorize({a}, s / "plain", with({"--class", "1", "--c-bias", "0.2", "--suffix", "_b"})).status == 0);
  CHECK(max_level_difference(s / "plain/a_c001.png", s / "plain/a_c001_s.png") > 0);
  CHECK(max_level_difference(s / "plain/a_c001.png", s / "plain/a_c001_b.png") > 0);
  CHECK(max_level_difference(s / "plain/a_c001_s.png", s / "plain/a_c001_b.png") > 0);
  // Bad values.
  CHECK(colorize({a}, s / "bad", {"--mix", "1"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--mix", "1", "3", "--mix-weight", "1.5"}).status == 2);
  CHECK(colorize({a}, s / "bad", {"--class", "1", "--c-scale", "abc"}).status == 2);
  CHECK(colorize({a}, s / "bad", {}).status == 2);  // neither --class nor --mix
}

TEST_CASE("cli: --sheet writes the gray input and every result side by side") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 40, 60);
  const Result r = colorize({a}, s / "out", {"--class", "1", "2", "--num-z", "2", "--sheet", "--size", "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  REQUIRE(fs::exists(s / "out/a_sheet.png"));
  const Image sheet = load_image(s / "out/a_sheet.png");
  CHECK(sheet.width == 40 * 5);
  CHECK(sheet.height == 60);
  // The first panel is the gray input.
  const Tensor gray = to_gray(load_image(a));
  const std::vector<float> g = gray.to_vector();
  int worst = 0;
  for (int y = 0; y < 60; ++y)
    for (int x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c)
        worst = std::max(worst, std::abs(static_cast<int>(std::lround(sheet.at(y, x, c) * 255.0f)) -
                                         static_cast<int>(float_to_u8(g[y * 40 + x]))));
  CHECK(worst == 0);
  // With --no-upsample the panels have the model's size.
  REQUIRE(colorize({a}, s / "small", {"--class", "1", "--sheet", "--size", "32", "--no-upsample"}).status == 0);
  const Image small = load_image(s / "small/a_sheet.png");
  CHECK(small.width == 32 * 2);
  CHECK(small.height == 48);
}

TEST_CASE("cli: existing outputs are kept unless --overwrite; --jpeg-quality") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  const std::string b = write_image(s / "in/b.png", 32, 48, 3, 2);
  REQUIRE(colorize({a}, s / "out", {"--class", "1", "--size", "32"}).status == 0);
  const std::string before = read_text(s / "out/a_c001.jpg");
  const Result again = colorize({a, b}, s / "out", {"--class", "1", "--size", "32", "--jpeg-quality", "95"});
  CHECK(again.status == 1);
  const auto lines = again.err_lines("bigcolor: ");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("a_c001.jpg already exists") != std::string::npos);
  CHECK(read_text(s / "out/a_c001.jpg") == before);  // untouched
  CHECK(fs::exists(s / "out/b_c001.jpg"));          // the other input went on
  const Result over = colorize({a}, s / "out", {"--class", "1", "--size", "32", "--overwrite", "--jpeg-quality", "95"});
  REQUIRE_MESSAGE(over.status == 0, describe(over));
  const std::string after = read_text(s / "out/a_c001.jpg");
  CHECK(after != before);                 // quality 95 instead of 75
  CHECK(after.size() > before.size());
  CHECK(max_level_difference(load_image(s / "out/a_c001.jpg"), load_image(s / "out/b_c001.jpg")) > 0);
  CHECK(colorize({a}, s / "q", {"--class", "1", "--jpeg-quality", "0"}).status == 2);
  CHECK(colorize({a}, s / "q", {"--class", "1", "--jpeg-quality", "101"}).status == 2);
  // Two inputs with the same name in one run: the second is refused, even with --overwrite.
  const std::string a2 = write_image(s / "other/a.png", 32, 48, 3, 3);
  const Result twice = colorize({a, a2}, s / "twice", {"--class", "1", "--size", "32", "--overwrite"});
  CHECK(twice.status == 1);
  CHECK(twice.err.find("already written for another input") != std::string::npos);
}

TEST_CASE("cli: --device, --threads, --batch, --quiet, --verbose") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  const std::vector<std::string> base{"--class", "1", "--num-z", "3", "--png", "--size", "32"};
  auto with = [&](std::vector<std::string> v) {
    v.insert(v.begin(), base.begin(), base.end());
    return v;
  };
  const Result cpu = colorize({a}, s / "cpu", with({"--device", "cpu", "--verbose"}));
  REQUIRE_MESSAGE(cpu.status == 0, describe(cpu));
  CHECK(cpu.err.find("device: cpu") != std::string::npos);
  CHECK(cpu.err.find("model: ") != std::string::npos);
  CHECK(cpu.err.find("(batch 3)") != std::string::npos);  // one forward for the 3 results
  CHECK(cpu.err.find("wrote ") != std::string::npos);
  // --batch 2: two forwards (2 + 1), the same pictures.
  const Result batched = colorize({a}, s / "b2", with({"--device", "cpu", "--batch", "2", "--verbose"}));
  REQUIRE_MESSAGE(batched.status == 0, describe(batched));
  CHECK(batched.err.find("results 1..2 of 3 (batch 2)") != std::string::npos);
  CHECK(batched.err.find("results 3..3 of 3 (batch 1)") != std::string::npos);
  for (const char* name : {"a_c001_z00.png", "a_c001_z01.png", "a_c001_z02.png"})
    CHECK(max_level_difference(s / ("cpu/" + std::string(name)), s / ("b2/" + std::string(name))) <= 1);
  // --threads 1: one thread, the same pictures.
  const Result one = colorize({a}, s / "t1", with({"--device", "cpu", "--threads", "1", "--verbose"}));
  REQUIRE_MESSAGE(one.status == 0, describe(one));
  CHECK(one.err.find("1 thread") != std::string::npos);
  CHECK(max_level_difference(s / "cpu/a_c001_z01.png", s / "t1/a_c001_z01.png") <= 1);
  // --quiet: nothing on stderr when all goes well.
  const Result quiet = colorize({a}, s / "quiet", with({"--quiet"}));
  CHECK(quiet.status == 0);
  CHECK(quiet.err.empty());
  CHECK(files_in(s / "quiet").size() == 3);
  // --device cuda: a clear one-line error without a GPU, the CPU's pictures with one.
  const Result cuda = colorize({a}, s / "cuda", with({"--device", "cuda"}));
  if (cuda_available()) {
    REQUIRE_MESSAGE(cuda.status == 0, describe(cuda));
    CHECK(cuda.err.find("GPU ") != std::string::npos);  // the peak GPU memory in the summary
    for (const char* name : {"a_c001_z00.png", "a_c001_z02.png"})
      CHECK(max_level_difference(s / ("cpu/" + std::string(name)), s / ("cuda/" + std::string(name))) <= 2);
  } else {
    CHECK(cuda.status == 1);
    const auto lines = cuda.err_lines();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("bigcolor: --device cuda: ") == 0);
  }
  const Result autod = colorize({a}, s / "auto", with({"--device", "auto"}));
  CHECK(autod.status == 0);
  CHECK(colorize({a}, s / "bad", with({"--device", "tpu"})).status == 2);
  CHECK(colorize({a}, s / "bad", with({"--threads", "-1"})).status == 2);  // 0 is all cores, as in train
  CHECK(colorize({a}, s / "bad", with({"--batch", "0"})).status == 2);
}

TEST_CASE("cli: folders (sorted, hidden and non-image files skipped) and --recursive") {
  Scratch s;
  write_image(s / "in/b.png", 32, 48, 3, 1);
  write_image(s / "in/a.jpg", 32, 48, 1, 2);
  write_image(s / "in/.hidden.png", 32, 48);
  write_image(s / "in/sub/c.png", 32, 48, 3, 3);
  std::ofstream(s / "in/notes.txt") << "not an image";
  const Result flat = colorize({s / "in"}, s / "flat", {"--class", "1", "--size", "32"});
  REQUIRE_MESSAGE(flat.status == 0, describe(flat));
  CHECK(files_in(s / "flat") == Names{"a_c001.jpg", "b_c001.jpg"});
  const auto progress = flat.err_lines("[");
  REQUIRE(progress.size() == 2);
  CHECK(progress[0].find("[1/2] ") == 0);
  CHECK(progress[0].find("a.jpg") != std::string::npos);
  CHECK(progress[1].find("b.png") != std::string::npos);
  // --recursive: subfolders too, mirrored below the output folder; an output folder inside the input is skipped.
  const Result deep = colorize({s / "in"}, s / "in/out", {"--class", "1", "--size", "32", "--recursive"});
  REQUIRE_MESSAGE(deep.status == 0, describe(deep));
  CHECK(files_in(s / "in/out") == Names{"a_c001.jpg", "b_c001.jpg", "sub/c_c001.jpg"});
  CHECK(deep.err.find("colorized 3 of 3 images (3 results)") != std::string::npos);
}

TEST_CASE("cli: --epoch, --no-ema and --config select the official weights") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  const std::vector<std::string> base{"--class", "1", "--png", "--size", "32"};
  auto with = [&](std::vector<std::string> v) {
    v.insert(v.begin(), base.begin(), base.end());
    return v;
  };
  REQUIRE(colorize({a}, s / "ema", base).status == 0);
  REQUIRE(colorize({a}, s / "e0", with({"--epoch", "0"})).status == 0);
  CHECK(same_bytes(s / "ema/a_c001.png", s / "e0/a_c001.png"));
  const Result missing = colorize({a}, s / "e5", with({"--epoch", "5"}));
  CHECK(missing.status == 1);
  CHECK(missing.err.find("EG_005.ckpt") != std::string::npos);
  CHECK(colorize({a}, s / "bad", with({"--epoch", "-1"})).status == 2);
  REQUIRE(colorize({a}, s / "raw", with({"--no-ema"})).status == 0);
  CHECK(max_level_difference(s / "ema/a_c001.png", s / "raw/a_c001.png") > 0);
  // A folder without config.pickle: an error naming it, unless --config gives it.
  fs::create_directories(s / "ck");
  for (const char* name : {"EG_000.ckpt", "EG_EMA_000.ckpt", "args.pkl"})
    fs::copy_file(tiny() + "/" + name, s / ("ck/" + std::string(name)));
  const Result noconfig = run({"colorize", a, "-o", s / "nc", "--ckpt", s / "ck", "--class", "1", "--png",
                               "--size", "32"});
  CHECK(noconfig.status == 1);
  CHECK(noconfig.err.find("config.pickle") != std::string::npos);
  const Result config = run({"colorize", a, "-o", s / "cfg", "--ckpt", s / "ck", "--class", "1", "--png", "--size",
                             "32", "--config", tiny() + "/config.pickle"});
  REQUIRE_MESSAGE(config.status == 0, describe(config));
  CHECK(same_bytes(s / "ema/a_c001.png", s / "cfg/a_c001.png"));
}

TEST_CASE("cli: convert round trip gives byte-identical colorizations; refuses to overwrite") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 40, 60);
  const Result c = run({"convert", "--ckpt", tiny(), "-o", s / "tiny.safetensors"});
  REQUIRE_MESSAGE(c.status == 0, describe(c));
  CHECK(c.err.find("EMA weights of epoch 0") != std::string::npos);
  const Result raw = run({"convert", "--ckpt", tiny(), "-o", s / "raw.safetensors", "--no-ema", "--epoch", "0",
                          "--config", tiny() + "/config.pickle", "--quiet"});
  REQUIRE_MESSAGE(raw.status == 0, describe(raw));
  CHECK(raw.err.empty());
  const std::vector<std::string> args{"--class", "1", "7", "--num-z", "2", "--size", "32"};
  REQUIRE(colorize({a}, s / "folder", args).status == 0);
  std::vector<std::string> st{"colorize", a, "-o", s / "file", "--ckpt", s / "tiny.safetensors"};
  st.insert(st.end(), args.begin(), args.end());
  REQUIRE(run(st).status == 0);
  const Names names = files_in(s / "folder");
  REQUIRE(names.size() == 4);
  CHECK(files_in(s / "file") == names);
  for (const std::string& n : names) CHECK(same_bytes(s / ("folder/" + n), s / ("file/" + n)));
  // Raw weights too.
  std::vector<std::string> rf = args;
  rf.push_back("--no-ema");
  REQUIRE(colorize({a}, s / "folder_raw", rf).status == 0);
  std::vector<std::string> rs{"colorize", a, "-o", s / "file_raw", "--ckpt", s / "raw.safetensors"};
  rs.insert(rs.end(), args.begin(), args.end());
  REQUIRE(run(rs).status == 0);
  for (const std::string& n : names) CHECK(same_bytes(s / ("folder_raw/" + n), s / ("file_raw/" + n)));
  // --no-ema/--epoch/--config do not apply to a .safetensors file.
  std::vector<std::string> wrong = st;
  wrong.push_back("--no-ema");
  CHECK(run(wrong).status == 2);
  // No overwriting without --overwrite.
  const std::string before = read_text(s / "tiny.safetensors");
  const Result again = run({"convert", "--ckpt", tiny(), "-o", s / "tiny.safetensors", "--no-ema"});
  CHECK(again.status == 1);
  CHECK(again.err.find("already exists") != std::string::npos);
  CHECK(read_text(s / "tiny.safetensors") == before);
  const Result over = run({"convert", "--ckpt", tiny(), "-o", s / "tiny.safetensors", "--no-ema", "--overwrite"});
  CHECK(over.status == 0);
  CHECK(read_text(s / "tiny.safetensors") == read_text(s / "raw.safetensors"));
  // Bad sources.
  CHECK(run({"convert", "--ckpt", s / "nowhere", "-o", s / "x.safetensors"}).status == 1);
  CHECK(run({"convert", "--ckpt", tiny(), "-o", s / "y.safetensors", "--epoch", "3"}).status == 1);
  CHECK(run({"convert", "--ckpt", tiny()}).status == 2);
  CHECK_FALSE(fs::exists(s / "x.safetensors"));
}

TEST_CASE("cli: inspect describes safetensors, torch.save files, pickles and checkpoint folders") {
  Scratch s;
  REQUIRE(run({"convert", "--ckpt", tiny(), "-o", s / "tiny.safetensors", "--quiet"}).status == 0);
  auto has = [](const Result& r, const std::vector<std::string>& words) {
    CHECK_MESSAGE(r.status == 0, describe(r));
    for (const std::string& w : words) CHECK_MESSAGE(r.out.find(w) != std::string::npos, w, "\n", r.out);
  };
  has(run({"inspect", s / "tiny.safetensors"}),
      {"safetensors file", "bigcolor.config", "bigcolor.format_version: 1", "G.shared.weight  F32 (10, 128)",
       "E.res1.conv.weight  F32", "colorizer configuration", "n_classes: 10", "G_ch: 2"});
  has(run({"inspect", tiny() + "/EG_000.ckpt"}),
      {"torch.save archive (zip format)", "state dict (", "G.shared.weight  F32 (10, 128)", "G.linear.u0"});
  has(run({"inspect", tiny() + "/EG_EMA_000.ckpt"}),
      {"torch_ema state: decay ", "num_updates ", "shadow params (", "shadow_params:", "[0]  F32 ("});
  has(run({"inspect", test::golden_path("checkpoints/state_dict_legacy.pt")}), {"(legacy format)", "state dict ("});
  has(run({"inspect", tiny() + "/args.pkl"}), {": pickle", "argparse.Namespace", "norm_type: 'adabatch'", "dim_z: 119"});
  has(run({"inspect", tiny() + "/config.pickle"}), {": pickle", "dict of ", "G_ch: 2", "n_classes: 10",
                                                   "torch.nn.modules.activation.ReLU"});
  has(run({"inspect", tiny()}), {"official BigColor checkpoint folder", "EG_000.ckpt", "epochs: 0; with EMA weights: 0",
                                 "colorizer configuration", "n_classes: 10", "dim_z: 120 (7 chunks of 17: 119 used)"});
  has(run({"inspect", tiny(), "--epoch", "0", "--config", tiny() + "/config.pickle"}), {"epoch 0:"});
  // Errors: one line, exit 1.
  const Result missing = run({"inspect", s / "nothing.pth"});
  CHECK(missing.status == 1);
  CHECK(missing.err_lines().size() == 1);
  std::ofstream(s / "junk.pth") << "this is not a checkpoint";
  const Result junk = run({"inspect", s / "junk.pth"});
  CHECK(junk.status == 1);
  CHECK(junk.err_lines().size() == 1);
  CHECK(junk.err.find("junk.pth") != std::string::npos);
  fs::create_directories(s / "empty");
  CHECK(run({"inspect", s / "empty"}).status == 1);
  CHECK(run({"inspect", s / "tiny.safetensors", "--epoch", "1"}).status == 2);
}

TEST_CASE("cli: bad inputs are clear one-line errors; the others continue; exit 1") {
  Scratch s;
  const std::string a = write_image(s / "in/a.png", 32, 48);
  write_image(s / "in/c.png", 32, 48, 3, 5);
  std::ofstream(s / "in/b.png") << "garbage, not a PNG";
  // A corrupt image among good ones.
  const Result r = colorize({s / "in"}, s / "out", {"--class", "1", "--size", "32"});
  CHECK(r.status == 1);
  CHECK(files_in(s / "out") == Names{"a_c001.jpg", "c_c001.jpg"});
  const auto errors = r.err_lines("bigcolor: ");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("b.png") != std::string::npos);
  CHECK(r.err.find("colorized 2 of 3 images (2 results)") != std::string::npos);
  CHECK(r.err.find("; 1 failed") != std::string::npos);
  // A missing input and an empty folder.
  fs::create_directories(s / "empty");
  const Result e = colorize({s / "empty", s / "nothing.png", a}, s / "out2", {"--class", "1", "--size", "32"});
  CHECK(e.status == 1);
  CHECK(e.err_lines("bigcolor: ").size() == 2);
  CHECK(e.err.find("no images") != std::string::npos);
  CHECK(e.err.find("nothing.png") != std::string::npos);
  CHECK(files_in(s / "out2") == Names{"a_c001.jpg"});
  // Only an empty folder: nothing to do, exit 1.
  CHECK(colorize({s / "empty"}, s / "out3", {"--class", "1"}).status == 1);
  // Whole-run errors: missing checkpoint, unknown class, a class the model does not have, unwritable output.
  const Result no_ckpt = run({"colorize", a, "-o", s / "o", "--ckpt", s / "nowhere", "--class", "1"});
  CHECK(no_ckpt.status == 1);
  REQUIRE(no_ckpt.err_lines().size() == 1);
  CHECK(no_ckpt.err.find("bigcolor: --ckpt ") == 0);
  const Result unknown = colorize({a}, s / "o", {"--class", "no such animal"});
  CHECK(unknown.status == 1);
  REQUIRE(unknown.err_lines().size() == 1);
  CHECK(unknown.err.find("bigcolor: --class: 'no such animal'") == 0);
  const Result range = colorize({a}, s / "o", {"--class", "golden retriever"});  // 207: the tiny model has 10
  CHECK(range.status == 1);
  CHECK(range.err.find("10 classes") != std::string::npos);
  std::ofstream(s / "file") << "x";
  const Result unwritable = colorize({a}, s / "file/sub", {"--class", "1"});
  CHECK(unwritable.status == 1);
  REQUIRE(unwritable.err_lines().size() == 1);
  CHECK(unwritable.err.find("bigcolor: -o ") == 0);
  CHECK(colorize({a}, s / "file", {"--class", "1"}).status == 1);  // -o names a file
  // Bad option values and unknown options: CLI11's message, exit 2.
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--class", "1", "--size", "0"},
                                             {"--class", "1", "--size", "abc"},
                                             {"--class", "1", "--resize", "stretch"},
                                             {"--class", "1", "--num-power", "11"},
                                             {"--class", "1", "--frobnicate"},
                                             {"--class", "1", "--config", s / "missing.pickle"}}) {
    const Result u = colorize({a}, s / "o", bad);
    CHECK_MESSAGE(u.status == 2, bad.back(), "\n", u.err);
    CHECK(!u.err.empty());
  }
  // No -o: the results go to results/ in the working folder.
  const Result no_output = run_with("cd " + quote(s / "") + " &&", {"colorize", a, "--ckpt", tiny(), "--class", "1"});
  CHECK_MESSAGE(no_output.status == 0, describe(no_output));
  CHECK(fs::is_directory(s / "results"));
}

TEST_CASE("cli: the colorize pipeline reproduces the recorded official outputs (tensor level)") {
  // x of colorizer_parity is float data no 8-bit file holds, so the CLI's own functions are run on it: the class
  // embeddings (plain and mixed, scaled and shifted), the batched forward, and the --rgb --no-upsample finish.
  const Tensor& x = parity().at("x");
  const Tensor& z = parity().at("z");
  const std::vector<std::int32_t> classes = parity().at("classes").to_indices();
  const std::vector<std::int32_t> ca = parity().at("mix.classes_a").to_indices();
  const std::vector<std::int32_t> cb = parity().at("mix.classes_b").to_indices();
  const float mix_a = parity_float("mix_a"), mix_b = parity_float("mix_b");
  REQUIRE(1.0f - mix_b == mix_a);  // the CLI's (1 - W) A + W B with W = mix_b is the recorded mix_a A + mix_b B
  for (const bool ema : {false, true}) {
    const std::string w = ema ? "ema" : "raw";
    auto model = tiny_model(ema);
    const Tensor plain = bigcolor::class_embeddings(
        *model, {{classes[0], -1, 0.0f}, {classes[1], -1, 0.0f}}, 1.0f, 0.0f);
    const Tensor mixed = bigcolor::class_embeddings(*model, {{ca[0], cb[0], mix_b}, {ca[1], cb[1], mix_b}},
                                               parity_float("c_scale"), parity_float("c_bias"));
    test::check_close(mixed, parity().at(w + ".c_embed"), 1e-6, w + ": mixed class embedding");
    for (std::int64_t i = 0; i < 2; ++i) {
      const Tensor xi = row(x, i);
      const Tensor out = bigcolor::run_network(*model, xi, row(plain, i), row(z, i), 8, Device::CPU);
      test::check_close(out, row(parity().at(w + ".out"), i), kModelTolerance, w + ": EG(x, c, z) through the CLI");
      const Tensor out_c = bigcolor::run_network(*model, xi, row(mixed, i), row(z, i), 8, Device::CPU);
      test::check_close(out_c, row(parity().at(w + ".out_with_c"), i), kModelTolerance,
                        w + ": forward_with_c through the CLI");
      // --rgb --no-upsample: the saved picture is exactly (o + 1) / 2 of the recorded output's computation.
      const Tensor picture = bigcolor::finish_result(out, xi, xi, /*no_upsample=*/true, /*rgb=*/true);
      const std::vector<float> o = out.to_vector(), p = picture.to_vector();
      REQUIRE(p.size() == o.size());
      bool exact = true;
      for (std::size_t k = 0; k < o.size(); ++k) exact &= p[k] == (o[k] + 1.0f) / 2.0f;
      CHECK(exact);
    }
    // A batch of both pairs at once (with x repeated) matches the per-sample runs: same x for both rows here. The
    // two runs' GEMMs have different row counts, so a BLAS kernel may block their sums differently: OpenBLAS's
    // SkylakeX kernel gives identical results (0), its Cooper Lake kernel (a CPU with AVX512-BF16 but no AMX)
    // 1.7e-6 normalized. That is FP32 reassociation through the whole network, held to the whole-model bar.
    const Tensor x0 = row(x, 0);
    const Tensor both = bigcolor::run_network(*model, x0, plain, parity().at("z"), 2, Device::CPU);
    const Tensor single = bigcolor::run_network(*model, x0, row(plain, 1), row(z, 1), 1, Device::CPU);
    test::check_close(row(both, 1), single, kModelTolerance, w + ": batched vs single forward");
  }
}

TEST_CASE("cli: pipeline pieces: names, z draws, conditionings") {
  bigcolor::Conditioning plain{7, -1, 0.0f}, mixed{7, 42, 0.25f};
  CHECK(bigcolor::result_name("photo", plain, 0, 1, "") == "photo_c007");
  CHECK(bigcolor::result_name("photo", plain, 3, 5, "") == "photo_c007_z03");
  CHECK(bigcolor::result_name("photo", mixed, 0, 1, "_x") == "photo_c007_c042_w0.25_x");
  const Tensor z = bigcolor::draw_z(2, 0.8f, 3, 119);
  CHECK(z.shape() == Shape{3, 119});
  Rng rng(2);
  const std::vector<float> v = z.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i) REQUIRE(v[i] == rng.normal(0.0f, 0.8f));
  const auto conds = bigcolor::resolve_conditionings({"1", "tench"}, {"1", "n01443537"}, {0.5f, 0.75f});
  REQUIRE(conds.size() == 4);
  CHECK(conds[1].class_a == 0);
  CHECK(conds[3].class_b == 1);
  CHECK(conds[3].weight == 0.75f);
  CHECK_THROWS_AS(bigcolor::resolve_conditionings({}, {}, {0.5f}), Error);
  CHECK_THROWS_AS(bigcolor::resolve_conditionings({"crane"}, {}, {0.5f}), Error);  // ambiguous
}

}  // TEST_SUITE("cli")
