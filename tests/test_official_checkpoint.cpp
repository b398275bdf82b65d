// Official checkpoints and model parity (src/models/checkpoint.h).
//
// tests/golden/official_tiny/ is a reduced-width BigColor colorizer in the official file formats (EG_000.ckpt,
// EG_EMA_000.ckpt, args.pkl, config.pickle), and tests/golden/colorizer_parity.safetensors what it computes in eval
// mode, with raw and with EMA weights, forward and forward_with_c with a mixed class embedding; both are written by
// tools/make_golden_colorizer.py from a PyTorch mirror that is checked bit for bit against the official code.
// tests/golden/bigcolor_full_manifest.json lists the FULL-width official colorizer's parameters() and state_dict.
// Whole-model outputs are held to the project's bar for a model: normalized error <= 1e-4 (never widen it).
//
// Bad inputs are made at run time in a temporary folder (copies of the golden files, modified state dicts written
// with save_safetensors) or come from tests/golden/official_tiny_variants/ (pickles with unsupported values).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/torch_file.h"
#include "models/checkpoint.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace bigcolor;
namespace fs = std::filesystem;

namespace {

constexpr double kModelTolerance = 1e-4;  // the project's bar for a whole model: never widen it

std::string tiny_dir() { return test::golden_path("official_tiny"); }
std::string variant(const std::string& name) { return test::golden_path("official_tiny_variants/" + name); }

const SafetensorsFile& parity() {
  static const SafetensorsFile file = load_safetensors(test::golden_path("colorizer_parity.safetensors"));
  return file;
}

float parity_float(const std::string& key) {
  const auto it = parity().metadata.find(key);
  if (it == parity().metadata.end()) throw Error("colorizer_parity.safetensors: no metadata " + key);
  return std::stof(it->second);
}

// A fresh folder under the system's temporary folder, removed with everything in it at the end of the scope.
class TempDir {
 public:
  fs::path operator/(const std::string& name) const { return folder_.path() / name; }
  std::string str() const { return folder_.path().string(); }
  // Copies golden files of official_tiny into `sub` (created).
  fs::path with(const std::string& sub, const std::vector<std::string>& names) const {
    const fs::path dir = folder_.path() / sub;
    fs::create_directories(dir);
    for (const std::string& name : names) fs::copy_file(fs::path(tiny_dir()) / name, dir / name);
    return dir;
  }

 private:
  test::TempFolder folder_{"bigcolor_ckpt_test_"};
};

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ha = a.to(Device::CPU), hb = b.to(Device::CPU);
  return std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

NamedTensors tiny_state() {
  const TorchFile file = load_torch_state(tiny_dir() + "/EG_000.ckpt");
  return state_dict_tensors(file.root(), file.path);
}

std::map<std::string, Tensor> as_map(const NamedTensors& tensors) {
  return std::map<std::string, Tensor>(tensors.begin(), tensors.end());
}

// c_scale * (mix_a * shared(a) + mix_b * shared(b)) + c_bias, in the order PyTorch evaluates it (each step rounded
// to float32), from the loaded model's class embedding.
Tensor mixed_embedding(Colorizer& eg) {
  const float mix_a = parity_float("mix_a"), mix_b = parity_float("mix_b");
  const float c_scale = parity_float("c_scale"), c_bias = parity_float("c_bias");
  const std::vector<float> a = eg.G.shared.forward(parity().at("mix.classes_a")).to_vector();
  const Tensor sb = eg.G.shared.forward(parity().at("mix.classes_b"));
  const std::vector<float> b = sb.to_vector();
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float sum = mix_a * a[i] + mix_b * b[i];
    out[i] = c_scale * sum + c_bias;
  }
  return Tensor::from_vector(out, sb.shape());
}

