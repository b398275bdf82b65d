// The classifiers (models/classifier.h) against timm, with the data of tools/make_golden_classifier.py
// (tests/golden/classifiers/README.md):
//   - full-size resnet50d and tf_efficientnet_b0: weights regenerated here from the tool's seed (seeded_state.h),
//     batch-norm statistics from calibrated_stats.safetensors, logits of two real photos at 224 through the whole
//     official pipeline (gray PNG -> 3 channels -> bilinear resize without antialiasing -> network) against timm's
//     float32 logits, normalized error 1e-4 (timm's own float32-vs-float64 gap is 1.5e-5);
//   - tiny ResNet-D and TF EfficientNet files in both formats (torch.save zip and safetensors): read, checked bit
//     for bit against the regenerated tensors, logits at 64 and 65 (odd: TF "same" padding and the ceil-mode
//     shortcut pool hit their odd cases);
//   - the full tf_efficientnet_l2_ns_475 checked from its manifest (names and shapes, 480M parameters) without
//     any weights; bad files refused in one line naming the file and the tensor.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "models/classifier.h"
#include "seeded_state.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using bigcolor::Classifier;
using bigcolor::ClassifierInfo;
using bigcolor::StateShapes;
using bigcolor::Tensor;
namespace test = bigcolor::test;

constexpr double kLogitTolerance = 1e-4;

std::string golden(const std::string& name) { return test::golden_path("classifiers/" + name); }

const bigcolor::SafetensorsFile& logits_file() {
  static const bigcolor::SafetensorsFile f = bigcolor::load_safetensors(golden("logits.safetensors"));
  return f;
}

Tensor gray_photo(const std::string& name) { return bigcolor::to_gray(bigcolor::load_image(golden(name + ".png"))); }

// The full-size state of `model`: seeded from its manifest, running statistics from calibrated_stats.
std::map<std::string, Tensor> full_state(const std::string& model, std::int64_t* parameters = nullptr) {
  const StateShapes shapes = test::read_manifest(golden(model + "_manifest.txt"), parameters);
  std::map<std::string, Tensor> state = test::seeded_state(shapes);
  const bigcolor::SafetensorsFile stats = bigcolor::load_safetensors(golden("calibrated_stats.safetensors"));
  int replaced = 0;
  for (const auto& [name, t] : stats.tensors)
    if (name.starts_with(model + ".")) {
      const std::string key = name.substr(model.size() + 1);
      REQUIRE_MESSAGE(state.count(key) == 1, "calibrated statistic ", key, " is not in the manifest");
      state[key] = t;
      ++replaced;
    }
  CHECK(replaced > 0);
  return state;
}

void check_logits(const Classifier& c, const std::string& model, const std::string& image, int size,
                  const std::string& tag) {
  const Tensor logits = c.logits(bigcolor::classifier_input(gray_photo(image), size));
  test::check_close(logits, logits_file().at(model + "." + image + tag + ".logits"), kLogitTolerance,
                    model + " " + image + tag);
}

}  // namespace

