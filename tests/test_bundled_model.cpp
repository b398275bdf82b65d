// The model that ships in weights/ and how `bigcolor colorize` picks its weights without --ckpt
// (cli/default_model.h): SHA-256 against FIPS 180-4's examples; a manifest whose file is intact, truncated,
// corrupt or missing; the official release winning when it is present; a one-class model needing no --class; and
// the shipped file itself (its size, digest and storage dtype as the manifest says).
#include <doctest/doctest.h>

#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "kernels/precision.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tensor/sha256.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;

namespace {

std::string weights_dir() { return (fs::path(test::golden_path("")) / ".." / ".." / "weights").lexically_normal().string(); }

// A manifest beside `weights` naming it, with its true size and digest unless told otherwise.
void write_manifest(const std::string& dir, const std::string& file, std::uintmax_t bytes, const std::string& sha) {
  std::ofstream(fs::path(dir) / "bigcolor-small.json")
      << nlohmann::json{{"file", file}, {"bytes", bytes}, {"sha256", sha}}.dump();
}

// A one-class reduced-width model, as `bigcolor train` exports it (two steps on a few pictures).
std::string train_one_class_model(const Scratch& s) {
  write_image_folder(s / "data", 1, 4);
  const Result r = run({"train", "--data", s / "data/class0", "--fixed-class", "0", "--n-classes", "1", "--out",
                        s / "run", "--coef-lpips", "0", "--width", "4", "--image-size", "64", "--batch", "2",
                        "--max-steps", "2", "--sample-every", "0", "--device", "cpu", "-q"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  return s / "run/ema.safetensors";
}

}  // namespace

TEST_CASE("bundled model: SHA-256 gives FIPS 180-4's digests, for strings and files alike") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Scratch s;
  std::string big;  // 2.5 MiB: several of the file reader's 1 MiB chunks, and a last partial block
  for (int i = 0; i < (5 << 19) + 13; ++i) big += static_cast<char>((i * 131) ^ (i >> 7));
  std::ofstream(s / "big.bin", std::ios::binary) << big;
  CHECK(sha256_file_hex(s / "big.bin") == sha256_hex(big));
  CHECK_THROWS_WITH_AS(sha256_file_hex(s / "absent.bin"), doctest::Contains("absent.bin: cannot be opened"), Error);
}

TEST_CASE("bundled model: colorize without --ckpt checks the manifest and needs no class for a one-class model") {
  Scratch s;
  const std::string model = train_one_class_model(s);
  fs::create_directories(s / "weights");
  fs::copy_file(model, s / "weights/small.safetensors");
  const std::string bytes = read_text(model);
  write_image(s / "photo.png", 64, 48, 1, 3);
  const std::string env = "cd " + quote(s / "") + " && BIGCOLOR_WEIGHTS_DIR=" + quote(s / "weights");

  write_manifest(s / "weights", "small.safetensors", bytes.size(), sha256_hex(bytes));
  const Result ok = run_with(env, {"colorize", "photo.png", "--size", "64"});
  REQUIRE_MESSAGE(ok.status == 0, describe(ok));
  CHECK(ok.err.find("using the small bundled model") != std::string::npos);
  CHECK(ok.err.find("small.safetensors") != std::string::npos);
  CHECK(fs::exists(s / "results/photo_c000.jpg"));  // -o defaults to results/, the one class is class 0

  // A flipped byte, a truncated copy, a missing file: one line naming the file, exit 1, nothing written.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
  std::ofstream(s / "weights/small.safetensors", std::ios::binary | std::ios::trunc) << flipped;
  const Result corrupt = run_with(env, {"colorize", "photo.png", "--size", "64", "-o", s / "bad1"});
  CHECK(corrupt.status == 1);
  CHECK(corrupt.err_lines().size() == 1);
  CHECK(corrupt.err.find("small.safetensors: SHA-256") != std::string::npos);
  CHECK(corrupt.err.find("corrupt") != std::string::npos);
  std::ofstream(s / "weights/small.safetensors", std::ios::binary | std::ios::trunc) << bytes.substr(0, 1000);
  const Result truncated = run_with(env, {"colorize", "photo.png", "--size", "64", "-o", s / "bad2"});
  CHECK(truncated.status == 1);
  CHECK(truncated.err.find("1000 bytes where its manifest says " + std::to_string(bytes.size())) != std::string::npos);
  fs::remove(s / "weights/small.safetensors");
  const Result missing = run_with(env, {"colorize", "photo.png", "--size", "64", "-o", s / "bad3"});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("small.safetensors: missing (named by") != std::string::npos);
  CHECK_FALSE(fs::exists(s / "bad1"));
  CHECK_FALSE(fs::exists(s / "bad2"));
  CHECK_FALSE(fs::exists(s / "bad3"));

  // The official release in ./ckpts/bigcolor wins over the bundled model (and its classes must then be chosen).
  fs::create_directories(s / "ckpts");
  fs::copy(test::golden_path("official_tiny"), s / "ckpts/bigcolor", fs::copy_options::recursive);
  const Result no_class = run_with(env, {"colorize", "photo.png", "--size", "32", "-o", s / "official"});
  CHECK(no_class.status == 2);
  CHECK(no_class.err.find("colorize needs --class") != std::string::npos);
  const Result official = run_with(env, {"colorize", "photo.png", "--size", "32", "--class", "1", "-o", s / "official"});
  REQUIRE_MESSAGE(official.status == 0, describe(official));
  CHECK(official.err.find("using the official BigColor release in ckpts/bigcolor") != std::string::npos);
  CHECK(fs::exists(s / "official/photo_c001.jpg"));
}

TEST_CASE("bundled model: the file in weights/ matches its manifest and colorizes a photo") {
  const std::string manifest = weights_dir() + "/bigcolor-small.json";
  REQUIRE_MESSAGE(fs::exists(manifest), manifest, " is missing");
  const nlohmann::json m = nlohmann::json::parse(read_text(manifest));
  const std::string file = weights_dir() + "/" + m.at("file").get<std::string>();
  CHECK(fs::file_size(file) == m.at("bytes").get<std::uintmax_t>());
  CHECK(fs::file_size(file) < 50u * 1024 * 1024);
  CHECK(sha256_file_hex(file) == m.at("sha256").get<std::string>());
  for (const char* key : {"training", "data", "heldout"}) CHECK_MESSAGE(m.contains(key), key);
  // The manifest's storage (convert --storage) is what every tensor in the file is.
  const std::optional<Precision> storage = parse_precision(m.value("storage", std::string("fp32")));
  REQUIRE_MESSAGE(storage.has_value(), "unknown storage ", m.value("storage", std::string()));
  const DType want = operand_dtype(*storage);
  const SafetensorsFile weights = load_safetensors(file);
  CHECK(weights.tensors.size() > 100);
  for (const auto& [name, t] : weights.tensors) CHECK_MESSAGE(t.dtype() == want, name, " is ", t.describe());
  Scratch s;
  write_image(s / "photo.png", 96, 80, 1, 5);
  const Result r = run_with("cd " + quote(s / "") + " && BIGCOLOR_WEIGHTS_DIR=" + quote(weights_dir()),
                            {"colorize", "photo.png"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(fs::exists(s / "results/photo_c000.jpg"));
  // At its training size (the manifest's image_size 128: short side 128, long side a multiple of 16).
  CHECK_MESSAGE(r.err.find("96x80 -> 160x128") != std::string::npos, r.err);
}