// Every recorded output of one set of weights ("raw" or "ema").
void check_parity(Colorizer& eg, const std::string& weights) {
  eg.set_training(false);
  eg.set_grad_enabled(false);
  const Tensor& x = parity().at("x");
  const Tensor& classes = parity().at("classes");
  const Tensor& z = parity().at("z");
  test::check_close(eg.forward(x, classes, z), parity().at(weights + ".out"), kModelTolerance,
                    weights + ": EG(x, c, z)");
  test::check_close(eg.E.forward(x, eg.G.shared.forward(classes)), parity().at(weights + ".features"),
                    kModelTolerance, weights + ": E(x, shared(c))");
  const Tensor c_embed = mixed_embedding(eg);
  test::check_close(c_embed, parity().at(weights + ".c_embed"), 1e-6, weights + ": mixed class embedding");
  test::check_close(eg.forward_with_c(x, c_embed, z), parity().at(weights + ".out_with_c"), kModelTolerance,
                    weights + ": EG.forward_with_c(x, c_embed, z)");
}

}  // namespace

TEST_SUITE("checkpoint") {

TEST_CASE("official tiny checkpoint: raw weights reproduce the official outputs") {
  const OfficialCheckpoint ck = find_official_checkpoint(tiny_dir());
  CHECK(ck.epoch == 0);
  CHECK(fs::path(ck.eg_path).filename() == "EG_000.ckpt");
  CHECK(fs::path(ck.ema_path).filename() == "EG_EMA_000.ckpt");
  CHECK(fs::path(ck.args_path).filename() == "args.pkl");
  CHECK(fs::path(ck.config_path).filename() == "config.pickle");
  const auto eg = load_official_colorizer(ck, /*use_ema=*/false);
  CHECK_FALSE(eg->training());
  const ColorizerConfig& c = eg->config();
  CHECK(c.biggan.G_ch == 2);
  CHECK(c.biggan.D_ch == 2);
  CHECK(c.biggan.n_classes == 10);
  CHECK(c.biggan.dim_z == 120);
  CHECK(c.biggan.effective_dim_z() == 119);
  CHECK(c.biggan.shared_dim == 128);
  CHECK(c.biggan.G_attn == 64);
  CHECK(c.biggan.D_attn == 64);
  CHECK(c.biggan.BN_eps == 1e-5f);
  CHECK(c.biggan.SN_eps == 1e-6f);
  CHECK(c.encoder_ch == 2);
  CHECK(c.id_mid_layer == 2);
  // Every tensor of the file is in the model, bit for bit.
  const std::map<std::string, Tensor> file = as_map(tiny_state());
  const auto state = eg->state();
  CHECK(state.size() == file.size());
  for (const auto& s : state) {
    INFO(s.name);
    REQUIRE(file.count(s.name) == 1);
    CHECK(bit_equal(s.tensor, file.at(s.name)));
  }
  check_parity(*eg, "raw");
}

TEST_CASE("official tiny checkpoint: EMA weights (torch_ema shadow_params) reproduce the official outputs") {
  const OfficialCheckpoint ck = find_official_checkpoint(tiny_dir());
  const auto eg = load_official_colorizer(ck, /*use_ema=*/true);
  check_parity(*eg, "ema");

  // Parameters come from the shadows (trainable ones, in parameters() order); frozen parameters and all buffers
  // stay as in EG_000.ckpt.
  const TorchFile ema = load_torch_state(ck.ema_path);
  CHECK(ema.get_float("decay") == doctest::Approx(0.999));
  const std::vector<Tensor> shadows = tensor_list(ema.at("shadow_params"), ema.path);
  const std::map<std::string, Tensor> raw = as_map(tiny_state());
  std::size_t next = 0, frozen = 0;
  for (const auto& p : eg->parameters()) {
    INFO(p.name);
    if (p.parameter->trainable) {
      REQUIRE(next < shadows.size());
      CHECK(bit_equal(p.parameter->value, shadows[next++]));
    } else {
      ++frozen;
      CHECK(p.name.find(".in") != std::string::npos);
      CHECK(bit_equal(p.parameter->value, raw.at(p.name)));
    }
  }
  CHECK(next == shadows.size());
  CHECK(frozen == 24);  // in1/in2 weight and bias of six GBlocks
  for (const auto& s : eg->state())
    if (s.is_buffer) {
      INFO(s.name);
      CHECK(bit_equal(s.tensor, raw.at(s.name)));
    }
}

TEST_CASE("EMA: a shadow list of every parameter (torch_ema 0.3) maps one to one") {
  const OfficialCheckpoint ck = find_official_checkpoint(tiny_dir());
  const auto with_trainable_list = load_official_colorizer(ck, /*use_ema=*/true);
  const auto eg = load_official_colorizer(ck, /*use_ema=*/false);
  // The list torch_ema 0.3 would hold: a shadow of every parameter, frozen ones equal to their values.
  std::vector<Tensor> all;
  const TorchFile ema = load_torch_state(ck.ema_path);
  const std::vector<Tensor> trainable = tensor_list(ema.at("shadow_params"), ema.path);
  std::size_t next = 0;
  for (const auto& p : eg->parameters()) {
    if (p.parameter->trainable) {
      all.push_back(trainable[next++]);
    } else {
      Tensor frozen = p.parameter->value.clone();
      frozen.fill(0.25f);  // distinguishable: torch_ema 0.3 copies every shadow, frozen ones included
      all.push_back(frozen);
    }
  }
  REQUIRE(all.size() == eg->parameters().size());
  apply_ema_shadows(*eg, all, "all-parameters list");
  const auto a = eg->parameters(), b = with_trainable_list->parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    if (a[i].parameter->trainable)
      CHECK(bit_equal(a[i].parameter->value, b[i].parameter->value));
    else
      CHECK(a[i].parameter->value.to_vector() == std::vector<float>(a[i].parameter->value.numel(), 0.25f));
  }
  check_parity(*eg, "ema");  // in1/in2 are never computed with
}

