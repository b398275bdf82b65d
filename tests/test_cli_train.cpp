// `bigcolor train` as a user runs it (a separate process, src/cli/train.cpp): on small folders of textured pictures
// written by the tests, with a width-4 model at 64x64 and the tiny golden VGG (tests/golden/training_tiny): the run
// folder's files, exact resuming through the command line, and every refusal and stop the issue asks for (bad
// folders, an existing run, unreadable images, a NaN loss, Ctrl-C).
#include <doctest/doctest.h>

#include <algorithm>

#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cli_test_util.h"
#include "models/checkpoint.h"
#include "models/discriminator.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
using namespace bigcolor::test::cli;

std::string make_data(const Scratch& scratch, const std::string& name, int classes, int per_class) {
  return write_image_folder(scratch / name, classes, per_class);
}

// The training options of these tests: tiny model, 64x64, batch 2, every step logged.
std::vector<std::string> train_args(const std::string& data, const std::string& out, std::int64_t max_steps) {
  return {"train", "--data", data, "--out", out, "--vgg", test::golden_path("training_tiny/vgg16_tiny.pth"),
          "--width", "4", "--n-classes", "10", "--image-size", "64", "--batch", "2", "--max-steps",
          std::to_string(max_steps), "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2",
          "--lr", "1e-3", "--lr-d", "1e-3", "--workers", "2", "--seed", "5", "--device", "cpu"};
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("cli train: --help documents the options") {
  const Result r = run({"train", "--help"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  for (const char* option : {"--data", "--val", "--out", "--resume", "--init-eg", "--init-g", "--init-d", "--vgg",
                             "--epochs", "--batch", "--lr", "--lr-d", "--coef-adv", "--coef-mse", "--coef-l1", "--coef-ab", "--coef-lpips",
                             "--coef-enhance", "--seed", "--device", "--min-colorfulness", "--max-steps"})
    CHECK_MESSAGE(r.out.find(option) != std::string::npos, option);
}

TEST_CASE("cli train: a short run writes its folder, and a resumed run equals an uninterrupted one") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 3, 3);
  const std::string val = make_data(scratch, "val", 2, 1);

  std::vector<std::string> straight_args = train_args(data, scratch / "straight", 4);
  straight_args.insert(straight_args.end(), {"--val", val});
  const Result straight = run(straight_args);
  REQUIRE_MESSAGE(straight.status == 0, describe(straight));
  for (const char* file : {"run.json", "log.jsonl", "checkpoints/latest.safetensors", "ema.safetensors",
                           "samples/step_0000002_train.png", "samples/step_0000004_val.png"})
    CHECK_MESSAGE(fs::exists(scratch / ("straight/" + std::string(file))), file);
  CHECK(lines_of(scratch / "straight/log.jsonl").size() == 4);
  CHECK(straight.err.find("4 steps done") != std::string::npos);
  // The exported EMA weights are a colorizer file that colorize reads.
  write_image(scratch / "in/photo.png", 64, 64);
  const Result colorized = run({"colorize", scratch / "in/photo.png", "-o", scratch / "colorized", "--ckpt",
                                scratch / "straight/ema.safetensors", "--class", "3", "--size", "64"});
  CHECK_MESSAGE(colorized.status == 0, describe(colorized));

  // 2 steps, then --resume to 4.
  const Result first = run(train_args(data, scratch / "resumed", 2));
  REQUIRE_MESSAGE(first.status == 0, describe(first));
  std::vector<std::string> resume_args = train_args(data, scratch / "resumed", 4);
  resume_args.push_back("--resume");
  const Result second = run(resume_args);
  REQUIRE_MESSAGE(second.status == 0, describe(second));
  CHECK(second.err.find("resuming at step 2") != std::string::npos);
  CHECK(lines_of(scratch / "resumed/log.jsonl").size() == 4);
  const SafetensorsFile a = load_safetensors(scratch / "straight/checkpoints/latest.safetensors");
  const SafetensorsFile b = load_safetensors(scratch / "resumed/checkpoints/latest.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, tensor] : a.tensors) {
    INFO(name);
    CHECK(test::compare(b.at(name), tensor).max_abs_error == 0.0);
  }
  // The losses of steps 3 and 4 are the same in both logs.
  for (std::size_t step = 2; step < 4; ++step) {
    const auto x = nlohmann::json::parse(lines_of(scratch / "straight/log.jsonl")[step]);
    const auto y = nlohmann::json::parse(lines_of(scratch / "resumed/log.jsonl")[step]);
    for (const char* key : {"step", "loss_d", "loss_g", "mse", "lpips", "lr_g"}) CHECK_MESSAGE(x.at(key) == y.at(key), key);
  }

  // A second run into the same folder without --resume is refused, and nothing there changes.
  const std::string before = read_text(scratch / "straight/checkpoints/latest.safetensors");
  const Result again = run(train_args(data, scratch / "straight", 2));
  CHECK(again.status == 1);
  CHECK(again.err.find("already holds a training run") != std::string::npos);
  CHECK(read_text(scratch / "straight/checkpoints/latest.safetensors") == before);
}

namespace {
// A regression term not in the official recipe (--coef-l1, --coef-ab), the only EG loss: recorded in run.json
// (the other at 0), logged as `key` on every line with a value in (0, high), and no `absent` key in the log.
void check_cli_term(const char* option, const char* json_option, const char* coef, const char* key, double high,
                    const char* absent) {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 2);
  std::vector<std::string> args = train_args(data, scratch / "run", 2);
  args.insert(args.end(), {"--no-discriminator", "--coef-mse", "0", "--coef-lpips", "0", option, coef});
  const Result r = run(args);
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(nlohmann::json::parse(read_text(scratch / "run/run.json")).at(json_option) == std::stod(coef));
  const std::vector<std::string> log = lines_of(scratch / "run/log.jsonl");
  REQUIRE(log.size() == 2);
  for (const std::string& line : log) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j.at(key).get<double>() > 0.0);
    CHECK(j.at(key).get<double>() < high);
    CHECK(j.at("mse").get<double>() == 0.0);
    CHECK_FALSE(j.contains(absent));
  }
  // The progress line shows the term trained with, not the zeros of the discriminator's and MSE's.
  const std::string progress = std::string(" | ") + key + " ";
  CHECK_MESSAGE(r.err.find(progress) != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("loss_d") == std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find(" mse ") == std::string::npos, r.err);
}
}  // namespace

