// bigcolor eval against the reference implementations on real photos (tests/golden/eval, written by
// tools/make_golden_eval.py: 64 crops of public-domain / CC0 photos and their "colorizations"): Colorful (both
// variants, predictions and references), PSNR and SSIM per pair to 1e-6 relative against scikit-image and the
// papers' formula, and the accuracy protocol (resize 256, crop 224, ImageNet normalization) with the tiny timm
// classifier: logits to 1e-4 normalized, the same top-5 for every image, the same accuracies.
// FID and LPIPS, which need their networks, are tests/test_inception.cpp and tests/test_lpips.cpp, and the whole
// `bigcolor eval` command is tested in tests/test_cli_eval.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "eval/evaluate.h"
#include "imaging/image.h"
#include "models/classifier.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using namespace bigcolor;

const SafetensorsFile& metrics() {
  static const SafetensorsFile f = load_safetensors(test::golden_path("eval/metrics.safetensors"));
  return f;
}
double golden_value(const std::string& name) { return metrics().at(name).to_vector().at(0); }
std::string pred_dir() { return test::golden_path("eval/pred"); }
std::string ref_dir() { return test::golden_path("eval/ref"); }

}  // namespace

TEST_SUITE("eval") {

TEST_CASE("eval parity: Colorful, PSNR and SSIM of every pair match scikit-image and the papers' formula") {
  eval::EvalRequest request;
  request.colorful_signed = true;
  const eval::EvalReport report = eval::evaluate(pred_dir(), ref_dir(), request, {});
  REQUIRE(report.pairing.pairs.size() == 64);
  CHECK(report.pairing.missing.empty());
  CHECK(report.pairing.extra.empty());
  CHECK(report.pairing.classes == std::vector<std::string>{"n01440764", "n01443537"});
  int checked = 0;
  for (const eval::ImagePair& pair : report.pairing.pairs) {
    const std::string rel = pair.key + ".png";
    const auto& row = report.per_image.at(pair.key);
    for (const char* m : {"psnr", "ssim", "colorful", "colorful_signed"}) {
      CAPTURE(rel);
      CAPTURE(m);
      CHECK(row.at(m) == doctest::Approx(golden_value(std::string(m) + "." + rel)).epsilon(1e-6));
    }
    CHECK(row.at("colorful_ref") == doctest::Approx(golden_value("colorful.ref/" + rel)).epsilon(1e-6));
    CHECK(row.at("colorful_signed_ref") == doctest::Approx(golden_value("colorful_signed.ref/" + rel)).epsilon(1e-6));
    ++checked;
  }
  CHECK(checked == 64);
  std::map<std::string, double> mean;
  for (const eval::MetricValue& m : report.metrics) mean[m.name] = m.value;
  CHECK(mean.at("psnr") == doctest::Approx(golden_value("psnr.mean")).epsilon(1e-6));
  CHECK(mean.at("ssim") == doctest::Approx(golden_value("ssim.mean")).epsilon(1e-6));
  CHECK(mean.at("colorful") == doctest::Approx(golden_value("colorful.mean")).epsilon(1e-6));
  CHECK(mean.at("colorful_ref") == doctest::Approx(golden_value("colorful.ref.mean")).epsilon(1e-6));
  CHECK(mean.at("colorful_signed") == doctest::Approx(golden_value("colorful_signed.mean")).epsilon(1e-6));
  CHECK(mean.at("colorful_signed_ref") == doctest::Approx(golden_value("colorful_signed.ref.mean")).epsilon(1e-6));
  CHECK(mean.at("colorful") < mean.at("colorful_ref"));  // the predictions are weakened colour
}

TEST_CASE("eval parity: accuracy with the ImageNet evaluation input gives the reference's logits and top-5") {
  const Classifier classifier =
      Classifier::load(test::golden_path("classifiers/tiny_resnetd.safetensors"), Device::CPU, 224);
  eval::EvalRequest request;
  request.colorful = request.psnr = request.ssim = false;
  eval::EvalNetworks networks;
  networks.classifier = &classifier;
  const eval::EvalReport report = eval::evaluate(pred_dir(), ref_dir(), request, networks);
  for (const eval::ImagePair& pair : report.pairing.pairs) {
    CAPTURE(pair.key);
    const Tensor& ref_top5 = metrics().at("top5." + pair.key + ".png");  // I64 (5)
    const std::vector<int>& top5 = report.top5.at(pair.key);
    REQUIRE(top5.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(top5[i] == ref_top5.data<std::int64_t>()[i]);
  }
  // The logits of one image, through the same input function.
  const std::string rel = "n01443537/img_05.png";
  const Image im = load_image(test::golden_path("eval/pred/" + rel));
  Tensor rgb = Tensor::empty({1, 3, im.height, im.width});
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < im.width * im.height; ++i) rgb.data<float>()[c * im.width * im.height + i] = im.pixels[i * 3 + c];
  test::check_close(classifier.logits(imagenet_eval_input(rgb)), metrics().at("logits." + rel), 1e-4,
                    "tiny_resnetd logits of " + rel);
  std::map<std::string, double> mean;
  for (const eval::MetricValue& m : report.metrics) mean[m.name] = m.value;
  CHECK(mean.at("top1") == golden_value("accuracy.top1"));
  CHECK(mean.at("top5") == golden_value("accuracy.top5"));
}

TEST_CASE("eval streams: peak memory does not grow with the number of images") {
  // A set four times larger must not need more tensor memory: only the current batch is ever held. The features
  // here are the images' channel means (cheap, and enough to exercise the batching and the moments).
  bigcolor::test::TempFolder tmp("bigcolor_eval_stream_");
  namespace fs = std::filesystem;
  for (const char* side : {"pred", "ref"}) fs::create_directories(tmp.path() / "small" / side / "n01440764");
  int copied = 0;
  for (const auto& e : fs::directory_iterator(test::golden_path("eval/ref/n01440764")))
    if (copied < 16) {
      const std::string name = e.path().filename().string();
      fs::copy_file(e.path(), tmp.path() / "small/ref/n01440764" / name);
      fs::copy_file(test::golden_path("eval/pred/n01440764/" + name), tmp.path() / "small/pred/n01440764" / name);
      ++copied;
    }
  eval::EvalRequest request;
  request.batch = 8;
  eval::EvalNetworks networks;
  networks.features = [](const Tensor& images) {
    const std::int64_t b = images.dim(0), hw = images.dim(2) * images.dim(3);
    Tensor f = Tensor::zeros({b, 3});
    for (std::int64_t i = 0; i < b; ++i)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (std::int64_t k = 0; k < hw; ++k) sum += images.data<float>()[(i * 3 + c) * hw + k];
        f.data<float>()[i * 3 + c] = static_cast<float>(sum / hw);
      }
    return f;
  };
  networks.fid_protocol = "channel means";
  auto peak_of = [&](const std::string& pred, const std::string& ref) {
    reset_host_peak_memory();
    const std::size_t before = host_memory_stats().in_use;
    const eval::EvalReport report = eval::evaluate(pred, ref, request, networks);
    CHECK(report.metrics.back().name == "fid");
    return host_memory_stats().peak_in_use - before;
  };
  const std::size_t small = peak_of((tmp.path() / "small/pred").string(), (tmp.path() / "small/ref").string());
  const std::size_t large = peak_of(pred_dir(), ref_dir());
  MESSAGE("peak tensor memory: 16 pairs ", small, " bytes, 64 pairs ", large, " bytes");
  CHECK(small > 0);
  CHECK(large <= small);
}

}  // TEST_SUITE("eval")
