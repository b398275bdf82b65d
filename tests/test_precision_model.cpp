// Reduced precision for the whole colorizer (issue 11, point 6, the reduced-width half; the full width is recorded
// in bench/results/): the bundled model (weights/bigcolor-small.safetensors, width 32, trained weights, so the
// activations have a trained network's ranges) colorizes a real gray photo in FP32, bf16 and fp16:
//   the network output (B, 3, H, W) in bf16 and fp16 against FP32: normalized error <= 1e-2;
//   the fused 8-bit result: within 2 levels of FP32 on at least 99% of the channel values.
// And the fixed inference weights (Module::set_weights_fixed), which the library's Model uses: the same bits as
// recomputing W/σ every forward, in FP32 and in bf16, and set_weights_fixed(false) gives edits back their effect.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bigcolor/bigcolor.h"
#include "imaging/image.h"
#include "imaging/resize.h"
#include "kernels/precision.h"
#include "models/checkpoint.h"
#include "models/colorizer.h"
#include "op_harness.h"
#include "tensor/rng.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
namespace fs = std::filesystem;

std::string bundled_model() {
  return (fs::path(test::golden_path("")) / ".." / ".." / "weights" / "bigcolor-small.safetensors")
      .lexically_normal()
      .string();
}

std::string gray_photo() { return test::golden_path("classifiers/gray_1.png"); }

ColorizeOptions options_128() {
  ColorizeOptions o;
  o.size = 128;
  o.classes = {"0"};
  return o;
}

// The network output (its tanh, in [-1, 1]) for the gray photo at 96×128 and a fixed z, under `precision`, on
// `device` (where the network's weights are); returned on the CPU.
Tensor network_output(Colorizer& net, Precision precision, Device device = Device::CPU) {
  Rng rng(11);
  const Tensor gray = resize_bilinear(to_gray(load_image(gray_photo())), 96, 128);  // (1, 1, 96, 128)
  std::vector<float> two = gray.to_vector();
  two.insert(two.end(), two.begin(), two.end());
  const Tensor x = Tensor::from_vector(two, {2, 1, 96, 128});
  Tensor z = Tensor::empty({2, net.config().biggan.effective_dim_z()});
  rng.fill_normal(z, 0.0f, 0.8f);
  const Tensor classes = Tensor::from_indices({0, 0}, {2});
  const PrecisionScope scope(precision);
  return net.forward(x.to(device), classes.to(device), z.to(device)).to(Device::CPU);
}

// The bundled model in bf16 and fp16 on `placement` against FP32 on the CPU, to the bars of issue 11.
void check_model_fidelity(Placement placement, Device device) {
  REQUIRE_MESSAGE(fs::exists(bundled_model()), bundled_model(), " is missing");
  LoadOptions load;
  load.device = Placement::CPU;
  const Model fp32 = Model::load(bundled_model(), load);
  const std::vector<Colorization> ref = fp32.colorize_file(gray_photo(), options_128());
  REQUIRE(ref.size() == 1);
  const Tensor ref_net = network_output(fp32.network(), Precision::FP32);
  load.device = placement;
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    const std::string name = precision_name(p);
    CAPTURE(name);
    load.precision = p;
    const Model low = Model::load(bundled_model(), load);
    CHECK(low.info().precision == name);
    // The network output.
    const test::Comparison c = test::compare(network_output(low.network(), p, device), ref_net);
    MESSAGE(name, " network output: ", c.describe());
    CHECK(c.normalized_error <= 1e-2);
    CHECK(c.normalized_error > 0.0);  // it did compute in the reduced precision
    // The fused 8-bit picture.
    const std::vector<Colorization> got = low.colorize_file(gray_photo(), options_128());
    REQUIRE(got.size() == 1);
    const Image& a = got[0].image;
    const Image& b = ref[0].image;
    REQUIRE(a.pixels.size() == b.pixels.size());
    std::size_t within = 0;
    int worst = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
      const int d = std::abs(static_cast<int>(std::lround(a.pixels[i] * 255.0f)) -
                             static_cast<int>(std::lround(b.pixels[i] * 255.0f)));
      within += d <= 2 ? 1 : 0;
      worst = std::max(worst, d);
    }
    const double share = static_cast<double>(within) / static_cast<double>(a.pixels.size());
    MESSAGE(name, " 8-bit result: ", 100.0 * share, "% of the values within 2 levels of FP32, worst ", worst);
    CHECK(share >= 0.99);
  }
}

}  // namespace

TEST_SUITE("precision") {

TEST_CASE("the bundled model colorizes in bf16 and fp16 as in FP32, to the bars of issue 11") {
  check_model_fidelity(Placement::CPU, Device::CPU);
}

TEST_CASE("fixed inference weights give the same bits as recomputing them, and unfixing restores edits") {
  const auto net = load_any_colorizer(bundled_model(), ColorizerSource{});
  net->set_training(false);
  net->set_grad_enabled(false);
  for (Precision p : {Precision::FP32, Precision::BF16}) {
    const std::string name = precision_name(p);
    CAPTURE(name);
    const Tensor recomputed = network_output(*net, p);
    net->set_weights_fixed(true);
    const Tensor fixed = network_output(*net, p);
    const Tensor again = network_output(*net, p);  // the cached bf16 weights, second use
    net->set_weights_fixed(false);
    CHECK(test::bitwise_equal(fixed, recomputed));
    CHECK(test::bitwise_equal(again, recomputed));
  }
  // Edits while fixed are not seen (that is the promise the caller made); after unfixing they are.
  net->set_weights_fixed(true);
  const Tensor before = network_output(*net, Precision::FP32);
  Tensor w;
  for (const auto& s : net->state())
    if (s.name.find("weight") != std::string::npos && s.tensor.ndim() == 4) {
      w = s.tensor;
      break;
    }
  REQUIRE(w.defined());
  const Tensor saved = w.clone();
  w.fill(0.01f);
  net->set_weights_fixed(false);
  const Tensor after = network_output(*net, Precision::FP32);
  CHECK_FALSE(test::bitwise_equal(after, before));
  w.copy_from(saved);
  CHECK(test::bitwise_equal(network_output(*net, Precision::FP32), before));
}

}  // TEST_SUITE

// On the GPU: the native engine (cuDNN / cuBLAS on the tensor cores) against the CPU's FP32, and its cached
// converted weights (lowp_engine.h) against converting them on every call.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda the bundled model colorizes in bf16 and fp16 as in FP32 on the CPU, to the bars of issue 11") {
  check_model_fidelity(Placement::CUDA, Device::CUDA);
}

TEST_CASE("cuda fixed inference weights give the same bits as recomputing them in bf16 and fp16") {
  const auto net = load_any_colorizer(bundled_model(), ColorizerSource{});
  net->to(Device::CUDA);
  net->set_training(false);
  net->set_grad_enabled(false);
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    const std::string name = precision_name(p);
    CAPTURE(name);
    const Tensor recomputed = network_output(*net, p, Device::CUDA);
    net->set_weights_fixed(true);
    const Tensor fixed = network_output(*net, p, Device::CUDA);
    const Tensor again = network_output(*net, p, Device::CUDA);  // the cached converted weights, second use
    net->set_weights_fixed(false);
    CHECK(test::bitwise_equal(fixed, recomputed));
    CHECK(test::bitwise_equal(again, recomputed));
  }
}

}  // TEST_SUITE("cuda")
