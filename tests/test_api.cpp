// The public API (<bigcolor/bigcolor.h>) on the tiny official-format model: Model::load from any supported file,
// colorize() against the pipeline pieces it is made of and against the `bigcolor colorize` command, the progress
// callback, options checked before computing, and errors as one-line bigcolor::Error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "api/pipeline.h"
#include "bigcolor/bigcolor.h"
#include "cli_test_util.h"
#include "imaging/color.h"
#include "imaging/image.h"
#include "imaging/resize.h"
#include "io/imagenet_classes.h"
#include "models/classifier.h"
#include "models/colorizer.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
namespace cli_test = bigcolor::test::cli;

std::string tiny() { return test::golden_path("official_tiny"); }

LoadOptions on_cpu() {
  LoadOptions o;
  o.device = Placement::CPU;
  return o;
}

}  // namespace

TEST_SUITE("api") {

TEST_CASE("api: colorize gives the pipeline's pictures, in the documented order and names") {
  const Model model = Model::load(tiny(), on_cpu());
  const ModelInfo info = model.info();
  CHECK(info.n_classes == 10);
  CHECK(info.dim_z == 119);
  CHECK(info.device == "cpu");
  const Image photo = cli_test::make_image(40, 24, 3, 7);
  ColorizeOptions o;
  o.classes = {"1", "3"};
  o.num_z = 2;
  o.size = 32;
  std::vector<Progress> calls;
  const std::vector<Colorization> results = model.colorize(photo, o, [&](const Progress& p) { calls.push_back(p); });
  REQUIRE(results.size() == 4);
  const char* names[] = {"_c001_z00", "_c001_z01", "_c003_z00", "_c003_z01"};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(results[i].name == names[i]);
    CHECK(results[i].class_a == (i < 2 ? 1 : 3));
    CHECK(results[i].z_index == static_cast<int>(i % 2));
    CHECK(results[i].image.width == 40);  // back at the photo's size
    CHECK(results[i].image.height == 24);
    CHECK(results[i].image.channels == 3);
  }
  REQUIRE(calls.size() == 1);  // one forward for the 4 results (batch 8)
  CHECK(calls[0].first == 0);
  CHECK(calls[0].count == 4);
  CHECK(calls[0].total == 4);

  // The same numbers as the pieces: gray, resize to the model size (powerof 32: 53x32 -> multiples of 16), one
  // forward, (o + 1) / 2 resized back and Lab-fused.
  Colorizer& net = model.network();
  const Tensor gray = to_gray(photo);
  const ImageSize size = model_input_size(24, 40, ResizeMode::PowerOf, 32, 4);
  const Tensor x = resize_bilinear(gray, size.height, size.width);
  const std::vector<Conditioning> conds = resolve_conditionings({"3"}, {}, {});
  const Tensor c = class_embeddings(net, conds, 1.0f, 0.0f);
  const std::vector<float> z = draw_z(2, 0.8f, 2, 119).to_vector();  // z_0, z_1 of the default seed
  const Tensor z1 = Tensor::from_vector(std::vector<float>(z.begin() + 119, z.end()), {1, 119});
  const Tensor out = run_network(net, x, c, z1, 1, Device::CPU);
  const Image expected = to_image(finish_result(out, gray, x, false, false));
  const auto flat = [](const Image& im) {
    return Tensor::from_vector(im.pixels, {static_cast<std::int64_t>(im.pixels.size())});
  };
  // (a forward of 1 row against one of 4: the BLAS may round differently, never by more than this)
  CHECK(test::compare(flat(expected), flat(results[3].image)).max_abs_error < 1e-5);

  // Batches of 3: two forwards, the same pictures.
  o.batch = 3;
  calls.clear();
  const std::vector<Colorization> batched = model.colorize(photo, o, [&](const Progress& p) { calls.push_back(p); });
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].first == 3);
  CHECK(calls[1].count == 1);
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(test::compare(flat(batched[i].image), flat(results[i].image)).max_abs_error < 1e-5);
}

TEST_CASE("api: the library and the command give the same files") {
  cli_test::Scratch s;
  const std::string photo = cli_test::write_image(s / "in/p.png", 32, 48, 1, 4);
  const cli_test::Result r = cli_test::run({"colorize", photo, "-o", s / "out", "--ckpt", tiny(), "--class", "2",
                                            "--mix", "1", "4", "--mix-weight", "0.25", "--png", "--device", "cpu"});
  REQUIRE_MESSAGE(r.status == 0, cli_test::describe(r));
  const Model model = Model::load(tiny(), on_cpu());
  ColorizeOptions o;
  o.classes = {"2"};
  o.mix = {"1", "4"};
  o.mix_weights = {0.25f};
  const std::vector<Colorization> results = model.colorize_file(photo, o);
  REQUIRE(results.size() == 2);
  CHECK(results[1].name == "_c001_c004_w0.25");
  for (const Colorization& c : results) {
    save_image(s / ("lib" + c.name + ".png"), c.image);
    CHECK(cli_test::read_text(s / ("lib" + c.name + ".png")) == cli_test::read_text(s / ("out/p" + c.name + ".png")));
  }
}