TEST_CASE("full-width colorizer: parameters() and state() equal the official manifest exactly") {
  std::ifstream in(test::golden_path("bigcolor_full_manifest.json"));
  REQUIRE(in.good());
  const nlohmann::json manifest = nlohmann::json::parse(in);
  Colorizer eg{ColorizerConfig{}};
  const auto params = eg.parameters();
  const auto& want_params = manifest.at("parameters");
  CHECK(params.size() == want_params.size());
  std::size_t elements = 0;
  for (std::size_t i = 0; i < std::min(params.size(), want_params.size()); ++i) {
    const std::string name = want_params[i].at(0).get<std::string>();
    const Shape shape = want_params[i].at(1).get<Shape>();
    const bool trainable = want_params[i].at(2).get<bool>();
    INFO("parameter ", i, ": ", params[i].name, " ", shape_string(params[i].parameter->value.shape()),
         " vs official ", name, " ", shape_string(shape));
    REQUIRE(params[i].name == name);
    CHECK(params[i].parameter->value.shape() == shape);
    CHECK(params[i].parameter->trainable == trainable);
    elements += static_cast<std::size_t>(params[i].parameter->value.numel());
  }
  CHECK(elements == manifest.at("num_elements").get<std::size_t>());
  const auto state = eg.state();
  const auto& want_state = manifest.at("state");
  CHECK(state.size() == want_state.size());
  for (std::size_t i = 0; i < std::min(state.size(), want_state.size()); ++i) {
    const std::string name = want_state[i].at(0).get<std::string>();
    const Shape shape = want_state[i].at(1).get<Shape>();
    INFO("state ", i, ": ", state[i].name, " vs official ", name);
    REQUIRE(state[i].name == name);
    CHECK(state[i].tensor.shape() == shape);
  }
  // The defaults are BigColor's: what config_from_official makes of DGP's BigGAN-256 config.
  const nlohmann::json& c = manifest.at("config");
  CHECK(eg.config().biggan.G_ch == c.at("G_ch").get<std::int64_t>());
  CHECK(eg.config().biggan.n_classes == c.at("n_classes").get<std::int64_t>());
  CHECK(eg.config().biggan.dim_z == c.at("dim_z").get<std::int64_t>());
  CHECK(eg.config().encoder_ch == manifest.at("encoder_ch").get<std::int64_t>());
}

