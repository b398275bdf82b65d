// LPIPS (eval/lpips.h), the `lpips` package 0.1 with net='vgg': the per-tap term on hand-made features, the
// scaling layer through a pass-through VGG, the properties of the whole distance (identical images give exactly 0,
// symmetry, batch independence), the strict readers of the VGG and lin files, and (tests/golden/eval) the values of
// every image pair against lpips.LPIPS(net='vgg', pnet_rand=True) with the seeded VGG and the wheel's lin weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>


#include "eval/lpips.h"
#include "imaging/image.h"
#include "models/checkpoint.h"
#include "models/vgg16.h"
#include "seeded_state.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using bigcolor::Device;
using bigcolor::Lpips;
using bigcolor::Shape;
using bigcolor::Tensor;
namespace test = bigcolor::test;
using State = std::map<std::string, Tensor>;

// A VGG16 state with tap widths `w` (conv widths w1 w1 w2 w2 w3 w3 w3 w4 w4 w4 w5 w5 w5): seeded weights (the
// recipe of seeded_state.h), zero biases (as tools/make_golden_eval.py builds lpips' VGG).
State seeded_vgg(const std::array<std::int64_t, 5>& w) {
  const std::array<std::int64_t, 13> widths = {w[0], w[0], w[1], w[1], w[2], w[2], w[2], w[3], w[3], w[3], w[4], w[4], w[4]};
  State s;
  std::int64_t in = 3;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const std::string key = "features." + std::to_string(bigcolor::kVgg16ConvIndex[i]);
    s[key + ".weight"] = test::seeded_tensor(key + ".weight", {widths[i], in, 3, 3});
    s[key + ".bias"] = Tensor::zeros({widths[i]});
    in = widths[i];
  }
  return s;
}

State lin_state(const std::array<std::int64_t, 5>& w, float value = -1.0f) {
  State s;
  for (int k = 0; k < 5; ++k) {
    const std::string key = "lin" + std::to_string(k) + ".model.1.weight";
    const Shape shape = {1, w[static_cast<std::size_t>(k)], 1, 1};
    if (value >= 0) {
      s[key] = Tensor::full(shape, value);
    } else {  // positive, like the wheel's (0.01 .. 1.3)
      std::vector<float> v(static_cast<std::size_t>(w[static_cast<std::size_t>(k)]));
      for (std::size_t c = 0; c < v.size(); ++c) v[c] = 0.05f + 0.9f * static_cast<float>((c * 37 + k * 11) % 17) / 17.0f;
      s[key] = Tensor::from_vector(v, shape);
    }
  }
  return s;
}

constexpr std::array<std::int64_t, 5> kTiny = {4, 6, 8, 8, 12};

// The one-element tensors of a safetensors file (F32, and F64 read as F32), as doubles.
std::map<std::string, double> read_scalars(const std::string& path) {
  std::map<std::string, double> out;
  for (const auto& [name, t] : bigcolor::load_safetensors(path).tensors)
    if (t.numel() == 1 && t.dtype() == bigcolor::DType::F32) out[name] = t.to_vector()[0];
  return out;
}

// (1, 3, H, W) each -> (N, 3, H, W).
Tensor batch_of(const std::vector<Tensor>& images) {
  std::vector<float> all;
  for (const Tensor& t : images) {
    const std::vector<float> v = t.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  Shape shape = images.front().shape();
  shape[0] = static_cast<std::int64_t>(images.size());
  return Tensor::from_vector(all, shape);
}

struct GoldenPairs {
  std::vector<std::string> rels;  // n01440764/img_00.png, ... sorted
  Tensor ref, pred;               // (64, 3, 48, 48) in [0, 1]
};

const GoldenPairs& golden_pairs() {
  static const GoldenPairs pairs = [] {
    GoldenPairs p;
    const std::filesystem::path root = test::golden_path("eval/ref");
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().extension() == ".png")
        p.rels.push_back(std::filesystem::relative(e.path(), root).generic_string());
    std::sort(p.rels.begin(), p.rels.end());
    std::vector<Tensor> ref, pred;
    for (const std::string& r : p.rels) {
      ref.push_back(bigcolor::to_tensor(bigcolor::load_image(test::golden_path("eval/ref/" + r))));
      pred.push_back(bigcolor::to_tensor(bigcolor::load_image(test::golden_path("eval/pred/" + r))));
      REQUIRE_MESSAGE(ref.back().shape() == Shape({1, 3, 48, 48}), r);
      REQUIRE_MESSAGE(pred.back().shape() == Shape({1, 3, 48, 48}), r);
    }
    p.ref = batch_of(ref);
    p.pred = batch_of(pred);
    return p;
  }();
  return pairs;
}

