// The Inception-v3 feature extractor of FID (models/inception.h) against pytorch-fid and torchvision, with the data
// of tools/make_golden_eval.py (tests/golden/eval/README.md):
//   - the two layouts' names and shapes: derived here, against the tool's manifests of pytorch-fid's
//     fid_inception_v3() and torchvision's inception_v3(aux_logits=True) state dicts, and the parameter counts
//     (torchvision's documented 27161264);
//   - full-size networks with the seeded weights (seeded_state.h) and the tool's calibrated batch-norm statistics:
//     the features of 4 reference photos through each protocol's whole pipeline (resize to 299 without
//     antialiasing, 2x − 1 or ImageNet mean/std + transform_input, the network) against torch's float32 features,
//     normalized error 1e-4 (torch's own float32-vs-float64 gap is ~3e-5);
//   - loading from a file (safetensors) and bad states refused in one line naming the file and the tensor.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>


#include "imaging/image.h"
#include "models/inception.h"
#include "eval/evaluate.h"
#include "seeded_state.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using bigcolor::InceptionFeatures;
using bigcolor::InceptionInfo;
using bigcolor::InceptionProtocol;
using bigcolor::StateShapes;
using bigcolor::inception_protocol_name;
using bigcolor::Tensor;
namespace test = bigcolor::test;

constexpr double kFeatureTolerance = 1e-4;

std::string golden(const std::string& name) { return test::golden_path("eval/" + name); }
bool have_golden() { return std::filesystem::exists(golden("metrics.safetensors")); }

const char* manifest_name(InceptionProtocol p) {
  return p == InceptionProtocol::PytorchFid ? "inception_fid_manifest.txt" : "inception_torchvision_manifest.txt";
}

// A full-size state of `layout`: seeded from the derived names and shapes, running statistics from the golden
// calibrated_stats when present.
std::map<std::string, Tensor> full_state(InceptionProtocol layout, bool calibrated) {
  std::map<std::string, Tensor> state = test::seeded_state(bigcolor::inception_state_shapes(layout));
  if (!calibrated) return state;
  const std::string prefix = std::string(bigcolor::inception_protocol_name(layout)) + ".";
  const bigcolor::SafetensorsFile stats = bigcolor::load_safetensors(golden("calibrated_stats.safetensors"));
  int replaced = 0;
  for (const auto& [name, t] : stats.tensors)
    if (name.starts_with(prefix)) {
      const std::string key = name.substr(prefix.size());
      REQUIRE_MESSAGE(state.count(key) == 1, "calibrated statistic ", key, " is not in the layout");
      state[key] = t;
      ++replaced;
    }
  CHECK(replaced == 2 * 94);  // every BasicConv2d's batch norm on the feature path (AuxLogits' are not calibrated)
  return state;
}

// The F32 tensors named "features.*" of metrics.safetensors, read here from its header: the file also holds F64
// metrics, which bigcolor's safetensors reader (F32/F16/BF16/I32/I64) refuses.
const std::map<std::string, Tensor>& golden_features() {
  static const std::map<std::string, Tensor> features = [] {
    std::map<std::string, Tensor> out;
    for (const auto& [name, t] : bigcolor::load_safetensors(golden("metrics.safetensors")).tensors)
      if (name.starts_with("features.")) out.emplace(name, t);
    return out;
  }();
  return features;
}

