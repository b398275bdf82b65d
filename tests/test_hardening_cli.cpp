// Hardening, as a user meets it: the `bigcolor` command on bad inputs, hostile files and awkward folders. One test
// case per class of the bad-input probe; each failed before its fix (see the comments for what happened then).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "models/checkpoint.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
using namespace bigcolor::test::cli;

std::string tiny() { return test::golden_path("official_tiny"); }

Result colorize(const std::vector<std::string>& inputs, const std::string& out, const std::vector<std::string>& extra,
                const std::string& ckpt = tiny()) {
  std::vector<std::string> args{"colorize"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  args.insert(args.end(), {"-o", out, "--ckpt", ckpt});
  args.insert(args.end(), extra.begin(), extra.end());
  return run(args);
}

std::vector<std::string> files_below(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!e.is_directory()) names.push_back(fs::relative(e.path(), dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

bool one_line_naming(const Result& r, const std::string& what) {
  const auto lines = r.err_lines("bigcolor: ");
  return lines.size() == 1 && lines[0].find(what) != std::string::npos;
}

}  // namespace

TEST_SUITE("hardening") {

TEST_CASE("hardening cli: convert never writes through a planted symlink") {
  // Before: convert opened "<output>.tmp" with O_TRUNC, so this link made it overwrite the victim.
  Scratch s;
  std::ofstream(s / "victim") << "precious";
  fs::create_symlink(s / "victim", s / "model.safetensors.tmp");
  const Result r = run({"convert", "--ckpt", tiny(), "-o", s / "model.safetensors", "-q"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(read_text(s / "victim") == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(s / "model.safetensors")));
  CHECK_NOTHROW(load_colorizer(s / "model.safetensors"));
}

TEST_CASE("hardening cli: inspect is bounded by the file, not by what its memo references expand to") {
  // Before: 326 bytes of pickle printed 2^40 lines (gigabytes, then out of memory).
  const std::string path = test::golden_path("hostile/shared_memo.pkl");
  const Result r = run({"inspect", path});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(r.out.size() < 100000);
  CHECK(r.out.find("<the same list as root[0]>") != std::string::npos);
  // The archive whose 1500 tensors view one storage is refused as the loaders refuse it.
  const std::string shared = test::golden_path("hostile/shared_storage.pt");
  const Result t = run({"inspect", shared});
  CHECK(t.status == 1);
  CHECK(one_line_naming(t, "expand to more than"));
}

TEST_CASE("hardening cli: traversal visits each real folder once and never colorizes its own results") {
  Scratch s;
  write_image(s / "in/a.png", 32, 48, 1, 1);
  write_image(s / "in/sub/b.png", 32, 48, 1, 2);
  fs::create_symlink("..", s / "in/sub/up");        // a loop back to in/
  fs::create_directory_symlink(s / "in/sub", s / "in/again");  // a second way into sub/
  // Before: 2 images became dozens of inputs through in/sub/up/sub/up/..., 40 levels deep.
  const Result r = colorize({s / "in"}, s / "out", {"--class", "1", "--size", "32", "-r"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(files_below(s / "out") == std::vector<std::string>{"a_c001.jpg", "sub/b_c001.jpg"});

  // An explicit FIFO or device: one line, at once (before: a FIFO blocked, /dev/zero was "an empty file").
  REQUIRE(::mkfifo((s / "pipe.png").c_str(), 0644) == 0);
  const Result fifo = colorize({s / "pipe.png", "/dev/zero"}, s / "out2", {"--class", "1", "--size", "32"});
  CHECK(fifo.status == 1);
  const auto lines = fifo.err_lines("bigcolor: ");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "bigcolor: " + (s / "pipe.png") + ": not a regular file (a FIFO)");
  CHECK(lines[1] == "bigcolor: /dev/zero: not a regular file (a character device)");
  CHECK_FALSE(fs::exists(s / "out2"));

  // -o is the input folder: the second run must not take the first run's results for photos.
  write_image(s / "same/c.png", 32, 48, 1, 3);
  REQUIRE(colorize({s / "same"}, s / "same", {"--class", "1", "--size", "32"}).status == 0);
  const Result again = colorize({s / "same"}, s / "same", {"--class", "1", "--size", "32", "--skip-existing"});
  REQUIRE_MESSAGE(again.status == 0, describe(again));
  CHECK(files_below(s / "same") == std::vector<std::string>{"c.png", "c_c001.jpg"});
  CHECK(again.err.find("an earlier run's") != std::string::npos);
}

TEST_CASE("hardening cli: a NaN in the weights is refused at load, naming the tensor") {
  // Before: an all-black picture and exit 0.
  Scratch s;
  ColorizerSource source;
  std::unique_ptr<Colorizer> model = load_any_colorizer(tiny(), source);
  const Module::NamedTensor target = model->state().at(7);
  std::vector<float> values = target.tensor.to_vector();
  values[values.size() / 2] = std::nanf("");
  target.tensor.copy_from(Tensor::from_vector(values, target.tensor.shape()));
  save_colorizer(s / "nan.safetensors", *model);
  write_image(s / "a.png", 32, 48);
  const Result r = colorize({s / "a.png"}, s / "out", {"--class", "1", "--size", "32"}, s / "nan.safetensors");
  CHECK(r.status == 1);
  CHECK(one_line_naming(r, s / "nan.safetensors" + ": tensor '" + target.name + "' holds NaN"));
  CHECK_FALSE(fs::exists(s / "out"));
  const Result c = run({"convert", "--ckpt", s / "nan.safetensors", "-o", s / "x.safetensors"});
  CHECK(c.status == 1);
  // A NaN option gives a black picture just as surely: refused as usage.
  CHECK(colorize({s / "a.png"}, s / "out", {"--class", "1", "--c-scale", "nan"}).status == 2);
  CHECK_FALSE(fs::exists(s / "out"));
}

TEST_CASE("hardening cli: everything is checked before computing, and nothing is created on failure") {
  Scratch s;
  write_image(s / "a.png", 32, 48);
  write_image(s / "b.png", 32, 48, 3, 2);
  // Before: each of these left an empty output folder behind.
  CHECK(colorize({s / "missing.png"}, s / "o1", {"--class", "1"}).status == 1);
  CHECK(colorize({s / "a.png"}, s / "o2", {"--class", "1"}, s / "missing.safetensors").status == 1);
  std::ofstream(s / "corrupt.safetensors") << "not a safetensors file at all";
  CHECK(colorize({s / "a.png"}, s / "o3", {"--class", "1"}, s / "corrupt.safetensors").status == 1);
  std::ofstream(s / "z.safetensors") << "garbage";
  CHECK(colorize({s / "a.png"}, s / "o4", {"--class", "1", "--z-file", s / "z.safetensors"}).status == 1);
  const Result outside = colorize({s / "a.png"}, s / "o5", {"--class", "500"});  // the tiny model has 10 classes
  CHECK(outside.status == 1);
  CHECK(one_line_naming(outside, "outside this model's 10 classes"));
  for (const char* o : {"o1", "o2", "o3", "o4", "o5"}) CHECK_MESSAGE(!fs::exists(s / o), o);

  // An output folder that cannot be made is found before any image is computed (before: after all of them).
  std::ofstream(s / "file") << "x";
  const Result blocked = colorize({s / "a.png", s / "b.png"}, s / "file/out", {"--class", "1", "--size", "32"});
  CHECK(blocked.status == 1);
  CHECK(one_line_naming(blocked, "cannot be created"));
  CHECK(blocked.err.find("[1/2]") == std::string::npos);
  if (::geteuid() != 0) {  // root writes anywhere: the permission case needs a plain user
    fs::create_directory(s / "ro");
    fs::permissions(s / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    const Result ro = colorize({s / "a.png"}, s / "ro", {"--class", "1", "--size", "32"});
    CHECK(ro.status == 1);
    CHECK(one_line_naming(ro, "cannot write in this folder"));
    CHECK(ro.err.find("[1/1]") == std::string::npos);
    fs::permissions(s / "ro", fs::perms::owner_all);
  }

  // --overwrite never replaces part of an input's results before failing it. Before: a_c001.jpg was replaced,
  // then a_c002.jpg (a folder) failed the input.
  REQUIRE(colorize({s / "a.png"}, s / "out", {"--class", "1", "--size", "32"}).status == 0);
  const std::string first = read_text(s / "out/a_c001.jpg");
  fs::create_directory(s / "out/a_c002.jpg");
  const Result partial =
      colorize({s / "a.png"}, s / "out", {"--class", "1", "2", "--size", "32", "--overwrite", "--jpeg-quality", "95"});
  CHECK(partial.status == 1);
  CHECK(one_line_naming(partial, "a_c002.jpg is a folder"));
  CHECK(read_text(s / "out/a_c001.jpg") == first);
  fs::remove(s / "out/a_c002.jpg");

  // --skip-existing: a resumed batch is a normal case. Before: every present result failed its input.
  fs::remove(s / "out/a_c001.jpg");
  REQUIRE(colorize({s / "b.png"}, s / "out", {"--class", "1", "2", "--size", "32"}).status == 0);
  const std::string b2 = read_text(s / "out/b_c002.jpg");
  const Result resumed = colorize({s / "a.png", s / "b.png"}, s / "out", {"--class", "1", "2", "--size", "32",
                                                                          "--skip-existing"});
  REQUIRE_MESSAGE(resumed.status == 0, describe(resumed));
  CHECK(files_below(s / "out") == std::vector<std::string>{"a_c001.jpg", "a_c002.jpg", "b_c001.jpg", "b_c002.jpg"});
  CHECK(read_text(s / "out/b_c002.jpg") == b2);  // kept, not recomputed
  CHECK(resumed.err.find("skipped, its 2 results exist") != std::string::npos);
  CHECK(resumed.err.find("1 skipped (results present)") != std::string::npos);
  CHECK(colorize({s / "a.png"}, s / "out", {"--class", "1", "--overwrite", "--skip-existing"}).status == 2);
}

TEST_CASE("hardening cli: output names stay inside -o") {
  Scratch s;
  write_image(s / "in/a.png", 32, 48);
  // Before: --suffix /../../x wrote outside the output folder.
  for (const char* suffix : {"/../../escaped", "_x/y", "..", "a\\b"}) {
    CAPTURE(suffix);
    const Result r = colorize({s / "in/a.png"}, s / "out", {"--class", "1", "--size", "32", "--suffix", suffix});
    CHECK(r.status == 2);
    CHECK(r.err.find("--suffix") != std::string::npos);
  }
  CHECK(files_below(s.operator/("")).size() == 1);  // only the input
  REQUIRE(colorize({s / "in/a.png"}, s / "out", {"--class", "1", "--size", "32", "--suffix", "_v2.final"}).status == 0);
  CHECK(fs::exists(s / "out/a_c001_v2.final.jpg"));
}

TEST_CASE("hardening cli: messages that name the fix") {
  Scratch s;
  write_image(s / "a.png", 40, 40);
  const Result unknown = run({"colourize", s / "a.png"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("unknown command 'colourize' (commands: colorize, classify, eval, inspect, convert, train)") !=
        std::string::npos);
  const Result nan = colorize({s / "a.png"}, s / "o", {"--class", "1", "--size", "abc"});
  CHECK(nan.status == 2);
  CHECK(nan.err.find("--size: 'abc' is not a number") != std::string::npos);
  // The multiple-of-16 hint fits the --resize mode (before: "powerof or square always give that", even for
  // --num-power 2, where powerof does not).
  const Result original = colorize({s / "a.png"}, s / "o", {"--class", "1", "--resize", "original"});
  CHECK(original.status == 1);
  CHECK(one_line_naming(original, "--resize original keeps the photo's own size"));
  const Result power = colorize({s / "a.png"}, s / "o", {"--class", "1", "--size", "36", "--num-power", "2"});
  CHECK(power.status == 1);
  CHECK(one_line_naming(power, "--num-power 4 or more"));
  // --threads 0 is all cores in colorize, as in train.
  CHECK(colorize({s / "a.png"}, s / "t0", {"--class", "1", "--size", "32", "--threads", "0", "-q"}).status == 0);
  // Options that do nothing together are refused.
  CHECK(colorize({s / "a.png"}, s / "o", {"--class", "1", "--png", "--jpeg-quality", "90"}).status == 2);
  CHECK(colorize({s / "a.png"}, s / "o", {"--class", "1", "--quiet", "--verbose"}).status == 2);
  CHECK_FALSE(fs::exists(s / "o"));
  // A training checkpoint given to colorize points to the EMA weights.
  fs::create_directories(s / "run/checkpoints");
  save_safetensors(s / "run/checkpoints/latest.safetensors",
                   {{"x", Tensor::from_vector(std::vector<float>{1.0f}, {1})}}, {{"bigcolor.training_format", "1"}});
  const Result training = colorize({s / "a.png"}, s / "o", {"--class", "1"}, s / "run/checkpoints/latest.safetensors");
  CHECK(training.status == 1);
  CHECK(one_line_naming(training, (fs::path(s / "run") / "ema.safetensors").string()));
  // An official folder without config.pickle names --config.
  fs::create_directories(s / "official");
  for (const auto& e : fs::directory_iterator(tiny()))
    if (e.path().filename() != "config.pickle") fs::copy(e.path(), s / ("official/" + e.path().filename().string()));
  const Result config = colorize({s / "a.png"}, s / "o", {"--class", "1"}, s / "official");
  // (the reader also looks in ../pretrained/ and ../../pretrained/ of the folder)
  if (!fs::exists(s / "pretrained") && !fs::exists(fs::path(s / "").parent_path().parent_path() / "pretrained")) {
    CHECK(config.status == 1);
    CHECK(one_line_naming(config, "--config"));
  }
}

}  // TEST_SUITE("hardening")

TEST_SUITE("hardening") {

// The main job's first contact (tools/colorize.sh, tools/get_weights.sh), with a stand-in gdown that fails as an
// offline machine's does (a traceback) and leaves a mark when it is called at all.
TEST_CASE("hardening cli: the main-job script parses options as bigcolor does and fails offline in one line") {
  Scratch s;
  const std::string root = (fs::path(test::golden_path("")) / ".." / "..").lexically_normal().string();
  fs::create_directories(s / "venv/bin");
  std::ofstream(s / "venv/bin/gdown") << "#!/bin/sh\ntouch " << quote(s / "gdown_called") << "\n"
                                      << "echo 'Traceback (most recent call last):' >&2\n"
                                      << "echo '  File \"gdown/download.py\", line 1' >&2\n"
                                      << "echo 'ConnectionError: no route to host' >&2\nexit 1\n";
  fs::permissions(s / "venv/bin/gdown", fs::perms::owner_all);
  const auto shell = [&](const std::string& line) {
    const std::string command = "cd " + quote(s / "") + " && BIGCOLOR_TOOLS_VENV=" + quote(s / "venv") + " " + line +
                                " >" + quote(s / "out.txt") + " 2>" + quote(s / "err.txt");
    const int raw = std::system(command.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = read_text(s / "out.txt");
    r.err = read_text(s / "err.txt");
    return r;
  };
  // Offline: one line naming what to fetch, where, and --ckpt; no traceback; no folder left behind.
  const Result offline = shell("bash " + quote(root + "/tools/get_weights.sh") + " " + quote(s / "dest"));
  CHECK(offline.status == 1);
  CHECK(offline.err_lines().size() == 1);
  CHECK(offline.err.find("Traceback") == std::string::npos);
  CHECK(offline.err.find("ckpts/bigcolor") != std::string::npos);
  CHECK(offline.err.find("--ckpt") != std::string::npos);
  CHECK_FALSE(fs::exists(s / "dest"));
  // --ckpt=PATH and --output=DIR as CLI11 reads them: no download, and the results where --output says.
  write_image(s / "photo.png", 32, 48);
  fs::remove(s / "gdown_called");
  const Result eq = shell("BIGCOLOR_BIN=" + quote(BIGCOLOR_CLI_PATH) + " bash " + quote(root + "/tools/colorize.sh") +
                          " photo.png --class 1 --size 32 --ckpt=" + quote(tiny()) + " --output=" + quote(s / "mine"));
  REQUIRE_MESSAGE(eq.status == 0, describe(eq));
  CHECK_FALSE(fs::exists(s / "gdown_called"));
  CHECK(fs::exists(s / "mine/photo_c001.jpg"));
  CHECK_FALSE(fs::exists(s / "results"));
}

}  // TEST_SUITE("hardening")
