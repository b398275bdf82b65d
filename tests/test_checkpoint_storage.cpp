// Colorizer files whose weights are stored as BF16 or F16 (models/checkpoint.h save_colorizer's `storage`, and
// `bigcolor convert --storage`): what the bundled model ships as (issue 15). On the tiny official checkpoint:
// every stored value is the F32 weight rounded to the format (to nearest, ties to even), loading widens it back
// exactly, and the loaded model's output is bit for bit that of the F32 model with its weights rounded the same way
// (so it computes in F32); a weight beyond F16's range is refused naming the file and the tensor, and nothing is
// written. The CLI case converts a folder and one of our files, and refuses what does not apply.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "cli_test_util.h"
#include "kernels/ops.h"
#include "models/checkpoint.h"
#include "tensor/error.h"
#include "tensor/half.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace bigcolor;
namespace fs = std::filesystem;

namespace {

std::string tiny() { return test::golden_path("official_tiny"); }

// t (F32) with every value rounded to `format` and widened back, by tensor/half.h's scalar rules.
std::vector<float> rounded(const Tensor& t, DType format) {
  std::vector<float> v = t.to_vector();
  for (float& x : v) x = float_from_16bit(float_to_16bit(x, format == DType::BF16), format == DType::BF16);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::size_t data_bytes(const SafetensorsFile& file) {
  std::size_t bytes = 0;
  for (const auto& [name, t] : file.tensors) bytes += t.nbytes();
  return bytes;
}

}  // namespace

TEST_SUITE("checkpoint") {

TEST_CASE("our format: weights stored as BF16 or F16 are the rounded F32 weights, widened exactly on loading") {
  const auto eg = load_official_colorizer(find_official_checkpoint(tiny()), /*use_ema=*/true);
  eg->set_grad_enabled(false);
  test::TempFolder tmp("bigcolor_storage_test_");
  const std::string f32_path = (tmp.path() / "f32.safetensors").string();
  save_colorizer(f32_path, *eg);
  const std::size_t f32_bytes = data_bytes(load_safetensors(f32_path));

  const SafetensorsFile inputs = load_safetensors(test::golden_path("colorizer_parity.safetensors"));
  const Tensor& photo = inputs.at("x");  // (2, 1, 32, 48), with classes (2,) I32 and z (2, 119)
  const Tensor& classes = inputs.at("classes");
  const Tensor& z = inputs.at("z");

  for (const DType format : {DType::BF16, DType::F16}) {
    INFO(dtype_name(format));
    const std::string path = (tmp.path() / (std::string(dtype_name(format)) + ".safetensors")).string();
    save_colorizer(path, *eg, format);
    const SafetensorsFile file = load_safetensors(path);
    for (const auto& [name, t] : file.tensors) CHECK_MESSAGE(t.dtype() == format, name);
    CHECK(2 * data_bytes(file) == f32_bytes);

    const auto back = load_colorizer(path);
    const auto a = eg->state(), b = back->state();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].name);
      CHECK(b[i].tensor.dtype() == DType::F32);
      CHECK(same_bits(b[i].tensor.to_vector(), rounded(a[i].tensor, format)));
    }
    // The F32 model with its weights rounded in place computes exactly what the loaded one does.
    const auto reference = load_official_colorizer(find_official_checkpoint(tiny()), /*use_ema=*/true);
    for (const auto& s : reference->state()) ops::round_to(s.tensor, s.tensor, format);
    reference->set_grad_enabled(false);
    back->set_grad_enabled(false);
    CHECK(same_bits(back->forward(photo, classes, z).to_vector(),
                    reference->forward(photo, classes, z).to_vector()));
    // ... and differs from the unrounded model (else the test above proves nothing).
    CHECK_FALSE(same_bits(back->forward(photo, classes, z).to_vector(), eg->forward(photo, classes, z).to_vector()));
  }
}