TEST_CASE("our safetensors format: save then load is bit-exact, config included") {
  const auto eg = load_official_colorizer(find_official_checkpoint(tiny_dir()), /*use_ema=*/true);
  TempDir tmp;
  const std::string path = (tmp / "eg.safetensors").string();
  save_colorizer(path, *eg);

  const SafetensorsFile file = load_safetensors(path);
  CHECK(file.metadata.at(kColorizerFormatKey) == "1");
  CHECK(file.metadata.at(kColorizerConfigKey) == colorizer_config_to_json(eg->config()));
  CHECK(file.tensors.size() == eg->state().size());

  const auto back = load_colorizer(path);
  CHECK_FALSE(back->training());
  CHECK(colorizer_config_to_json(back->config()) == colorizer_config_to_json(eg->config()));
  const auto a = eg->state(), b = back->state();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    CHECK(a[i].name == b[i].name);
    CHECK(bit_equal(a[i].tensor, b[i].tensor));
  }
  const auto pa = eg->parameters(), pb = back->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].parameter->trainable == pb[i].parameter->trainable);
  check_parity(*back, "ema");

  // The config round trip is exact for the defaults too (floats stored as their shortest decimal).
  const ColorizerConfig defaults;
  const ColorizerConfig parsed = colorizer_config_from_json(colorizer_config_to_json(defaults), "defaults");
  CHECK(parsed.biggan.BN_eps == defaults.biggan.BN_eps);
  CHECK(parsed.biggan.SN_eps == defaults.biggan.SN_eps);
  CHECK(parsed.encoder_dropout == defaults.encoder_dropout);
  CHECK(colorizer_config_to_json(parsed) == colorizer_config_to_json(defaults));
  CHECK(colorizer_config_to_json(defaults).find("\"SN_eps\":1e-06") != std::string::npos);

  // load_any_colorizer: our file, or an official folder (EMA weights by default, raw on request).
  check_parity(*load_any_colorizer(path), "ema");
  check_parity(*load_any_colorizer(tiny_dir()), "ema");
  ColorizerSource raw;
  raw.use_ema = false;
  check_parity(*load_any_colorizer(tiny_dir(), raw), "raw");
  CHECK(is_official_checkpoint_dir(tiny_dir()));
  CHECK_FALSE(is_official_checkpoint_dir(tmp.str()));
  CHECK_FALSE(is_official_checkpoint_dir(path));
  CHECK_THROWS_WITH_AS(load_any_colorizer(tmp.str()), doctest::Contains("not an official BigColor checkpoint folder"),
                       Error);
  CHECK_THROWS_WITH_AS(load_any_colorizer(tiny_dir() + "/EG_000.ckpt"), doctest::Contains("give the folder"), Error);
  CHECK_THROWS_WITH_AS(load_any_colorizer((tmp / "nothing.safetensors").string()),
                       doctest::Contains("does not exist"), Error);
}