// lpips' VGG as tools/make_golden_eval.py seeds it: the recipe's weights from the manifest, every bias 0.
Lpips golden_lpips(Device device) {
  const bigcolor::StateShapes shapes = test::read_manifest(test::golden_path("eval/lpips_vgg_manifest.txt"));
  CHECK(shapes.size() == 26);
  State vgg;
  for (const auto& [name, shape] : shapes)
    vgg[name] = name.ends_with(".bias") ? Tensor::zeros(shape) : test::seeded_tensor(name, shape);
  const std::string lin_path = test::golden_path("eval/lpips_vgg_v0.1.pth");
  const bigcolor::NamedTensors lin = bigcolor::load_state_dict_file(lin_path);
  return Lpips::from_state(vgg, "lpips_vgg_manifest.txt (seeded, biases 0)", State(lin.begin(), lin.end()), lin_path,
                           device);
}

// Every pair against lpips' float32 values: normalized error over the vector ≤ 1e-4 and each pair within 1e-4
// relative; the errors against lpips' float64 recomputation are printed for the report.
void check_golden(Device device) {
  const Lpips l = golden_lpips(device);
  CHECK(l.channels() == std::array<std::int64_t, 5>{64, 128, 256, 512, 512});
  const GoldenPairs& pairs = golden_pairs();
  REQUIRE(pairs.rels.size() == 64);
  const std::map<std::string, double> metrics = read_scalars(test::golden_path("eval/metrics.safetensors"));
  const std::vector<double> d = l.distance(pairs.ref, pairs.pred);
  REQUIRE(d.size() == pairs.rels.size());
  double diff32 = 0, norm32 = 0, diff64 = 0, norm64 = 0, worst32 = 0, worst64 = 0, lo = 1e300, hi = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const std::string& r = pairs.rels[i];
    REQUIRE_MESSAGE(metrics.count("lpips." + r) == 1, "lpips.", r);
    REQUIRE_MESSAGE(metrics.count("lpips64." + r) == 1, "lpips64.", r);
    const double v32 = metrics.at("lpips." + r), v64 = metrics.at("lpips64." + r);
    diff32 += (d[i] - v32) * (d[i] - v32);
    norm32 += v32 * v32;
    diff64 += (d[i] - v64) * (d[i] - v64);
    norm64 += v64 * v64;
    const double rel32 = std::abs(d[i] - v32) / std::abs(v32);
    worst32 = std::max(worst32, rel32);
    worst64 = std::max(worst64, std::abs(d[i] - v64) / std::abs(v64));
    lo = std::min(lo, v32);
    hi = std::max(hi, v32);
    CHECK_MESSAGE(rel32 <= 1e-4, r, ": ", d[i], " vs lpips ", v32);
  }
  const double e32 = std::sqrt(diff32 / norm32), e64 = std::sqrt(diff64 / norm64);
  MESSAGE("lpips (", std::string(bigcolor::device_name(device)), "): normalized error ", e32, " vs lpips float32 (max rel ",
          worst32, "), ", e64, " vs float64 (max rel ", worst64, "); values ", lo, " .. ", hi);
  CHECK(e32 <= 1e-4);
  CHECK(e64 <= 1e-4);
  // Identical images: exactly 0.
  for (const double z : l.distance(pairs.ref, pairs.ref)) CHECK(z == 0.0);
}

}  // namespace