TEST_SUITE("classifier") {

TEST_CASE("classifier: the seeded weights are the Python tool's bit for bit (the tiny files)") {
  for (const std::string model : {"tiny_resnetd", "tiny_efficientnet", "tiny_resnet"}) {
    const bigcolor::SafetensorsFile file = bigcolor::load_safetensors(golden(model + ".safetensors"));
    const bigcolor::SafetensorsFile stats = bigcolor::load_safetensors(golden("calibrated_stats.safetensors"));
    int compared = 0;
    for (const auto& [name, t] : file.tensors) {
      if (name.ends_with("num_batches_tracked")) continue;
      const std::string calibrated = model + "." + name;
      const Tensor expected = stats.contains(calibrated) ? stats.at(calibrated) : test::seeded_tensor(name, t.shape());
      CHECK_MESSAGE(t.to_vector() == expected.to_vector(), model, ": ", name);
      ++compared;
    }
    CHECK(compared > 80);  // every tensor but the num_batches_tracked counters (87 in the smallest file)
  }
}

TEST_CASE("classifier: resnet50d at full size matches timm's logits on two photos") {
  std::int64_t parameters = 0;
  const Classifier c = Classifier::from_state(full_state("resnet50d", &parameters), "resnet50d (seeded)");
  CHECK(c.info().variant == "resnet50d");
  CHECK(c.info().input_size == 224);
  CHECK(c.info().num_classes == 1000);
  CHECK(c.info().parameters == parameters);
  // The pipeline's resize against torch's (one gray channel stored; all three must equal it).
  const Tensor input = bigcolor::classifier_input(gray_photo("gray_1"), 224);
  const Tensor ref = logits_file().at("resnet50d.gray_1.input_gray");
  for (int ch = 0; ch < 3; ++ch) {
    const std::vector<float> all = input.to_vector();
    const std::int64_t plane = 224 * 224;
    const Tensor one = Tensor::from_vector(std::vector<float>(all.begin() + ch * plane, all.begin() + (ch + 1) * plane),
                                           {1, 1, 224, 224});
    test::check_close(one, ref, 1e-6, "classifier_input channel " + std::to_string(ch));
  }
  for (const std::string image : {"gray_1", "gray_2"}) check_logits(c, "resnet50d", image, 224, "");
  // top-k: the stored logits' own order
  const std::vector<bigcolor::ClassPrediction> top = c.classify_gray(gray_photo("gray_1"), 5);
  const std::vector<bigcolor::ClassPrediction> ref_top =
      bigcolor::top_classes(logits_file().at("resnet50d.gray_1.logits").to_vector(), 5);
  REQUIRE(top.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(top[i].index == ref_top[i].index);
  double total = 0;
  for (const auto& p : bigcolor::top_classes(c.logits(input).to_vector(), 1000)) total += p.probability;
  CHECK(total == doctest::Approx(1.0).epsilon(1e-9));
}

TEST_CASE("classifier: tf_efficientnet_b0 at full size matches timm's logits on two photos") {
  std::int64_t parameters = 0;
  const Classifier c = Classifier::from_state(full_state("tf_efficientnet_b0", &parameters), "b0 (seeded)");
  CHECK(c.info().variant == "tf_efficientnet_b0");
  CHECK(c.info().input_size == 224);
  CHECK(c.info().parameters == parameters);
  for (const std::string image : {"gray_1", "gray_2"}) check_logits(c, "tf_efficientnet_b0", image, 224, "");
}

TEST_CASE("classifier: the tiny timm files, both formats, at sizes 64 and 65") {
  for (const std::string model : {"tiny_resnetd", "tiny_efficientnet", "tiny_resnet"}) {
    const Classifier from_pth = Classifier::load(golden(model + ".pth"), bigcolor::Device::CPU, 64);
    const Classifier from_st = Classifier::load(golden(model + ".safetensors"), bigcolor::Device::CPU, 64);
    CHECK(from_pth.info().variant.starts_with("custom"));  // consistent but of no timm size: a size must be given
    CHECK(from_pth.info().num_classes == 10);
    check_logits(from_pth, model, "gray_1", 64, ".s64");
    check_logits(from_st, model, "gray_2", 64, ".s64");
    check_logits(from_st, model, "gray_1", 65, ".s65");
    // The two formats hold the same tensors: the same logits bit for bit.
    const Tensor x = bigcolor::classifier_input(gray_photo("gray_2"), 64);
    CHECK(from_pth.logits(x).to_vector() == from_st.logits(x).to_vector());
  }
  CHECK_THROWS_WITH_AS(Classifier::load(golden("tiny_resnetd.safetensors")),
                       doctest::Contains("has no known input size; give one"), bigcolor::Error);
}

TEST_CASE("classifier: tf_efficientnet_l2_ns_475 is recognized from its manifest alone") {
  std::int64_t parameters = 0;
  const StateShapes shapes = test::read_manifest(golden("tf_efficientnet_l2_ns_475_manifest.txt"), &parameters);
  const ClassifierInfo info = bigcolor::identify_classifier(shapes, "l2 manifest");
  CHECK(info.variant == "tf_efficientnet_l2_ns_475");
  CHECK(info.input_size == 475);
  CHECK(info.parameters == parameters);
  CHECK(parameters == 480309308);
  CHECK(info.structure == "stem 136, blocks 6 11 11 16 16 22 6, head 5504, 1000 classes");
  // One tensor fewer, or one misshapen, is refused, naming it.
  StateShapes missing = shapes;
  missing.erase("blocks.3.7.se.conv_expand.bias");
  CHECK_THROWS_WITH_AS(bigcolor::identify_classifier(missing, "l2.safetensors"),
                       doctest::Contains("l2.safetensors: missing tensor 'blocks.3.7.se.conv_expand.bias'"),
                       bigcolor::Error);
  StateShapes extra = shapes;
  extra["blocks.3.7.extra.weight"] = {4};
  CHECK_THROWS_WITH_AS(bigcolor::identify_classifier(extra, "l2.safetensors"),
                       doctest::Contains("unexpected tensor 'blocks.3.7.extra.weight'"), bigcolor::Error);
}

TEST_CASE("classifier: torchvision's resnet50 layout (7x7 stem, strided 1x1 shortcut) is recognized") {
  std::int64_t parameters = 0;
  const StateShapes shapes = test::read_manifest(golden("torchvision_resnet50_manifest.txt"), &parameters);
  const ClassifierInfo info = bigcolor::identify_classifier(shapes, "resnet50-0676ba61.pth");
  CHECK(info.variant == "resnet50");
  CHECK(info.input_size == 224);
  CHECK(info.parameters == parameters);
  CHECK(info.structure == "7x7 stem 64, blocks 3 4 6 3, strided shortcut, 2048 features, 1000 classes");
}

TEST_CASE("classifier: bad files are refused in one line naming the file and the tensor") {
  const std::string missing = golden("tiny_efficientnet_missing.safetensors");
  CHECK_THROWS_WITH_AS(Classifier::load(missing, bigcolor::Device::CPU, 64),
                       doctest::Contains((missing + ": missing tensor 'blocks.2.0.conv_dw.weight'").c_str()), bigcolor::Error);
  const std::string wrong = golden("tiny_resnetd_wrong_shape.safetensors");
  CHECK_THROWS_WITH_AS(Classifier::load(wrong, bigcolor::Device::CPU, 64),
                       doctest::Contains((wrong + ": 'fc.bias' has shape (10), custom resnet-d needs (9)").c_str()),
                       bigcolor::Error);
  const std::string colorizer = test::golden_path("checkpoints/state_dict.pt");
  CHECK_THROWS_WITH_AS(Classifier::load(colorizer), doctest::Contains((colorizer + ": not a timm ResNet or EfficientNet").c_str()),
                       bigcolor::Error);
  const std::string not_torch = test::golden_path("checkpoints/bad_not_torch.txt");
  CHECK_THROWS_AS(Classifier::load(not_torch), bigcolor::Error);
  // NaN weights never reach a logit.
  std::map<std::string, Tensor> state = bigcolor::load_safetensors(golden("tiny_resnetd.safetensors")).tensors;
  state["layer2.0.conv2.weight"].data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(Classifier::from_state(state, "nan.safetensors", bigcolor::Device::CPU, 64),
                       doctest::Contains("nan.safetensors: tensor 'layer2.0.conv2.weight' holds NaN or Inf"),
                       bigcolor::Error);
}

TEST_CASE("classifier: top_classes orders by logit, softmax in double") {
  const std::vector<bigcolor::ClassPrediction> top = bigcolor::top_classes({0.5f, 2.0f, -1.0f, 2.0f}, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].index == 1);
  CHECK(top[1].index == 3);  // a tie keeps the lower index first
  CHECK(top[2].index == 0);
  const double z = std::exp(0.5) + 2 * std::exp(2.0) + std::exp(-1.0);
  CHECK(top[0].probability == doctest::Approx(std::exp(2.0) / z).epsilon(1e-12));
  CHECK_THROWS_AS(bigcolor::top_classes({1.0f}, 2), bigcolor::Error);
}

}  // TEST_SUITE("classifier")

// The whole classifiers on the GPU (every new CUDA kernel: windowed conv through cuDNN with and without explicit
// padding, the handwritten depthwise conv, SiLU, SE gate, both pools): timm's logits at the same bar as the CPU.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda classifier: resnet50d, tf_efficientnet_b0 and the tiny files match timm's logits on the GPU") {
  if (!bigcolor::cuda_available()) return;
  for (const std::string model : {"resnet50d", "tf_efficientnet_b0"}) {
    const Classifier c = Classifier::from_state(full_state(model), model, bigcolor::Device::CUDA);
    CHECK(c.device() == bigcolor::Device::CUDA);
    for (const std::string image : {"gray_1", "gray_2"}) check_logits(c, model, image, 224, "");
  }
  for (const std::string model : {"tiny_resnetd", "tiny_efficientnet", "tiny_resnet"}) {
    const Classifier c = Classifier::load(golden(model + ".safetensors"), bigcolor::Device::CUDA, 64);
    check_logits(c, model, "gray_1", 64, ".s64");
    check_logits(c, model, "gray_1", 65, ".s65");
  }
}

}  // TEST_SUITE("cuda")