// --coef-l1: 0.5 · mean |x − fake01|, both in [0, 1].
TEST_CASE("cli train: --coef-l1 is recorded, logged and trains alone") {
  check_cli_term("--coef-l1", "coef_l1", "0.5", "l1", 0.5, "ab");
}

// --coef-ab (an L1 loss on Lab a and b): |a|, |b| of sRGB colours stay under ~128.
TEST_CASE("cli train: --coef-ab is recorded, logged and trains alone") {
  check_cli_term("--coef-ab", "coef_ab", "0.25", "ab", 0.25 * 128.0, "l1");
}

// The log holds the first step, every --log-every-th and the last, so it ends with the run's final losses.
TEST_CASE("cli train: the log ends with the last step whatever --log-every is") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 2);
  std::vector<std::string> args = train_args(data, scratch / "run", 4);
  const auto at = std::find(args.begin(), args.end(), "--log-every");
  REQUIRE(at != args.end());
  *(at + 1) = "3";
  const Result r = run(args);
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  std::vector<int> steps;
  for (const std::string& line : lines_of(scratch / "run/log.jsonl"))
    steps.push_back(nlohmann::json::parse(line).at("step").get<int>());
  CHECK(steps == std::vector<int>{1, 3, 4});
}

// Without either option the log has neither key (the official step's lines are unchanged).
TEST_CASE("cli train: the official step logs no l1 or ab") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 2);
  const Result plain = run(train_args(data, scratch / "plain", 1));
  REQUIRE_MESSAGE(plain.status == 0, describe(plain));
  const auto line = nlohmann::json::parse(lines_of(scratch / "plain/log.jsonl").at(0));
  CHECK_FALSE(line.contains("l1"));
  CHECK_FALSE(line.contains("ab"));
}

TEST_CASE("cli train: bad data folders are one clear error; unreadable images are skipped and counted") {
  Scratch scratch;
  const Result missing = run(train_args(scratch / "nowhere", scratch / "run", 1));
  CHECK(missing.status == 1);
  CHECK(missing.err.find("nowhere") != std::string::npos);
  CHECK(missing.err_lines("bigcolor:").size() == 1);

  fs::create_directories(scratch / "empty");
  const Result empty = run(train_args(scratch / "empty", scratch / "run2", 1));
  CHECK(empty.status == 1);
  CHECK(empty.err.find("empty") != std::string::npos);

  const std::string data = make_data(scratch, "data", 2, 3);
  std::ofstream(scratch / "data/class0/broken.png") << "not a png";
  std::vector<std::string> args = train_args(data, scratch / "run3", 3);
  args.insert(args.end(), {"--epochs", "1"});
  const Result r = run(args);
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK_MESSAGE(r.err.find("1 unreadable") != std::string::npos, r.err);

  const Result no_vgg = run({"train", "--data", data, "--out", scratch / "run4", "--width", "4"});
  CHECK(no_vgg.status == 2);
  CHECK(no_vgg.err.find("--vgg") != std::string::npos);
}