TEST_SUITE("eval") {

TEST_CASE("lpips: one tap's term on hand-made features (normalize, squared difference, lin, mean)") {
  // B = 2, C = 2, H = 1, W = 2. Image 0: pixel 0 a = (3, 4), b = (4, 3) -> unit (0.6, 0.8), (0.8, 0.6): diff² 0.04 each;
  // pixel 1 a = (0, 0) (stays 0: 0 / (0 + 1e-10)), b = (2, 0) -> (1, 0). w = (1, 2): (0.04 + 0.08 + 1) / 2 = 0.56.
  // Image 1: a = b (times 7 in b: the normalization removes the scale) -> 0.
  const Tensor a = Tensor::from_vector({3, 0, 4, 0, /**/ 1, 2, 5, 3}, {2, 2, 1, 2});
  const Tensor b = Tensor::from_vector({4, 2, 3, 0, /**/ 7, 14, 35, 21}, {2, 2, 1, 2});
  const std::vector<double> d = bigcolor::lpips_tap_distance(a, b, {1.0f, 2.0f});
  REQUIRE(d.size() == 2);
  CHECK(d[0] == doctest::Approx(0.56).epsilon(1e-9));  // 2 / (2 + 1e-10): 1e-10 off 1
  CHECK(std::abs(d[1]) < 1e-15);
  CHECK(bigcolor::lpips_tap_distance(a, a, {1.0f, 2.0f})[0] == 0.0);
  // The eps of normalize_tensor: a tiny vector is not scaled up to unit length.
  const Tensor tiny = Tensor::from_vector({1e-12f, 0.0f}, {1, 2, 1, 1});
  const Tensor zero = Tensor::zeros({1, 2, 1, 1});
  const double n = 1e-12 / (1e-12 + 1e-10);
  CHECK(bigcolor::lpips_tap_distance(tiny, zero, {1.0f, 1.0f})[0] == doctest::Approx(n * n).epsilon(1e-6));
  CHECK_THROWS_AS(bigcolor::lpips_tap_distance(a, b, {1.0f}), bigcolor::Error);
  CHECK_THROWS_AS(bigcolor::lpips_tap_distance(a, Tensor::zeros({2, 2, 2, 1}), {1.0f, 2.0f}), bigcolor::Error);
}

TEST_CASE("lpips: the scaling layer and relu1_2 through a pass-through first block") {
  // conv1_1 and conv1_2 3 -> 3 channels, the identity (a 1 in the centre tap), zero bias: relu1_2 is
  // relu((2x − 1 − shift) / scale).
  State vgg = seeded_vgg({3, 6, 8, 8, 12});
  for (const std::string key : {"features.0.weight", "features.2.weight"}) {
    std::vector<float> w(81, 0.0f);
    for (int c = 0; c < 3; ++c) w[static_cast<std::size_t>((c * 3 + c) * 9 + 4)] = 1.0f;
    vgg[key] = Tensor::from_vector(w, {3, 3, 3, 3});
  }
  const Lpips l = Lpips::from_state(vgg, "vgg", lin_state({3, 6, 8, 8, 12}), "lin");
  bigcolor::Rng rng(14);
  const Tensor x = test::random_uniform({2, 3, 16, 20}, rng, 0.0f, 1.0f);
  const Lpips::Taps taps = l.features(x);
  const std::vector<float> in = x.to_vector();
  const std::vector<float> got = taps[0].to_vector();
  REQUIRE(got.size() == in.size());
  const float shift[3] = {-.030f, -.088f, -.188f}, scale[3] = {.458f, .448f, .450f};
  double worst = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::size_t c = (i / (16 * 20)) % 3;
    const auto y = static_cast<float>(2.0 * static_cast<double>(in[i]) - 1.0);
    const float expected = std::max(0.0f, (y - shift[c]) / scale[c]);
    worst = std::max(worst, static_cast<double>(std::abs(got[i] - expected)));
  }
  CHECK(worst == 0.0);
  // The other taps' shapes: (B, C_k, H / 2^k, W / 2^k), floor.
  const std::array<Shape, 5> shapes = {Shape{2, 3, 16, 20}, Shape{2, 6, 8, 10}, Shape{2, 8, 4, 5}, Shape{2, 8, 2, 2},
                                       Shape{2, 12, 1, 1}};
  for (int k = 0; k < 5; ++k) CHECK(taps[static_cast<std::size_t>(k)].shape() == shapes[static_cast<std::size_t>(k)]);
  CHECK(l.channels() == std::array<std::int64_t, 5>{3, 6, 8, 8, 12});
}