TEST_CASE("finding the files: epochs, config.pickle in ../pretrained, and what is missing") {
  TempDir tmp;
  // The official layout: ckpts/bigcolor/{EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl} beside pretrained/config.pickle.
  const fs::path ckpts = tmp.with("ckpts/bigcolor", {"EG_000.ckpt", "EG_EMA_000.ckpt", "args.pkl"});
  const fs::path pretrained = tmp.with("pretrained", {"config.pickle"});
  OfficialCheckpoint ck = find_official_checkpoint(ckpts.string());
  CHECK(fs::equivalent(ck.config_path, pretrained / "config.pickle"));
  check_parity(*load_official_colorizer(ck, false), "raw");
  // ../pretrained (a folder beside the checkpoint folder) is looked at too.
  const fs::path flat = tmp.with("flat", {"EG_000.ckpt", "args.pkl"});
  CHECK(fs::equivalent(find_official_checkpoint(flat.string()).config_path, pretrained / "config.pickle"));
  fs::copy_file(pretrained / "config.pickle", tmp / "config_elsewhere.pickle");
  // The highest epoch wins; an epoch can be chosen; the EMA file goes with its epoch.
  fs::copy_file(ckpts / "EG_000.ckpt", ckpts / "EG_007.ckpt");
  ck = find_official_checkpoint(ckpts.string());
  CHECK(ck.epoch == 7);
  CHECK(fs::path(ck.eg_path).filename() == "EG_007.ckpt");
  CHECK(ck.ema_path.empty());
  CHECK_THROWS_WITH_AS(load_official_colorizer(ck, true), doctest::Contains("no EG_EMA file beside EG_007.ckpt"),
                       Error);
  ck = find_official_checkpoint(ckpts.string(), 0);
  CHECK(fs::path(ck.ema_path).filename() == "EG_EMA_000.ckpt");
  CHECK_THROWS_WITH_AS(find_official_checkpoint(ckpts.string(), 3),
                       doctest::Contains("no EG_003.ckpt for epoch 3 (epochs present: 0, 7)"), Error);
  // An explicit config.pickle path wins, and must exist.
  ck = find_official_checkpoint(flat.string(), std::nullopt, (tmp / "config_elsewhere.pickle").string());
  CHECK(ck.config_path == (tmp / "config_elsewhere.pickle").string());
  CHECK_THROWS_WITH_AS(find_official_checkpoint(flat.string(), std::nullopt, (tmp / "nope.pickle").string()),
                       doctest::Contains("nope.pickle' does not exist"), Error);
  // Missing config.pickle: every place looked is named.
  const fs::path lonely = tmp.with("a/b/lonely", {"EG_000.ckpt", "args.pkl"});
  try {
    find_official_checkpoint(lonely.string());
    FAIL("no error");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find("config.pickle (DGP's BigGAN config) not found") != std::string::npos);
    CHECK(message.find((lonely / "config.pickle").string()) != std::string::npos);
    CHECK(message.find((tmp / "a/b/pretrained/config.pickle").string()) != std::string::npos);
    CHECK(message.find((tmp / "a/pretrained/config.pickle").string()) != std::string::npos);
  }
  // Missing EG file, missing args.pkl, no folder at all.
  const fs::path no_eg = tmp.with("no_eg", {"EG_EMA_000.ckpt", "args.pkl", "config.pickle"});
  CHECK_THROWS_WITH_AS(find_official_checkpoint(no_eg.string()),
                       doctest::Contains((no_eg.string() + ": no EG_NNN.ckpt").c_str()), Error);
  const fs::path no_args = tmp.with("no_args", {"EG_000.ckpt", "EG_EMA_000.ckpt", "config.pickle"});
  CHECK_THROWS_WITH_AS(find_official_checkpoint(no_args.string()),
                       doctest::Contains((no_args.string() + ": args.pkl not found").c_str()), Error);
  CHECK_THROWS_WITH_AS(find_official_checkpoint((tmp / "absent").string()), doctest::Contains("does not exist"),
                       Error);
  CHECK_FALSE(is_official_checkpoint_dir(no_eg.string()));
}

TEST_CASE("strict state loading: the first missing, unexpected or misshapen key is named") {
  const std::string source = "EG_000.ckpt";
  auto fresh = [] { return load_official_colorizer(find_official_checkpoint(tiny_dir()), false); };
  const auto eg = fresh();
  const NamedTensors good = tiny_state();
  load_state(*eg, good, source);  // the unmodified state loads

  auto expect_refused = [&](const NamedTensors& tensors, const std::string& message) {
    const auto target = fresh();
    for (const auto& s : target->state()) s.tensor.fill(0.5f);  // any change by a refused load would show
    CHECK_THROWS_WITH_AS(load_state(*target, tensors, source), doctest::Contains(message.c_str()), Error);
    bool unchanged = true;
    for (const auto& s : target->state())
      for (float v : s.tensor.to_vector()) unchanged &= v == 0.5f;
    CHECK_MESSAGE(unchanged, "a refused load changed the model");
  };
  NamedTensors missing;
  for (const auto& [name, t] : good)
    if (name != "G.blocks.3.1.gamma" && name != "G.output_layer.2.u0") missing.emplace_back(name, t);
  expect_refused(missing, "EG_000.ckpt: missing key 'G.blocks.3.1.gamma' of shape (); 2 keys missing in all");

  NamedTensors extra = good;
  extra.insert(extra.begin() + 10, {"G.blocks.3.1.delta", Tensor::zeros({1})});
  extra.emplace_back("module.E.res1.conv.weight", Tensor::zeros({1}));
  expect_refused(extra, "EG_000.ckpt: unexpected key 'G.blocks.3.1.delta' (2 unexpected keys in all)");

  NamedTensors misshapen = good;
  for (auto& [name, t] : misshapen)
    if (name == "E.res2.conv_1.weight") t = Tensor::zeros({4, 2, 3, 4});
  expect_refused(misshapen, "EG_000.ckpt: key 'E.res2.conv_1.weight' has shape (4, 2, 3, 4), expected (4, 2, 3, 3)");

  NamedTensors twice = good;
  twice.push_back(good.front());
  expect_refused(twice, "key 'E.res1.conv.weight' appears twice");

  NamedTensors wrong_dtype = good;
  for (auto& [name, t] : wrong_dtype)
    if (name == "G.shared.weight") t = Tensor::zeros(t.shape(), DType::I32);
  expect_refused(wrong_dtype, "key 'G.shared.weight' is (10, 128) I32 cpu, expected F32");

  NamedTensors prefixed;  // a DataParallel-style state dict
  for (const auto& [name, t] : good) prefixed.emplace_back("module." + name, t);
  expect_refused(prefixed, "missing key 'E.res1.conv.weight' of shape (2, 1, 1, 1); 288 keys missing in all; 288 "
                           "unexpected, the first 'module.E.res1.conv.weight'");
}

