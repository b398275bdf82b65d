// The validation run and the evaluation from the command line: `colorize --class-from-folder` over an ImageFolder
// tree (class = sorted sub-folder index, ImageFolder's order for --limit, results in the same tree, resumable), and
// `bigcolor eval` on the golden photo pairs of tests/golden/eval (its numbers are tests/test_eval_parity.cpp's; here:
// the table, the JSON, unpaired files and the exit statuses).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "models/inception.h"
#include "seeded_state.h"
#include "tensor/safetensors.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;
namespace fs = std::filesystem;

namespace {

std::string tiny() { return test::golden_path("official_tiny"); }
std::string eval_golden(const std::string& name) { return test::golden_path("eval/" + name); }
double golden_metric(const std::string& name) {
  static const SafetensorsFile f = load_safetensors(eval_golden("metrics.safetensors"));
  return f.at(name).to_vector().at(0);
}

// The golden tool's networks as the files a user would pass: pytorch-fid's Inception (seeded, calibrated
// statistics) and lpips' VGG (seeded, zero biases), written once into `dir`.
void write_network_files(const std::string& dir) {
  std::map<std::string, Tensor> fid = test::seeded_state(inception_state_shapes(InceptionProtocol::PytorchFid));
  const SafetensorsFile stats = load_safetensors(eval_golden("calibrated_stats.safetensors"));
  for (const auto& [name, t] : stats.tensors)
    if (name.starts_with("pytorch-fid.")) fid[name.substr(12)] = t;
  save_safetensors(dir + "/pt_inception.safetensors", fid);
  std::map<std::string, Tensor> vgg;
  for (const auto& [name, shape] : test::read_manifest(eval_golden("lpips_vgg_manifest.txt")))
    vgg[name] = name.ends_with(".bias") ? Tensor::zeros(shape) : test::seeded_tensor(name, shape);
  save_safetensors(dir + "/vgg16.safetensors", vgg);
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli colorize --class-from-folder: ImageFolder classes, the same tree out, resumable, --limit in order") {
  Scratch s;
  write_image(s / "val/n001/x.png", 40, 32, 1, 1);
  write_image(s / "val/n002/z.png", 32, 40, 3, 2);
  write_image(s / "val/n002/sub/y.png", 48, 32, 1, 3);
  fs::create_directories(s / "val/n003");  // an empty class still takes index 2
  write_image(s / "val/n004/w.png", 32, 32, 1, 4);
  const Result r = run({"colorize", s / "val", "--class-from-folder", "-o", s / "out", "--ckpt", tiny(), "--size",
                        "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  for (const char* f : {"out/n001/x.jpg", "out/n002/z.jpg", "out/n002/sub/y.jpg", "out/n004/w.jpg"})
    CHECK_MESSAGE(fs::exists(s / f), f);
  CHECK(r.err.find("images/s") != std::string::npos);
  // Each result is the one of an explicit --class with the folder's index (n004 is class 3).
  const Result one = run({"colorize", s / "val/n004/w.png", "-o", s / "single", "--ckpt", tiny(), "--size", "32",
                          "--class", "3", "-q"});
  REQUIRE_MESSAGE(one.status == 0, describe(one));
  CHECK(read_text(s / "single/w_c003.jpg") == read_text(s / "out/n004/w.jpg"));
  // A second run keeps what is there.
  const std::string before = read_text(s / "out/n002/z.jpg");
  const Result again = run({"colorize", s / "val", "--class-from-folder", "-o", s / "out", "--ckpt", tiny(), "--size",
                            "32"});
  CHECK(again.status == 0);
  CHECK(again.err.find("4 skipped") != std::string::npos);
  CHECK(read_text(s / "out/n002/z.jpg") == before);
  // --limit takes ImageFolder's order: a folder's own files before its sub-folders'.
  const Result limited = run({"colorize", s / "val", "--class-from-folder", "-o", s / "lim", "--ckpt", tiny(),
                              "--size", "32", "--limit", "2", "-q"});
  REQUIRE_MESSAGE(limited.status == 0, describe(limited));
  CHECK(fs::exists(s / "lim/n001/x.jpg"));
  CHECK(fs::exists(s / "lim/n002/z.jpg"));
  CHECK_FALSE(fs::exists(s / "lim/n002/sub"));
  // Usage errors.
  const Result with_class = run({"colorize", s / "val", "--class-from-folder", "--class", "1", "-o", s / "e1",
                                 "--ckpt", tiny()});
  CHECK(with_class.status == 2);
  CHECK(with_class.err.find("excludes --class") != std::string::npos);
  const Result file_input = run({"colorize", s / "val/n001/x.png", "--class-from-folder", "-o", s / "e2", "--ckpt",
                                 tiny()});
  CHECK(file_input.status == 1);
  CHECK(file_input.err.find("needs ImageFolder roots") != std::string::npos);
}

TEST_CASE("cli eval: every metric from the users' files, the table and the JSON match the reference tools") {
  Scratch s;
  fs::create_directories(s / "nets");
  write_network_files(s / "nets");
  const Result r = run({"eval", "--pred", eval_golden("pred"), "--ref", eval_golden("ref"), "--inception",
                        s / "nets/pt_inception.safetensors", "--lpips-vgg", s / "nets/vgg16.safetensors",
                        "--lpips-lin", eval_golden("lpips_vgg_v0.1.pth"), "--classifier",
                        test::golden_path("classifiers/tiny_resnetd.safetensors"), "--colorful-signed", "--json",
                        s / "report.json", "-q"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(r.out.find("bigcolor eval: 64 pairs") != std::string::npos);
  for (const char* m : {"colorful ", "colorful_ref", "colorful_signed ", "psnr", "ssim", "lpips", "fid", "top1", "top5"})
    CHECK_MESSAGE(r.out.find(std::string("\n") + m) != std::string::npos, m, " missing from\n", r.out);
  CHECK(r.out.find("pytorch-fid") != std::string::npos);  // the protocol is named
  const nlohmann::json doc = nlohmann::json::parse(read_text(s / "report.json"));
  CHECK(doc["pairs"] == 64);
  CHECK(doc["missing"].empty());
  const auto value = [&](const char* m) { return doc["metrics"][m]["value"].get<double>(); };
  CHECK(value("psnr") == doctest::Approx(golden_metric("psnr.mean")).epsilon(1e-6));
  CHECK(value("ssim") == doctest::Approx(golden_metric("ssim.mean")).epsilon(1e-6));
  CHECK(value("colorful") == doctest::Approx(golden_metric("colorful.mean")).epsilon(1e-6));
  CHECK(value("colorful_signed_ref") == doctest::Approx(golden_metric("colorful_signed.ref.mean")).epsilon(1e-6));
  CHECK(value("lpips") == doctest::Approx(golden_metric("lpips64.mean")).epsilon(1e-4));
  CHECK(value("fid") == doctest::Approx(golden_metric("fid.pytorch-fid")).epsilon(1e-3));
  CHECK(value("top1") == golden_metric("accuracy.top1"));
  CHECK(value("top5") == golden_metric("accuracy.top5"));
  CHECK(doc["images"]["n01443537/img_07"]["psnr"].get<double>() ==
        doctest::Approx(golden_metric("psnr.n01443537/img_07.png")).epsilon(1e-6));
  CHECK(doc["images"]["n01443537/img_07"]["top5"].size() == 5);
}

TEST_CASE("cli eval: unpaired files are listed and fail the run unless allowed; options are checked first") {
  Scratch s;
  fs::copy(eval_golden("pred"), s / "pred", fs::copy_options::recursive);
  fs::remove(s / "pred/n01440764/img_03.png");
  fs::copy_file(eval_golden("pred/n01440764/img_04.png"), s / "pred/n01440764/stray.png");
  const Result r = run({"eval", "--pred", s / "pred", "--ref", eval_golden("ref"), "--metrics", "psnr", "-q"});
  CHECK(r.status == 1);
  CHECK(r.out.find("63 pairs") != std::string::npos);
  CHECK(r.out.find("1 missing, 1 extra") != std::string::npos);
  CHECK(r.err.find("img_03.png") != std::string::npos);
  CHECK(r.err.find("stray.png") != std::string::npos);
  const Result allowed = run({"eval", "--pred", s / "pred", "--ref", eval_golden("ref"), "--metrics", "psnr",
                              "--allow-unpaired", "-q"});
  CHECK(allowed.status == 0);
  const Result no_net = run({"eval", "--pred", s / "pred", "--ref", eval_golden("ref"), "--metrics", "fid"});
  CHECK(no_net.status == 2);
  CHECK(no_net.err.find("--metrics fid needs --inception FILE") != std::string::npos);
  const Result half_lpips = run({"eval", "--pred", s / "pred", "--ref", eval_golden("ref"), "--lpips-lin",
                                 eval_golden("lpips_vgg_v0.1.pth")});
  CHECK(half_lpips.status == 2);
  const Result bad_inception = run({"eval", "--pred", s / "pred", "--ref", eval_golden("ref"), "--inception",
                                    test::golden_path("classifiers/tiny_resnetd.pth")});
  CHECK(bad_inception.status == 1);
  CHECK(bad_inception.err.find("tiny_resnetd.pth") != std::string::npos);
  CHECK_FALSE(fs::exists(s / "report.json"));
}

}  // TEST_SUITE("cli")