TEST_CASE("api: options are checked before computing; errors are one line naming what is wrong") {
  const Model model = Model::load(tiny(), on_cpu());
  const Image photo = cli_test::make_image(40, 40, 1);
  ColorizeOptions o;
  CHECK_THROWS_AS(model.check(o), OptionError);  // no class
  o.classes = {"500"};
  CHECK_THROWS_WITH_AS(model.check(o), doctest::Contains("outside this model's 10 classes"), Error);
  o.classes = {"1"};
  o.size = 40;  // not a multiple of 16 for powerof
  CHECK_THROWS_AS(model.check(o), OptionError);
  o.size = 32;
  o.z = {std::vector<float>(5, 0.0f)};
  CHECK_THROWS_WITH_AS(model.check(o), doctest::Contains("z row 0 has 5 values; this model needs 119"), Error);
  o.z.clear();
  o.c_scale = std::nanf("");
  CHECK_THROWS_AS(model.colorize(photo, o), OptionError);
  o.c_scale = 1.0f;
  o.resize = "original";  // 40x40 is not a multiple of 16
  CHECK_THROWS_WITH_AS(model.colorize(photo, o, {}, "photo.png"),
                       doctest::Contains("photo.png: the model input would be 40x40"), Error);
  CHECK_THROWS_WITH_AS(Model::load(tiny() + "/nowhere.safetensors"), doctest::Contains("nowhere.safetensors"), Error);
}

TEST_CASE("api: an output with NaN is an error naming the input, never a picture") {
  // A weight damaged after loading (as a numerical fault on a device would): the final convolution's bias.
  const Model model = Model::load(tiny(), on_cpu());
  bool poisoned = false;
  for (const Module::NamedTensor& s : model.network().state()) {
    if (s.name == "G.output_layer.2.bias") {
      std::vector<float> v = s.tensor.to_vector();
      v[1] = std::nanf("");
      s.tensor.copy_from(Tensor::from_vector(v, s.tensor.shape()));
      poisoned = true;
    }
  }
  REQUIRE(poisoned);
  ColorizeOptions o;
  o.classes = {"1"};
  o.size = 32;
  CHECK_THROWS_WITH_AS(model.colorize(cli_test::make_image(32, 32, 1), o, {}, "photo.png"),
                       doctest::Contains("photo.png: the network's output holds NaN or infinite values"), Error);
}

TEST_CASE("api: ImageClassifier gives timm's top classes, which colorize then uses") {
  const std::string file = test::golden_path("classifiers/tiny_efficientnet.safetensors");
  const ImageClassifier classifier = ImageClassifier::load(file, Placement::CPU, 64);
  CHECK(classifier.variant() == "custom tf_efficientnet");
  CHECK(classifier.input_size() == 64);
  CHECK(classifier.num_classes() == 10);
  const Image photo = load_image(test::golden_path("classifiers/gray_1.png"));
  const std::vector<ClassGuess> guesses = classifier.classify(photo, 3);
  const SafetensorsFile logits = load_safetensors(test::golden_path("classifiers/logits.safetensors"));
  const auto ref = top_classes(logits.at("tiny_efficientnet.gray_1.s64.logits").to_vector(), 3);
  REQUIRE(guesses.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(guesses[i].index == ref[i].index);
    CHECK(guesses[i].name == imagenet_classes()[ref[i].index].names[0]);
    CHECK(guesses[i].probability == doctest::Approx(ref[i].probability).epsilon(1e-4));
  }
  ColorizeOptions options;
  for (const ClassGuess& g : guesses) options.classes.push_back(std::to_string(g.index));
  options.size = 32;
  const Model model = Model::load(tiny(), on_cpu());
  const std::vector<Colorization> results = model.colorize(photo, options);
  REQUIRE(results.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(results[i].class_a == guesses[i].index);
  CHECK_THROWS_WITH_AS(ImageClassifier::load(test::golden_path("classifiers/tiny_resnetd.pth"), Placement::CPU),
                       doctest::Contains("has no known input size"), Error);
}

}  // TEST_SUITE("api")