TEST_CASE("our format: a weight beyond F16's range is refused, nothing is written; other storages are refused") {
  const auto eg = load_official_colorizer(find_official_checkpoint(tiny()), /*use_ema=*/false);
  test::TempFolder tmp("bigcolor_storage_test_");
  const std::string path = (tmp.path() / "f16.safetensors").string();
  save_colorizer(path, *eg, DType::F32);
  const std::string before = test::cli::read_text(path);
  const Tensor var = eg->state()[0].tensor;
  std::vector<float> v = var.to_vector();
  v[1] = 69632.0f;  // 1.0625 * 2^16: a BF16 value, past F16's largest (65504)
  var.copy_from(Tensor::from_vector(v, var.shape()));
  const std::string message =
      path + ": tensor '" + eg->state()[0].name + "' holds 69632 (element 1), beyond F16's range";
  CHECK_THROWS_WITH_AS(save_colorizer(path, *eg, DType::F16), doctest::Contains(message.c_str()), Error);
  CHECK(test::cli::read_text(path) == before);  // the F32 file stays as it was
  save_colorizer(path, *eg, DType::BF16);       // BF16 has F32's range
  CHECK(load_colorizer(path)->state()[0].tensor.to_vector()[1] == 69632.0f);
  CHECK_THROWS_WITH_AS(save_colorizer(path, *eg, DType::I32), doctest::Contains("storage I32"), Error);
}

}  // TEST_SUITE

TEST_CASE("cli: convert --storage bf16 from a folder and from our file; what does not apply is refused") {
  using namespace bigcolor::test::cli;
  Scratch s;
  const Result folder = run({"convert", "--ckpt", tiny(), "-o", s / "bf16.safetensors", "--storage", "bf16"});
  REQUIRE_MESSAGE(folder.status == 0, describe(folder));
  CHECK(folder.err.find("EMA weights of epoch 0") != std::string::npos);
  CHECK(folder.err.find("stored as bf16") != std::string::npos);
  REQUIRE(run({"convert", "--ckpt", tiny(), "-o", s / "f32.safetensors", "--quiet"}).status == 0);
  const Result file = run({"convert", "--ckpt", s / "f32.safetensors", "-o", s / "again.safetensors", "--storage",
                           "bf16"});
  REQUIRE_MESSAGE(file.status == 0, describe(file));
  CHECK(read_text(s / "again.safetensors") == read_text(s / "bf16.safetensors"));
  CHECK(fs::file_size(s / "bf16.safetensors") < fs::file_size(s / "f32.safetensors"));
  const Result fp16 = run({"convert", "--ckpt", s / "f32.safetensors", "-o", s / "fp16.safetensors", "--storage",
                           "fp16", "--quiet"});
  REQUIRE_MESSAGE(fp16.status == 0, describe(fp16));
  CHECK(load_safetensors(s / "fp16.safetensors").at("G.linear.weight").dtype() == DType::F16);

  const Result in_place = run({"convert", "--ckpt", s / "f32.safetensors", "-o", s / "f32.safetensors",
                               "--overwrite", "--storage", "bf16"});
  CHECK(in_place.status == 1);
  CHECK(in_place.err.find("is the file being converted") != std::string::npos);
  const Result epoch = run({"convert", "--ckpt", s / "f32.safetensors", "-o", s / "x.safetensors", "--epoch", "0"});
  CHECK(epoch.status == 1);
  CHECK(epoch.err.find("apply to a folder only") != std::string::npos);
  const Result other = run({"convert", "--ckpt", tiny() + "/args.pkl", "-o", s / "x.safetensors"});
  CHECK(other.status == 1);
  CHECK(other.err.find("or one of our .safetensors files") != std::string::npos);
  CHECK(run({"convert", "--ckpt", tiny(), "-o", s / "x.safetensors", "--storage", "int8"}).status == 2);
  CHECK_FALSE(fs::exists(s / "x.safetensors"));
}