TEST_CASE("lpips: identical images give 0, the distance is symmetric and each image's own") {
  const Lpips l = Lpips::from_state(seeded_vgg(kTiny), "vgg", lin_state(kTiny), "lin");
  bigcolor::Rng rng(7);
  const Tensor a = test::random_uniform({3, 3, 24, 17}, rng, 0.0f, 1.0f);
  const Tensor b = test::random_uniform({3, 3, 24, 17}, rng, 0.0f, 1.0f);
  const std::vector<double> same = l.distance(a, a);
  REQUIRE(same.size() == 3);
  for (const double d : same) CHECK(d == 0.0);
  const std::vector<double> ab = l.distance(a, b), ba = l.distance(b, a);
  REQUIRE(ab.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(ab[i] > 0.0);
    CHECK(std::isfinite(ab[i]));
    CHECK(ab[i] == doctest::Approx(ba[i]).epsilon(1e-12));
  }
  // Image 1 alone gives what it gave in the batch.
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  const std::size_t n = 3 * 24 * 17;
  const Tensor a1 = Tensor::from_vector(std::vector<float>(va.begin() + n, va.begin() + 2 * n), {1, 3, 24, 17});
  const Tensor b1 = Tensor::from_vector(std::vector<float>(vb.begin() + n, vb.begin() + 2 * n), {1, 3, 24, 17});
  CHECK(l.distance(a1, b1)[0] == doctest::Approx(ab[1]).epsilon(1e-6));
  // The lin weights scale each tap: all weights 1 vs all weights 2 doubles the distance.
  const Lpips one = Lpips::from_state(seeded_vgg(kTiny), "vgg", lin_state(kTiny, 1.0f), "lin");
  const Lpips two = Lpips::from_state(seeded_vgg(kTiny), "vgg", lin_state(kTiny, 2.0f), "lin");
  CHECK(two.distance(a1, b1)[0] == doctest::Approx(2.0 * one.distance(a1, b1)[0]).epsilon(1e-12));
  CHECK(l.distance(Tensor::zeros({0, 3, 16, 16}), Tensor::zeros({0, 3, 16, 16})).empty());
}