// features.<protocol>.ref/<class>/img_NN.png (1, 2048): the tool's 4 photos (48x48, upsampled to 299) one at a
// time, and all 4 as one batch.
void check_golden_features(const InceptionFeatures& f, InceptionProtocol p) {
  const std::string prefix = std::string("features.") + bigcolor::inception_protocol_name(p) + ".";
  std::vector<std::string> paths;
  for (const auto& [name, t] : golden_features())
    if (name.starts_with(prefix)) paths.push_back(name.substr(prefix.size()));
  REQUIRE(paths.size() == 4);
  std::vector<float> batch, expected;
  for (const std::string& rel : paths) {
    const Tensor image = bigcolor::to_tensor(bigcolor::load_image(golden(rel)));
    REQUIRE(image.shape() == bigcolor::Shape{1, 3, 48, 48});
    const Tensor& ref = golden_features().at(prefix + rel);
    test::check_close(f.features(image), ref, kFeatureTolerance,
                      std::string(bigcolor::inception_protocol_name(p)) + " " + rel + " on " +
                          bigcolor::device_name(f.device()));
    const std::vector<float> v = image.to_vector(), r = ref.to_vector();
    batch.insert(batch.end(), v.begin(), v.end());
    expected.insert(expected.end(), r.begin(), r.end());
  }
  test::check_close(f.features(Tensor::from_vector(batch, {4, 3, 48, 48})), Tensor::from_vector(expected, {4, 2048}),
                    kFeatureTolerance, std::string(bigcolor::inception_protocol_name(p)) + " batch of 4");
}

// A synthetic photo in [0, 1], (1, 3, h, w): smooth gradients and a checker, different per channel.
Tensor synthetic_photo(int h, int w, int seed) {
  std::vector<float> v(static_cast<std::size_t>(3 * h * w));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float g = static_cast<float>((x * (c + 1) + y * (seed + 2)) % 97) / 96.0f;
        const float checker = ((x / 8 + y / 8 + c + seed) % 2) ? 0.25f : 0.0f;
        v[static_cast<std::size_t>((c * h + y) * w + x)] = 0.7f * g + checker;
      }
  return Tensor::from_vector(v, {1, 3, h, w});
}

}  // namespace