TEST_CASE("our format: modified files are refused with the key and the file named") {
  const auto eg = load_official_colorizer(find_official_checkpoint(tiny_dir()), false);
  TempDir tmp;
  std::map<std::string, Tensor> tensors;
  for (const auto& s : eg->state()) tensors.emplace(s.name, s.tensor);
  const std::map<std::string, std::string> meta = {{kColorizerConfigKey, colorizer_config_to_json(eg->config())},
                                                   {kColorizerFormatKey, kColorizerFormatVersion}};
  auto refused = [&](const std::string& name, const std::map<std::string, Tensor>& t,
                     const std::map<std::string, std::string>& m, const std::string& message) {
    const std::string path = (tmp / name).string();
    save_safetensors(path, t, m);
    CHECK_THROWS_WITH_AS(load_colorizer(path), doctest::Contains((path + ": " + message).c_str()), Error);
  };
  auto without = [&](const std::string& key) {
    auto t = tensors;
    t.erase(key);
    return t;
  };
  refused("missing.safetensors", without("G.blocks.2.0.bn1.stored_var"), meta,
          "missing key 'G.blocks.2.0.bn1.stored_var'");
  auto extra = tensors;
  extra.emplace("G.blocks.9.0.conv1.weight", Tensor::zeros({2}));
  refused("extra.safetensors", extra, meta, "unexpected key 'G.blocks.9.0.conv1.weight'");
  auto misshapen = tensors;
  misshapen["G.linear.weight"] = Tensor::zeros({512, 16});
  refused("shape.safetensors", misshapen, meta, "key 'G.linear.weight' has shape (512, 16), expected (512, 17)");

  refused("no_config.safetensors", tensors, {{kColorizerFormatKey, "1"}}, "no 'bigcolor.config' metadata");
  refused("no_version.safetensors", tensors, {{kColorizerConfigKey, meta.at(kColorizerConfigKey)}},
          "not a bigcolor colorizer file");
  refused("version.safetensors", tensors,
          {{kColorizerConfigKey, meta.at(kColorizerConfigKey)}, {kColorizerFormatKey, "2"}},
          "colorizer format version '2' is not supported");
  refused("json.safetensors", tensors, {{kColorizerConfigKey, "{\"biggan\": "}, {kColorizerFormatKey, "1"}},
          "the configuration is not valid JSON");
  nlohmann::json config = nlohmann::json::parse(meta.at(kColorizerConfigKey));
  config["biggan"]["G_ch"] = 4;  // the tensors are G_ch 2's
  refused("unbuildable.safetensors", tensors, {{kColorizerConfigKey, config.dump()}, {kColorizerFormatKey, "1"}},
          "the stored configuration cannot be built: Colorizer: the encoder's 16 output channels do not match");
  config["encoder_ch"] = 4;
  refused("wrong_config.safetensors", tensors, {{kColorizerConfigKey, config.dump()}, {kColorizerFormatKey, "1"}},
          "key 'E.res1.conv.weight' has shape (2, 1, 1, 1), expected (4, 1, 1, 1)");
  config = nlohmann::json::parse(meta.at(kColorizerConfigKey));
  config["biggan"]["G_chh"] = 2;
  refused("unknown_key.safetensors", tensors, {{kColorizerConfigKey, config.dump()}, {kColorizerFormatKey, "1"}},
          "unknown configuration key 'biggan.G_chh'");
  config = nlohmann::json::parse(meta.at(kColorizerConfigKey));
  config.erase("encoder_ch");
  refused("missing_key.safetensors", tensors, {{kColorizerConfigKey, config.dump()}, {kColorizerFormatKey, "1"}},
          "configuration key 'encoder_ch' is missing");
  config = nlohmann::json::parse(meta.at(kColorizerConfigKey));
  config["biggan"]["n_classes"] = "10";
  refused("type.safetensors", tensors, {{kColorizerConfigKey, config.dump()}, {kColorizerFormatKey, "1"}},
          "configuration key 'biggan.n_classes' is not an integer");
}