TEST_CASE("cli train: a NaN loss stops the run naming the step and keeps the last good checkpoint") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 3);
  std::vector<std::string> args = train_args(data, scratch / "run", 50);
  // An absurd learning rate: Adam moves every weight by ~1e38 per step (the spectral and batch norms undo that for
  // the weights they normalize, not for the biases), so D's output overflows to Inf within a few steps.
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--lr" || args[i] == "--lr-d") args[i + 1] = "1e38";
  const Result r = run(args);
  CHECK(r.status == 1);
  REQUIRE_MESSAGE(r.err.find("not finite") != std::string::npos, describe(r));
  CHECK(r.err.find("step ") != std::string::npos);
  if (fs::exists(scratch / "run/checkpoints/latest.safetensors")) {
    CHECK(r.err.find("last good checkpoint") != std::string::npos);
    CHECK_NOTHROW(load_safetensors(scratch / "run/checkpoints/latest.safetensors"));
  }
}

TEST_CASE("cli train: a run that fails at its start leaves nothing that blocks the next one") {
  Scratch scratch;
  // Only unreadable images: the sample sheets cannot be made. Before: run.json and empty folders stayed behind, and
  // then both a fresh run ("already holds a training run") and --resume ("no checkpoint") failed.
  for (const char* name : {"bad/class0/x.png", "bad/class1/y.png"}) {
    fs::create_directories(fs::path(scratch / name).parent_path());
    std::ofstream(scratch / name) << "not a png";
  }
  const Result unreadable = run(train_args(scratch / "bad", scratch / "run", 2));
  CHECK(unreadable.status == 1);
  CHECK(unreadable.err.find("no image could be read") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch / "run"));

  // A NaN loss before the first checkpoint: the log stays (it says what happened), run.json does not.
  const std::string data = make_data(scratch, "data", 2, 3);
  std::vector<std::string> args = train_args(data, scratch / "run", 50);
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--lr" || args[i] == "--lr-d") args[i + 1] = "1e38";
    if (args[i] == "--checkpoint-every") args[i + 1] = "1000";
  }
  const Result nan = run(args);
  CHECK(nan.status == 1);
  REQUIRE_MESSAGE(nan.err.find("no checkpoint was written yet") != std::string::npos, describe(nan));
  CHECK_FALSE(fs::exists(scratch / "run/run.json"));
  std::vector<std::string> resume = train_args(data, scratch / "run", 2);
  resume.push_back("--resume");
  const Result no_checkpoint = run(resume);
  CHECK(no_checkpoint.status == 1);
  CHECK(no_checkpoint.err.find("that run never wrote one: start it again without --resume") != std::string::npos);
  const Result fresh = run(train_args(data, scratch / "run", 2));
  REQUIRE_MESSAGE(fresh.status == 0, describe(fresh));
  CHECK(lines_of(scratch / "run/log.jsonl").size() == 2);  // the fresh run's two steps, not the failed run's lines
  CHECK(fs::exists(scratch / "run/run.json"));

  // A flat folder names --fixed-class; a model the options cannot build names the options.
  write_image(scratch / "flat/a.png", 80, 70);
  const Result flat = run(train_args(scratch / "flat", scratch / "run_flat", 1));
  CHECK(flat.status == 1);
  CHECK(flat.err.find("--fixed-class") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch / "run_flat"));
  const Result threads = run([&] {
    std::vector<std::string> a = train_args(data, scratch / "run_t0", 1);
    a.insert(a.end(), {"--threads", "0"});
    return a;
  }());
  CHECK_MESSAGE(threads.status == 0, describe(threads));
}

TEST_CASE("cli train: Ctrl-C saves a checkpoint and exits with 130") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 3);
  std::vector<std::string> args = train_args(data, scratch / "run", 100000);
  std::string command = quote(BIGCOLOR_CLI_PATH);
  for (const std::string& a : args) {
    command += ' ';
    command += quote(a);
  }
  command += " 2>";
  command += quote(scratch / "err.txt");
  const std::string shell_line = "exec " + command;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", shell_line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until it has trained a few steps, then interrupt it like a terminal's Ctrl-C.
  for (int i = 0; i < 600 && lines_of(scratch / "run/log.jsonl").size() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(child, SIGINT);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string err = read_text(scratch / "err.txt");
  CHECK_MESSAGE(err.find("interrupted at step") != std::string::npos, err);
  const SafetensorsFile ckpt = load_safetensors(scratch / "run/checkpoints/latest.safetensors");
  CHECK(ckpt.metadata.count("bigcolor.progress") == 1);
}