TEST_SUITE("eval") {

TEST_CASE("inception: the two layouts (pytorch-fid 1008 classes; torchvision 1000 + AuxLogits)") {
  const StateShapes fid = bigcolor::inception_state_shapes(InceptionProtocol::PytorchFid);
  const StateShapes tv = bigcolor::inception_state_shapes(InceptionProtocol::Torchvision);
  // torch's state_dict lengths 566 and 580, less one num_batches_tracked per batch norm (94, and 96 with AuxLogits).
  CHECK(fid.size() == 566 - 94);
  CHECK(tv.size() == 580 - 96);
  const InceptionInfo fid_info = bigcolor::identify_inception(fid, "fid");
  const InceptionInfo tv_info = bigcolor::identify_inception(tv, "tv");
  CHECK(tv_info.parameters == 27161264);  // torchvision's Inception_V3_Weights meta num_params
  CHECK(fid_info.parameters == 23850960);
  CHECK(fid_info.layout == InceptionProtocol::PytorchFid);
  CHECK(fid_info.protocol == InceptionProtocol::PytorchFid);
  CHECK(fid_info.num_classes == 1008);
  CHECK_FALSE(fid_info.aux_logits);
  CHECK(tv_info.layout == InceptionProtocol::Torchvision);
  CHECK(tv_info.protocol == InceptionProtocol::Torchvision);
  CHECK(tv_info.aux_logits);
  // The FID blocks' tensors are torchvision's: the layouts differ only in AuxLogits and the fc size.
  for (const auto& [name, shape] : fid) {
    if (name.starts_with("fc.")) continue;
    CHECK_MESSAGE(tv.count(name) == 1, name);
    if (tv.count(name)) CHECK_MESSAGE(tv.at(name) == shape, name);
  }
  for (const auto& [name, shape] : tv)
    CHECK_MESSAGE((fid.count(name) == 1 || name.starts_with("AuxLogits.")), name);
  // An explicit protocol overrides the one the fc size names.
  CHECK(bigcolor::identify_inception(tv, "tv", InceptionProtocol::PytorchFid).protocol == InceptionProtocol::PytorchFid);
  CHECK(bigcolor::identify_inception(tv, "tv", InceptionProtocol::PytorchFid).layout == InceptionProtocol::Torchvision);
  CHECK(bigcolor::parse_inception_protocol("pytorch-fid") == InceptionProtocol::PytorchFid);
  CHECK(bigcolor::parse_inception_protocol("torchvision") == InceptionProtocol::Torchvision);
  CHECK_THROWS_WITH_AS(bigcolor::parse_inception_protocol("tf"), doctest::Contains("unknown FID protocol 'tf'"),
                       bigcolor::Error);
}

TEST_CASE("inception: a state of neither layout is refused in one line naming the file and the tensor") {
  const StateShapes fid = bigcolor::inception_state_shapes(InceptionProtocol::PytorchFid);
  const StateShapes tv = bigcolor::inception_state_shapes(InceptionProtocol::Torchvision);
  StateShapes missing = fid;
  missing.erase("Mixed_6c.branch7x7dbl_4.bn.running_var");
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(missing, "pt_inception.pth"),
                       doctest::Contains("pt_inception.pth: missing tensor 'Mixed_6c.branch7x7dbl_4.bn.running_var'"),
                       bigcolor::Error);
  StateShapes wrong = tv;
  wrong["Mixed_6b.branch7x7_2.conv.weight"] = {128, 128, 7, 1};  // (7, 1) where torchvision has (1, 7)
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(wrong, "tv.pth"),
                       doctest::Contains("tv.pth: 'Mixed_6b.branch7x7_2.conv.weight' has shape (128, 128, 7, 1), "
                                         "inception_v3_google (torchvision) needs (128, 128, 1, 7)"),
                       bigcolor::Error);
  StateShapes fid_with_aux = fid;  // 1008 classes with AuxLogits: no such file exists
  fid_with_aux["AuxLogits.fc.bias"] = {1008};
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(fid_with_aux, "x.pth"),
                       doctest::Contains("x.pth: unexpected tensor 'AuxLogits.fc.bias' (1008)"), bigcolor::Error);
  StateShapes tv_without_aux;  // torchvision's layout is the file of inception_v3_google: AuxLogits included
  for (const auto& [name, shape] : tv)
    if (!name.starts_with("AuxLogits.")) tv_without_aux[name] = shape;
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(tv_without_aux, "y.pth"),
                       doctest::Contains("y.pth: missing tensor 'AuxLogits."), bigcolor::Error);
  StateShapes other_classes = fid;
  other_classes["fc.weight"] = {10, 2048};
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(other_classes, "z.pth"),
                       doctest::Contains("z.pth: 'fc.weight' has shape (10, 2048): neither pytorch-fid's"),
                       bigcolor::Error);
  const StateShapes resnet = test::read_manifest(test::golden_path("classifiers/resnet50d_manifest.txt"));
  CHECK_THROWS_WITH_AS(bigcolor::identify_inception(resnet, "resnet50d.pth"),
                       doctest::Contains("resnet50d.pth: not an Inception-v3 state dict"), bigcolor::Error);
}

TEST_CASE("inception: the golden manifests are exactly the two layouts") {
  if (!std::filesystem::exists(golden(manifest_name(InceptionProtocol::PytorchFid)))) {
    MESSAGE("tests/golden/eval has no Inception manifests yet: skipped");
    return;
  }
  for (InceptionProtocol p : {InceptionProtocol::PytorchFid, InceptionProtocol::Torchvision}) {
    std::int64_t parameters = 0;
    const StateShapes shapes = test::read_manifest(golden(manifest_name(p)), &parameters);
    CHECK_MESSAGE(shapes == bigcolor::inception_state_shapes(p), manifest_name(p));
    const InceptionInfo info = bigcolor::identify_inception(shapes, manifest_name(p));
    CHECK(info.layout == p);
    CHECK(info.parameters == parameters);
  }
}