TEST_CASE("EMA: a shadow list of the wrong length or shape is refused, nothing changes") {
  const OfficialCheckpoint ck = find_official_checkpoint(tiny_dir());
  const auto eg = load_official_colorizer(ck, false);
  const TorchFile ema = load_torch_state(ck.ema_path);
  std::vector<Tensor> shadows = tensor_list(ema.at("shadow_params"), ema.path);
  REQUIRE(shadows.size() == 122);

  std::vector<Tensor> short_list(shadows.begin(), shadows.end() - 1);
  CHECK_THROWS_WITH_AS(apply_ema_shadows(*eg, short_list, ck.ema_path),
                       doctest::Contains("EG_EMA_000.ckpt: shadow_params holds 121 tensors, but the model has 146 "
                                         "parameters, 122 of them trainable: expected 146"),
                       Error);
  std::vector<Tensor> misshapen = shadows;
  misshapen[7] = Tensor::zeros({3});
  std::string seventh;
  std::size_t k = 0;
  for (const auto& p : eg->parameters())
    if (p.parameter->trainable && k++ == 7) seventh = p.name;
  CHECK_THROWS_WITH_AS(apply_ema_shadows(*eg, misshapen, ck.ema_path),
                       doctest::Contains(("shadow_params[7] is (3) F32 cpu but parameter '" + seventh + "'").c_str()),
                       Error);
  check_parity(*eg, "raw");  // the refused lists changed nothing

  // apply_ema reads the list from the EMA file's root; other roots are refused.
  const TorchFile args = load_pickle_file(tiny_dir() + "/args.pkl");
  CHECK_THROWS_WITH_AS(apply_ema(*eg, args.root(), args.path), doctest::Contains("expected torch_ema's state dict"),
                       Error);
  const TorchFile state = load_torch_state(ck.eg_path);
  CHECK_THROWS_WITH_AS(apply_ema(*eg, state.root(), state.path), doctest::Contains("no entry 'shadow_params'"), Error);
  apply_ema(*eg, ema.root(), ema.path);
  check_parity(*eg, "ema");
}