TEST_CASE("lpips: bad inputs are clear errors") {
  const Lpips l = Lpips::from_state(seeded_vgg(kTiny), "vgg", lin_state(kTiny), "lin");
  const Tensor ok = Tensor::zeros({1, 3, 16, 16});
  CHECK_THROWS_WITH_AS(l.distance(Tensor::zeros({1, 3, 15, 16}), Tensor::zeros({1, 3, 15, 16})),
                       doctest::Contains("H and W must be at least 16"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(l.distance(ok, Tensor::zeros({1, 1, 16, 16})), doctest::Contains("lpips: images b are (1, 1, 16, 16)"),
                       bigcolor::Error);
  CHECK_THROWS_WITH_AS(l.distance(ok, Tensor::zeros({1, 3, 16, 17})), doctest::Contains("differ in shape"),
                       bigcolor::Error);
  const Tensor nan = Tensor::full({1, 3, 16, 16}, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_WITH_AS(l.distance(nan, ok), doctest::Contains("lpips: images a hold NaN or Inf"), bigcolor::Error);
}

TEST_CASE("lpips: the VGG and lin files are read strictly, errors name the file and the tensor") {
  test::TempFolder dir("bigcolor_lpips_");
  const std::string vgg_path = (dir.path() / "vgg16.safetensors").string();
  const std::string lin_path = (dir.path() / "lin.safetensors").string();
  State vgg = seeded_vgg(kTiny);
  vgg["classifier.0.weight"] = Tensor::zeros({2, 3});  // a full vgg16 file's extras are ignored
  vgg["features.30.weight"] = Tensor::zeros({1});
  State lin = lin_state(kTiny);
  lin["scaling_layer.shift"] = Tensor::zeros({1, 3, 1, 1});
  bigcolor::save_safetensors(vgg_path, vgg);
  bigcolor::save_safetensors(lin_path, lin);
  const Lpips from_files = Lpips::load(vgg_path, lin_path);
  const Lpips from_memory = Lpips::from_state(seeded_vgg(kTiny), "vgg", lin_state(kTiny), "lin");
  bigcolor::Rng rng(3);
  const Tensor a = test::random_uniform({1, 3, 16, 16}, rng, 0.0f, 1.0f);
  const Tensor b = test::random_uniform({1, 3, 16, 16}, rng, 0.0f, 1.0f);
  CHECK(from_files.distance(a, b)[0] == from_memory.distance(a, b)[0]);

  auto refused = [&](const State& v, const State& l, const std::string& message) {
    bigcolor::save_safetensors(vgg_path, v);
    bigcolor::save_safetensors(lin_path, l);
    CHECK_THROWS_WITH_AS(Lpips::load(vgg_path, lin_path), doctest::Contains(message.c_str()), bigcolor::Error);
  };
  State v = seeded_vgg(kTiny);
  v.erase("features.28.weight");
  refused(v, lin, vgg_path + ": 'features.28.weight' is missing (not a torchvision vgg16 state dict?)");
  v = seeded_vgg(kTiny);
  v.erase("features.21.bias");
  refused(v, lin, vgg_path + ": 'features.21.bias' is missing");
  v = seeded_vgg(kTiny);
  v["features.24.weight"] = Tensor::zeros({12, 7, 3, 3});
  refused(v, lin, vgg_path + ": 'features.24.weight' has shape (12, 7, 3, 3), expected (C, 8, 3, 3)");
  v = seeded_vgg(kTiny);
  v["features.5.bias"] = Tensor::zeros({5});
  refused(v, lin, vgg_path + ": 'features.5.bias' has shape (5), expected (6)");
  v = seeded_vgg(kTiny);
  v["features.12.weight"].data<float>()[7] = std::numeric_limits<float>::infinity();
  refused(v, lin, vgg_path + ": tensor 'features.12.weight' holds NaN or Inf");
  State l2 = lin_state(kTiny);
  l2.erase("lin3.model.1.weight");
  refused(seeded_vgg(kTiny), l2, lin_path + ": 'lin3.model.1.weight' is missing (not an LPIPS vgg lin-layer file?)");
  l2 = lin_state(kTiny);
  l2["lin2.model.1.weight"] = Tensor::zeros({1, 6, 1, 1});
  refused(seeded_vgg(kTiny), l2,
          lin_path + ": 'lin2.model.1.weight' has shape (1, 6, 1, 1), expected (1, 8, 1, 1) (the VGG's relu3_3 has 8 channels)");
  l2 = lin_state(kTiny);
  l2["lin0.model.1.weight"].data<float>()[1] = std::numeric_limits<float>::quiet_NaN();
  refused(seeded_vgg(kTiny), l2, lin_path + ": tensor 'lin0.model.1.weight' holds NaN or Inf");
  const std::string absent = (dir.path() / "absent.pth").string();
  CHECK_THROWS_WITH_AS(Lpips::load(absent, lin_path), doctest::Contains(absent.c_str()), bigcolor::Error);
}

TEST_CASE("lpips: every golden pair matches lpips.LPIPS(net='vgg') with the seeded VGG and the wheel's lin weights") {
  check_golden(Device::CPU);
}

TEST_CASE("lpips: the wheel's lin file and a full-size VGG file are read, extras ignored") {
  const std::string lin_path = test::golden_path("eval/lpips_vgg_v0.1.pth");  // legacy torch.save
  test::TempFolder dir("bigcolor_lpips_");
  const std::string vgg_path = (dir.path() / "vgg16.safetensors").string();
  State vgg = seeded_vgg({64, 128, 256, 512, 512});
  vgg["classifier.6.bias"] = Tensor::zeros({1000});
  bigcolor::save_safetensors(vgg_path, vgg);
  const Lpips l = Lpips::load(vgg_path, lin_path);
  CHECK(l.channels() == std::array<std::int64_t, 5>{64, 128, 256, 512, 512});
  // The wheel's weights against a tiny VGG: the widths must match.
  const std::string tiny_path = (dir.path() / "tiny.safetensors").string();
  bigcolor::save_safetensors(tiny_path, seeded_vgg(kTiny));
  CHECK_THROWS_WITH_AS(Lpips::load(tiny_path, lin_path),
                       doctest::Contains((lin_path + ": 'lin0.model.1.weight' has shape (1, 64, 1, 1), expected (1, 4, 1, 1)").c_str()),
                       bigcolor::Error);
}

}  // TEST_SUITE("eval")

// The VGG through cuDNN, the rest on the host: the same golden values at the same bar.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda lpips: every golden pair matches lpips on the GPU, identical images give 0") {
  if (!bigcolor::cuda_available()) return;
  check_golden(Device::CUDA);
  const Lpips l = golden_lpips(Device::CUDA);
  CHECK(l.device() == Device::CUDA);
  const GoldenPairs& pairs = golden_pairs();
  const std::vector<double> on_host_input = l.distance(pairs.ref, pairs.pred);
  const std::vector<double> on_device_input = l.distance(pairs.ref.to(Device::CUDA), pairs.pred.to(Device::CUDA));
  for (std::size_t i = 0; i < on_host_input.size(); ++i) CHECK(on_device_input[i] == on_host_input[i]);
}

}  // TEST_SUITE("cuda")
