// `--precision` on the command line (issue 11): colorize with the bundled model in bf16 and fp16, the engine named
// by --verbose, the emulated engine on a CPU whose bf16 instructions oneDNN is told not to use
// (ONEDNN_MAX_CPU_ISA=AVX2: what a CPU without AVX512-BF16 gets) giving the same picture, and a bad value refused
// as a usage error.
#include <doctest/doctest.h>

#include <cstdlib>
#include <vector>

#include "bigcolor/image.h"
#include "cli_test_util.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;

namespace {

// The share of 8-bit channel values of a and b within `levels` of each other.
double share_within(const Image& a, const Image& b, int levels) {
  REQUIRE(a.pixels.size() == b.pixels.size());
  std::size_t within = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    within += std::abs(std::lround(a.pixels[i] * 255.0f) - std::lround(b.pixels[i] * 255.0f)) <= levels ? 1 : 0;
  return static_cast<double>(within) / static_cast<double>(a.pixels.size());
}

}  // namespace

TEST_CASE("cli colorize --precision: bf16 and fp16 pictures match fp32's, the engine is named, bad values refused") {
  Scratch s;
  const std::string photo = test::golden_path("classifiers/gray_1.png");
  const auto colorize = [&](const std::string& env, const std::string& out, const std::string& precision) {
    return run_with(env, {"colorize", photo, "-o", s / out, "--precision", precision, "--verbose", "--png"});
  };
  const Result fp32 = colorize("", "fp32", "fp32");
  REQUIRE_MESSAGE(fp32.status == 0, describe(fp32));
  CHECK(fp32.err.find("precision fp32") != std::string::npos);
  const Image ref = load_image(s / "fp32/gray_1_c000.png");
  const Result bf16 = colorize("", "bf16", "bf16");
  REQUIRE_MESSAGE(bf16.status == 0, describe(bf16));
  const bool native = bf16.err.find("precision bf16 (oneDNN") != std::string::npos;
  CHECK((native || bf16.err.find("precision bf16 (emulated)") != std::string::npos));
  MESSAGE("bf16 engine here: ", std::string(native ? "oneDNN" : "emulated"));
  CHECK(share_within(load_image(s / "bf16/gray_1_c000.png"), ref, 2) >= 0.99);
  // oneDNN restricted to AVX2 has no bf16 instructions: the emulated engine, the same picture up to the order of
  // the float32 sums.
  const Result avx2 = colorize("ONEDNN_MAX_CPU_ISA=AVX2", "avx2", "bf16");
  REQUIRE_MESSAGE(avx2.status == 0, describe(avx2));
  CHECK(avx2.err.find("precision bf16 (emulated)") != std::string::npos);
  CHECK(share_within(load_image(s / "avx2/gray_1_c000.png"), load_image(s / "bf16/gray_1_c000.png"), 1) >= 0.999);
  const Result fp16 = colorize("", "fp16", "fp16");
  REQUIRE_MESSAGE(fp16.status == 0, describe(fp16));
  CHECK(fp16.err.find("precision fp16 (emulated)") != std::string::npos);
  CHECK(share_within(load_image(s / "fp16/gray_1_c000.png"), ref, 2) >= 0.99);

  const Result bad = colorize("", "bad", "fp8");
  CHECK(bad.status == 2);  // a usage error: CLI11's line naming the option and the value, then its --help hint
  CHECK(bad.err.rfind("--precision: fp8 not in {fp32,bf16,fp16}", 0) == 0);
  CHECK_FALSE(fs::exists(s / "bad"));
}