TEST_CASE("inception: the protocols' inputs (resize to 299, 2x - 1 or mean/std + transform_input)") {
  const InceptionFeatures fid =
      InceptionFeatures::from_state(full_state(InceptionProtocol::PytorchFid, false), "fid (seeded)");
  const InceptionFeatures tv = InceptionFeatures::from_state(full_state(InceptionProtocol::Torchvision, false),
                                                             "tv (seeded)");
  const Tensor photo = synthetic_photo(120, 161, 1);
  const Tensor a = fid.network_input(photo), b = tv.network_input(photo);
  CHECK(a.shape() == bigcolor::Shape{1, 3, 299, 299});
  // ((x − mean)/std)·(std/0.5) + (mean − 0.5)/0.5 is 2x − 1 up to float32 rounding.
  test::check_close(b, a, 1e-6, "torchvision input vs 2x - 1");
  const std::vector<float> va = a.to_vector();
  CHECK(*std::min_element(va.begin(), va.end()) >= -1.0f);
  CHECK(*std::max_element(va.begin(), va.end()) <= 1.0f);
  CHECK_THROWS_WITH_AS(fid.features(Tensor::zeros({1, 1, 64, 64})), doctest::Contains("expected (B, 3, H, W)"),
                       bigcolor::Error);
  CHECK_THROWS_WITH_AS(fid.features_of_input(Tensor::zeros({1, 3, 64, 64})), doctest::Contains("smaller than 75x75"),
                       bigcolor::Error);
}

TEST_CASE("inception: a batch is its images' features; the protocols differ in the pools") {
  const std::map<std::string, Tensor> state = full_state(InceptionProtocol::PytorchFid, have_golden());
  const InceptionFeatures fid = InceptionFeatures::from_state(state, "fid");
  const Tensor one = synthetic_photo(299, 299, 2), two = synthetic_photo(299, 299, 3);
  const Tensor batch = Tensor::empty({2, 3, 299, 299});
  std::copy_n(one.data<float>(), 3 * 299 * 299, batch.data<float>());
  std::copy_n(two.data<float>(), 3 * 299 * 299, batch.data<float>() + 3 * 299 * 299);
  const Tensor both = fid.features(batch);
  REQUIRE(both.shape() == bigcolor::Shape{2, 2048});
  const Tensor f1 = fid.features(one), f2 = fid.features(two);
  const std::vector<float> vb = both.to_vector(), v1 = f1.to_vector(), v2 = f2.to_vector();
  test::check_close(Tensor::from_vector(std::vector<float>(vb.begin(), vb.begin() + 2048), {1, 2048}), f1, 1e-6,
                    "batch row 0");
  test::check_close(Tensor::from_vector(std::vector<float>(vb.begin() + 2048, vb.end()), {1, 2048}), f2, 1e-6,
                    "batch row 1");
  CHECK(*std::min_element(vb.begin(), vb.end()) >= 0.0f);  // means of ReLU outputs
  // The features depend on the image (weakly with the seeded, uncalibrated statistics: ~6e-4).
  CHECK(test::compare(f1, f2).normalized_error > 1e-5);
  // The same weights under the torchvision protocol: other pools (and E_2's average instead of max), other features.
  const InceptionFeatures as_tv =
      InceptionFeatures::from_state(state, "fid as torchvision", bigcolor::Device::CPU, InceptionProtocol::Torchvision);
  CHECK(as_tv.protocol() == InceptionProtocol::Torchvision);
  CHECK(as_tv.info().layout == InceptionProtocol::PytorchFid);
  CHECK(test::compare(as_tv.features(one), f1).normalized_error > 1e-4);
}