TEST_CASE("cli train: --init-g and --init-d load BigGAN state dicts (G without DGP's unused in1/in2)") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 2, 2);
  ColorizerConfig config;
  config.biggan.G_ch = config.biggan.D_ch = config.encoder_ch = 4;
  config.biggan.n_classes = 10;
  Colorizer eg(config);
  Discriminator d(config.biggan);
  Rng rng(9);
  std::map<std::string, Tensor> g_file, d_file;
  for (const auto& s : eg.G.state()) {
    if (s.name.find(".in1.") != std::string::npos || s.name.find(".in2.") != std::string::npos) continue;
    Tensor t = test::random_normal(s.tensor.shape(), rng);
    if (s.name.find("stored_var") != std::string::npos) t.fill(1.0f);
    g_file[s.name] = t;
  }
  for (const auto& s : d.state()) d_file[s.name] = test::random_normal(s.tensor.shape(), rng);
  save_safetensors(scratch / "G.safetensors", g_file);
  save_safetensors(scratch / "D.safetensors", d_file);

  std::vector<std::string> args = train_args(data, scratch / "run", 1);
  args.insert(args.end(), {"--init-g", scratch / "G.safetensors", "--init-d", scratch / "D.safetensors"});
  const Result r = run(args);
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(r.err.find("kept at their initial values") != std::string::npos);
  // G.linear is never trained by the colorizer: it must still hold the file's values.
  const SafetensorsFile ckpt = load_safetensors(scratch / "run/checkpoints/latest.safetensors");
  CHECK(test::compare(ckpt.at("EG.G.linear.weight"), g_file.at("linear.weight")).max_abs_error == 0.0);

  // A D file with a wrong shape is refused, naming the key.
  d_file["linear.weight"] = Tensor::zeros({1, 3});
  save_safetensors(scratch / "D_bad.safetensors", d_file);
  std::vector<std::string> bad = train_args(data, scratch / "run_bad", 1);
  bad.insert(bad.end(), {"--init-d", scratch / "D_bad.safetensors"});
  const Result refused = run(bad);
  CHECK(refused.status == 1);
  CHECK_MESSAGE(refused.err.find("linear.weight") != std::string::npos, refused.err);
}

TEST_CASE("cli train --precision bf16 and fp16: a resumed run equals an uninterrupted one, loss scale included") {
  Scratch scratch;
  const std::string data = make_data(scratch, "data", 3, 3);
  // fp16 from a loss scale of 2^40: the first steps' gradients overflow fp16, so they are skipped and the scale
  // halves; the resumed run must continue from the saved scale and skip count.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--precision", "bf16"},
        std::vector<std::string>{"--precision", "fp16", "--loss-scale", "1099511627776", "--loss-scale-interval", "3"}}) {
    const std::string name = extra[1];
    CAPTURE(name);
    const auto args = [&](const std::string& out, int steps) {
      std::vector<std::string> a = train_args(data, scratch / (name + out), steps);
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    const Result straight = run(args("straight", 4));
    REQUIRE_MESSAGE(straight.status == 0, describe(straight));
    const Result first = run(args("resumed", 2));
    REQUIRE_MESSAGE(first.status == 0, describe(first));
    std::vector<std::string> resume = args("resumed", 4);
    resume.push_back("--resume");
    const Result second = run(resume);
    REQUIRE_MESSAGE(second.status == 0, describe(second));
    const SafetensorsFile a = load_safetensors(scratch / (name + "straight/checkpoints/latest.safetensors"));
    const SafetensorsFile b = load_safetensors(scratch / (name + "resumed/checkpoints/latest.safetensors"));
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (const auto& [key, tensor] : a.tensors) {
      INFO(key);
      CHECK(test::compare(b.at(key), tensor).max_abs_error == 0.0);
    }
    const std::vector<std::string> x = lines_of(scratch / (name + "straight/log.jsonl"));
    const std::vector<std::string> y = lines_of(scratch / (name + "resumed/log.jsonl"));
    REQUIRE(x.size() == 4);
    REQUIRE(y.size() == 4);
    for (std::size_t step = 0; step < 4; ++step) {
      const auto u = nlohmann::json::parse(x[step]), v = nlohmann::json::parse(y[step]);
      for (const char* key : {"loss_d", "loss_g", "mse", "lpips"}) CHECK_MESSAGE(u.at(key) == v.at(key), key);
      if (name == "fp16") {
        CHECK(u.at("loss_scale") == v.at("loss_scale"));
        CHECK(u.at("skipped_steps") == v.at("skipped_steps"));
      } else {
        CHECK_FALSE(u.contains("loss_scale"));
      }
    }
    if (name == "fp16") {  // 2^40 overflowed at first: steps were skipped and the scale came down
      const auto last = nlohmann::json::parse(x[3]);
      MESSAGE("fp16 log: ", x[0], " ... ", x[3]);
      CHECK(last.at("skipped_steps").get<int>() > 0);
      CHECK(last.at("loss_scale").get<double>() < 1099511627776.0);
    }
  }
}
