// `bigcolor classify` and `bigcolor colorize --classifier/--topk` with the tiny timm classifiers of
// tests/golden/classifiers (10 classes, like the tiny colorizer tests/golden/official_tiny): the classes printed and
// the files named are the top-k of timm's own logits for the same photos, stored by tools/make_golden_classifier.py.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "models/classifier.h"
#include "io/imagenet_classes.h"
#include "tensor/safetensors.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;
namespace fs = std::filesystem;

namespace {

std::string golden(const std::string& name) { return test::golden_path("classifiers/" + name); }

// timm's top-k classes of `image` at size 64 (the golden logits of `model`).
std::vector<int> timm_top(const std::string& model, const std::string& image, int k) {
  const SafetensorsFile f = load_safetensors(golden("logits.safetensors"));
  std::vector<int> out;
  for (const ClassPrediction& p : top_classes(f.at(model + "." + image + ".s64.logits").to_vector(), k))
    out.push_back(p.index);
  return out;
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli classify: text and JSON give timm's top classes of each photo") {
  const Result text = run({"classify", golden("gray_1.png"), golden("gray_2.png"), "--classifier",
                           golden("tiny_resnetd.safetensors"), "--size", "64", "--topk", "3"});
  REQUIRE_MESSAGE(text.status == 0, describe(text));
  std::istringstream lines(text.out);
  for (const std::string image : {"gray_1", "gray_2"}) {
    std::string line;
    REQUIRE(std::getline(lines, line));
    std::string expected = golden(image + ".png") + ":";
    const std::vector<int> top = timm_top("tiny_resnetd", image, 3);
    CHECK_MESSAGE(line.rfind(expected, 0) == 0, line);
    std::size_t at = 0;
    for (int c : top) {  // each class appears, in timm's order, with its ImageNet name
      std::string item = " ";  // built with += (GCC 12's -Wrestrict false positive on chained +)
      item += std::to_string(c);
      item += " ";
      item += imagenet_classes()[c].names[0];
      item += " ";
      const std::size_t found = line.find(item, at);
      CHECK_MESSAGE(found != std::string::npos, line, " lacks", item);
      at = found == std::string::npos ? at : found;
    }
  }
  CHECK(text.err.find("classifier: custom resnet-d") != std::string::npos);

  const Result json = run({"classify", golden("gray_2.png"), "--classifier", golden("tiny_efficientnet.pth"),
                           "--size", "64", "-k", "4", "--json"});
  REQUIRE_MESSAGE(json.status == 0, describe(json));
  const nlohmann::json doc = nlohmann::json::parse(json.out);
  REQUIRE(doc.size() == 1);
  CHECK(doc[0]["image"] == golden("gray_2.png"));
  const std::vector<int> top = timm_top("tiny_efficientnet", "gray_2", 4);
  REQUIRE(doc[0]["classes"].size() == 4);
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    CHECK(doc[0]["classes"][i]["index"] == top[i]);
    CHECK(doc[0]["classes"][i]["wnid"] == imagenet_classes()[top[i]].wnid);
    sum += doc[0]["classes"][i]["probability"].get<double>();
  }
  CHECK(sum > 0.0);
  CHECK(sum <= 1.0);
}

TEST_CASE("cli classify: bad classifier files and missing sizes are one line") {
  const Result bad = run({"classify", golden("gray_1.png"), "--classifier",
                          golden("tiny_efficientnet_missing.safetensors"), "--size", "64"});
  CHECK(bad.status == 1);
  CHECK_MESSAGE(bad.err_lines("bigcolor: ").size() == 1, bad.err);
  CHECK(bad.err.find("tiny_efficientnet_missing.safetensors: missing tensor 'blocks.2.0.conv_dw.weight'") !=
        std::string::npos);
  const Result no_size = run({"classify", golden("gray_1.png"), "--classifier", golden("tiny_resnetd.pth")});
  CHECK(no_size.status == 1);
  CHECK(no_size.err.find("has no known input size; give one") != std::string::npos);
  const Result not_image = run({"classify", test::golden_path("images/not_an_image.png"), golden("gray_1.png"),
                                "--classifier", golden("tiny_resnetd.pth"), "--size", "64"});
  CHECK(not_image.status == 1);  // the other image is still classified
  CHECK(not_image.out.find(golden("gray_1.png") + ":") != std::string::npos);
  CHECK(not_image.err.find("not_an_image.png") != std::string::npos);
}

TEST_CASE("cli colorize --classifier: one result per top-k class, named by class; --class wins") {
  Scratch scratch;
  const std::string tiny_colorizer = test::golden_path("official_tiny");
  const Result r = run({"colorize", golden("gray_1.png"), "-o", scratch / "out", "--ckpt", tiny_colorizer,
                        "--classifier", golden("tiny_efficientnet.safetensors"), "--classifier-size", "64",
                        "--topk", "2", "--size", "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  std::vector<std::string> expected;
  for (int c : timm_top("tiny_efficientnet", "gray_1", 2)) {
    char name[32];
    std::snprintf(name, sizeof name, "gray_1_c%03d.jpg", c);
    expected.push_back(name);
    CHECK_MESSAGE(fs::exists(scratch / ("out/" + std::string(name))), name);
  }
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(scratch / "out")) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 2);
  CHECK(r.err.find("classes ") != std::string::npos);  // the progress line names the classes

  const Result explicit_class = run({"colorize", golden("gray_1.png"), "-o", scratch / "out2", "--ckpt",
                                     tiny_colorizer, "--classifier", golden("tiny_efficientnet.safetensors"),
                                     "--classifier-size", "64", "--class", "7", "--size", "32"});
  REQUIRE_MESSAGE(explicit_class.status == 0, describe(explicit_class));
  CHECK(explicit_class.err.find("the classifier is not used") != std::string::npos);
  CHECK(fs::exists(scratch / "out2/gray_1_c007.jpg"));

  const Result topk_alone = run({"colorize", golden("gray_1.png"), "-o", scratch / "out3", "--ckpt",
                                 tiny_colorizer, "--topk", "3"});
  CHECK(topk_alone.status == 2);
  CHECK(topk_alone.err.find("give --classifier FILE") != std::string::npos);
  const Result nothing = run({"colorize", golden("gray_1.png"), "-o", scratch / "out4", "--ckpt", tiny_colorizer});
  CHECK(nothing.status == 2);
  CHECK(nothing.err.find("--classifier FILE to pick each photo's classes") != std::string::npos);
  const Result too_many = run({"colorize", golden("gray_1.png"), "-o", scratch / "out5", "--ckpt", tiny_colorizer,
                               "--classifier", golden("tiny_resnetd.pth"), "--classifier-size", "64", "--topk",
                               "11"});
  CHECK(too_many.status == 1);
  CHECK(too_many.err.find("--topk 11: ") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch / "out5"));
}

}  // TEST_SUITE("cli")