TEST_CASE("inception: read from a safetensors file; NaN weights refused") {
  test::TempFolder folder("bigcolor_inception_test_");
  std::map<std::string, Tensor> state = full_state(InceptionProtocol::Torchvision, false);
  const std::string path = (folder.path() / "inception_v3_google.safetensors").string();
  std::map<std::string, Tensor> wrapped;  // a training script's "module." prefix is removed
  for (const auto& [name, t] : state) wrapped.emplace("module." + name, t);
  bigcolor::save_safetensors(path, wrapped);
  const InceptionFeatures f = InceptionFeatures::load(path);
  CHECK(f.info().layout == InceptionProtocol::Torchvision);
  CHECK(f.info().variant == "inception_v3_google (torchvision)");
  const Tensor photo = synthetic_photo(80, 90, 4);
  CHECK(f.features(photo).to_vector() == InceptionFeatures::from_state(state, "mem").features(photo).to_vector());
  state.erase("Mixed_7c.branch_pool.conv.weight");
  const std::string missing = (folder.path() / "missing.safetensors").string();
  bigcolor::save_safetensors(missing, state);
  CHECK_THROWS_WITH_AS(InceptionFeatures::load(missing),
                       doctest::Contains((missing + ": missing tensor 'Mixed_7c.branch_pool.conv.weight'").c_str()),
                       bigcolor::Error);
  std::map<std::string, Tensor> nan_state = full_state(InceptionProtocol::PytorchFid, false);
  nan_state["Mixed_6a.branch3x3.conv.weight"].data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(InceptionFeatures::from_state(nan_state, "nan.pth"),
                       doctest::Contains("nan.pth: tensor 'Mixed_6a.branch3x3.conv.weight' holds NaN or Inf"),
                       bigcolor::Error);
}

TEST_CASE("inception: features of 4 photos match pytorch-fid's and torchvision's, both protocols") {
  REQUIRE_MESSAGE(have_golden(), "tests/golden/eval/metrics.safetensors is missing");
  for (InceptionProtocol p : {InceptionProtocol::PytorchFid, InceptionProtocol::Torchvision}) {
    const InceptionFeatures f = InceptionFeatures::from_state(full_state(p, true), inception_protocol_name(p));
    CHECK(f.protocol() == p);
    check_golden_features(f, p);
  }
}

TEST_CASE("eval FID: 64 photo pairs through evaluate() match pytorch-fid's calculate_frechet_distance") {
  if (!have_golden()) return;
  // The torchvision protocol here (the pytorch-fid one runs through `bigcolor eval` in tests/test_cli_eval.cpp):
  // every feature of both sets streamed into the moments, the eigenvalue square root against scipy's sqrtm.
  const InceptionFeatures net = InceptionFeatures::from_state(full_state(InceptionProtocol::Torchvision, true),
                                                              "torchvision (seeded, calibrated)");
  bigcolor::eval::EvalRequest request;
  request.colorful = request.psnr = request.ssim = false;
  request.batch = 16;
  bigcolor::eval::EvalNetworks networks;
  networks.features = [&net](const Tensor& images) { return net.features(images); };
  networks.fid_protocol = "torchvision";
  const auto report = bigcolor::eval::evaluate(golden("pred"), golden("ref"), request, networks);
  REQUIRE(report.metrics.size() == 1);
  CHECK(report.metrics[0].name == "fid");
  CHECK(report.metrics[0].count == 64);
  const bigcolor::SafetensorsFile m = bigcolor::load_safetensors(golden("metrics.safetensors"));
  const double scipy = m.at("fid.torchvision").to_vector()[0], eig = m.at("fid_eig.torchvision").to_vector()[0];
  MESSAGE("FID (torchvision protocol): ours ", report.metrics[0].value, ", pytorch-fid ", scipy,
          ", the eigenvalue formula in numpy ", eig);
  CHECK(report.metrics[0].value == doctest::Approx(scipy).epsilon(1e-3));
  CHECK(report.metrics[0].value == doctest::Approx(eig).epsilon(1e-3));
}

}  // TEST_SUITE("eval")

// The whole network on the GPU (the new padded average pool, cuDNN's 1x7 / 7x1 convolutions with per-axis padding,
// the channel concatenations): the golden features at the same bar as the CPU.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda inception: features of 4 photos match pytorch-fid's and torchvision's on the GPU") {
  if (!bigcolor::cuda_available()) return;
  for (InceptionProtocol p : {InceptionProtocol::PytorchFid, InceptionProtocol::Torchvision}) {
    const InceptionFeatures f =
        InceptionFeatures::from_state(full_state(p, true), inception_protocol_name(p), bigcolor::Device::CUDA);
    CHECK(f.device() == bigcolor::Device::CUDA);
    check_golden_features(f, p);
  }
}

}  // TEST_SUITE("cuda")