TEST_CASE("configuration: unsupported args.pkl / config.pickle values and disagreeing shapes are refused") {
  const TorchFile config = load_pickle_file(tiny_dir() + "/config.pickle");
  const TorchFile args = load_pickle_file(tiny_dir() + "/args.pkl");
  CHECK(config.root().at("G_activation").class_name() == "torch.nn.modules.activation.ReLU");
  CHECK(args.root().class_name() == "argparse.Namespace");
  const ColorizerConfig good = config_from_official(config.root(), args.root(), config.path, args.path);
  CHECK(good.biggan.G_ch == 2);

  auto refused_args = [&](const std::string& file, const std::string& message) {
    const TorchFile bad = load_pickle_file(variant(file));
    CHECK_THROWS_WITH_AS(config_from_official(config.root(), bad.root(), config.path, bad.path),
                         doctest::Contains((variant(file) + ": " + message).c_str()), Error);
  };
  refused_args("args_norm_batch.pkl", "norm_type = 'batch' is not supported (BigColor's encoder uses: 'adabatch')");
  refused_args("args_use_attention.pkl", "use_attention = True is not supported");
  refused_args("args_dim_z_120.pkl", "dim_z = 120 does not match the generator's 119 (7 chunks of 17");
  const TorchFile norm_in = load_pickle_file(variant("config_norm_in.pickle"));
  CHECK_THROWS_WITH_AS(config_from_official(norm_in.root(), args.root(), norm_in.path, args.path),
                       doctest::Contains("config_norm_in.pickle: norm_style = 'in' is not supported"), Error);
  CHECK_THROWS_WITH_AS(config_from_official(args.root(), args.root(), args.path, args.path),
                       doctest::Contains("args.pkl: expected a dict (DGP's BigGAN config), found a"), Error);

  // Through the loader: an args.pkl with norm_type 'batch' beside the checkpoint.
  TempDir tmp;
  const fs::path dir = tmp.with("ck", {"EG_000.ckpt", "config.pickle"});
  fs::copy_file(variant("args_norm_batch.pkl"), dir / "args.pkl");
  CHECK_THROWS_WITH_AS(load_official_colorizer(find_official_checkpoint(dir.string()), false),
                       doctest::Contains("args.pkl: norm_type = 'batch' is not supported"), Error);

  // config.pickle says attention at 32x32 (after block 2); the checkpoint has it after block 3.
  OfficialCheckpoint ck = find_official_checkpoint(tiny_dir());
  ck.config_path = variant("config_attn_32.pickle");
  CHECK_THROWS_WITH_AS(load_official_colorizer(ck, false),
                       doctest::Contains("EG_000.ckpt: 'G.blocks.3.1.gamma': the checkpoint has self-attention after "
                                         "generator block 3 (64x64) but the configuration's G_attn is 32"),
                       Error);
  // A configuration of another width: the first mismatching key is named.
  const NamedTensors tensors = tiny_state();
  CHECK_THROWS_WITH_AS(verify_config_against_state(ColorizerConfig{}, tensors, "EG_000.ckpt"),
                       doctest::Contains("EG_000.ckpt: 'E.res1.conv.weight' has shape (2, 1, 1, 1) but the "
                                         "configuration (encoder width 96) needs (96, 1, 1, 1)"),
                       Error);
  ColorizerConfig wide_z = good;
  wide_z.biggan.dim_z = 127;  // chunks of 18
  CHECK_THROWS_WITH_AS(verify_config_against_state(wide_z, tensors, "EG_000.ckpt"),
                       doctest::Contains("'G.linear.weight' has shape (512, 17) but the configuration (G_ch 2, z chunk "
                                         "18 = dim_z 127 // 7) needs (512, 18)"),
                       Error);
  ColorizerConfig no_attention = good;
  no_attention.biggan.G_attn = 0;
  CHECK_THROWS_WITH_AS(verify_config_against_state(no_attention, tensors, "EG_000.ckpt"),
                       doctest::Contains("'G.blocks.3.1.gamma': the checkpoint has self-attention"), Error);
  NamedTensors no_gamma;
  for (const auto& [name, t] : tensors)
    if (name.rfind("G.blocks.3.1.", 0) != 0) no_gamma.emplace_back(name, t);
  CHECK_THROWS_WITH_AS(verify_config_against_state(good, no_gamma, "EG_000.ckpt"),
                       doctest::Contains("no 'G.blocks.3.1.gamma': the configuration's G_attn 64 puts self-attention "
                                         "after generator block 3"),
                       Error);
  verify_config_against_state(good, tensors, "EG_000.ckpt");
}

}  // TEST_SUITE("checkpoint")

// The same parity on the GPU, placed as `colorize --device cuda` places the model (only what forward() uses moves).
TEST_SUITE("cuda" * doctest::skip(!cuda_available())) {
TEST_CASE("cuda official tiny checkpoint: raw and EMA weights reproduce the official outputs on the GPU") {
  for (const bool use_ema : {false, true}) {
    const std::string weights = use_ema ? "ema" : "raw";
    const auto eg = load_official_colorizer(find_official_checkpoint(tiny_dir()), use_ema);
    eg->place_for_inference(Device::CUDA);
    const Tensor x = parity().at("x").to(Device::CUDA);
    const Tensor classes = parity().at("classes").to(Device::CUDA);
    const Tensor z = parity().at("z").to(Device::CUDA);
    test::check_close(eg->forward(x, classes, z), parity().at(weights + ".out"), kModelTolerance,
                      "cuda " + weights + ": EG(x, c, z)");
    const Tensor c_embed = parity().at(weights + ".c_embed").to(Device::CUDA);
    test::check_close(eg->forward_with_c(x, c_embed, z), parity().at(weights + ".out_with_c"), kModelTolerance,
                      "cuda " + weights + ": EG.forward_with_c(x, c_embed, z)");
  }
}
}
