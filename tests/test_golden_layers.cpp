// Golden tests of the layers (src/layers/): every official BigColor layer, forward and backward, in training and in
// eval mode, against a PyTorch mirror of the official modules (tests/golden/layers_<case>.safetensors, written by
// tools/make_golden_layers.py; see its header for the file layout and how to regenerate).
//
// For every file and both modes, a fresh C++ layer is built with the file's sizes, then:
//   1. its parameters() names (and trainable flags) must equal PyTorch's parameters() order, and its state() names
//      (in order) and shapes must equal the file's state_dict exactly: no missing, extra or reordered key;
//   2. the `before.` state is copied into state(), the mode is set, gradients are zeroed;
//   3. forward on the recorded inputs (ResConvBlock in training: with the recorded dropout mask) -> `out`;
//   4. backward of the recorded `d_out` -> every input gradient `d_<input>` and every trainable parameter's
//      `grad.<name>`; frozen parameters (GBlock's in1/in2) must have no gradient tensor; a gradient that is exactly zero
//      in exact arithmetic (listed in `<mode>.zero_grads`) must be below 1e-5 of the named scale gradient;
//   5. every buffer against `after.<name>`: in eval bitwise unchanged, in training different from before;
//   6. the inputs the layer was given are unchanged (no layer writes into its input).
// Every comparison is test::check_close at the project's bar for a layer, normalized error <= 1e-5. Every tensor of
// every file must be read by some check. The suite "golden_layers" runs on the CPU; the "cuda" suite's test case
// "golden layers on CUDA" runs the same files and checks with everything on the GPU (it returns when none is visible).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "layers/blocks.h"
#include "layers/linear_conv.h"
#include "layers/module.h"
#include "layers/norms.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using bigcolor::DType;
using bigcolor::Module;
using bigcolor::Tensor;
namespace test = bigcolor::test;

constexpr double kTolerance = 1e-5;  // the project's bar for a float32 layer: never widen it
constexpr float kSnEps = 1e-6f;      // BigColor's SN_eps
constexpr float kBnEps = 1e-5f;      // BigColor's BN_eps

class LayerGolden {
 public:
  explicit LayerGolden(const std::string& name)
      : name_(name), file_(bigcolor::load_safetensors(test::golden_path("layers_" + name + ".safetensors"))) {}

  const std::string& name() const { return name_; }

  bool has(const std::string& key) const { return file_.contains(key); }
  const Tensor& t(const std::string& key) const {
    if (!file_.contains(key)) throw bigcolor::Error("layers_" + name_ + ".safetensors: missing tensor " + key);
    used_.insert(key);
    return file_.at(key);
  }
  std::string meta(const std::string& key) const {
    const auto it = file_.metadata.find(key);
    if (it == file_.metadata.end()) throw bigcolor::Error("layers_" + name_ + ".safetensors: missing metadata " + key);
    return it->second;
  }
  std::int64_t meta_int(const std::string& key) const {
    const std::string value = meta(key);
    std::size_t used = 0;
    const long long result = std::stoll(value, &used);
    if (used != value.size()) throw bigcolor::Error(name_ + ": bad integer " + key + " = " + value);
    return result;
  }
  bool meta_bool(const std::string& key) const {
    const std::int64_t v = meta_int(key);
    if (v != 0 && v != 1) throw bigcolor::Error(name_ + ": bad flag " + key + " = " + meta(key));
    return v == 1;
  }
  float meta_float(const std::string& key) const {
    const std::string value = meta(key);
    std::size_t used = 0;
    const float result = std::stof(value, &used);
    if (used != value.size()) throw bigcolor::Error(name_ + ": bad number " + key + " = " + value);
    return result;
  }
  nlohmann::json meta_json(const std::string& key) const { return nlohmann::json::parse(meta(key)); }
  std::vector<std::string> meta_list(const std::string& key) const {
    return meta_json(key).get<std::vector<std::string>>();
  }

  // Compares with the stored tensor `key` and remembers the worst normalized error.
  void check(const Tensor& out, const std::string& key) const {
    const Tensor& ref = t(key);
    const std::string what = "layers_" + name_ + "/" + key;
    const test::Comparison c = test::compare(out, ref);
    if (out.shape() == ref.shape() && c.normalized_error > worst_error_) {
      worst_error_ = c.normalized_error;
      worst_key_ = key;
    }
    test::check_close(out, ref, kTolerance, what);
  }

  // Every stored tensor must have been read, unless its mode failed with an exception (already reported).
  void check_all_used(const std::set<std::string>& failed_modes) const {
    for (const auto& [key, tensor] : file_.tensors) {
      if (failed_modes.count(key.substr(0, key.find('.'))) != 0) continue;
      const std::string message = "layers_" + name_ + ".safetensors: tensor " + key + " was never checked";
      CHECK_MESSAGE(used_.count(key) == 1, message);
    }
  }

  double worst_error() const { return worst_error_; }
  const std::string& worst_key() const { return worst_key_; }

 private:
  std::string name_;
  bigcolor::SafetensorsFile file_;
  mutable std::set<std::string> used_;
  mutable double worst_error_ = 0.0;
  mutable std::string worst_key_;
};

using Inputs = std::map<std::string, Tensor>;
using InputGradients = std::map<std::string, Tensor>;

// A layer behind a uniform interface: forward from named inputs, backward to named input gradients.
struct Harness {
  std::shared_ptr<Module> module;
  std::function<Tensor(const Inputs&)> forward;
  std::function<InputGradients(const Tensor&)> backward;
};

// Builds the C++ layer the file describes (metadata `layer` and its sizes).
Harness make_harness(const LayerGolden& g) {
  const std::string layer = g.meta("layer");
  Harness h;
  if (layer == "snlinear") {
    auto m = std::make_shared<bigcolor::SNLinear>(g.meta_int("in_features"), g.meta_int("out_features"),
                                                  g.meta_bool("bias"), kSnEps);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("x")); };
    h.backward = [m](const Tensor& d) { return InputGradients{{"x", m->backward(d)}}; };
  } else if (layer == "snconv2d") {
    auto m = std::make_shared<bigcolor::SNConv2d>(g.meta_int("in_channels"), g.meta_int("out_channels"),
                                                  static_cast<int>(g.meta_int("kernel_size")),
                                                  static_cast<int>(g.meta_int("padding")), g.meta_bool("bias"), kSnEps);
    const bool upsampled = g.meta_bool("upsampled");
    h.module = m;
    h.forward = [m, upsampled](const Inputs& in) {
      return upsampled ? m->forward_upsampled(in.at("x")) : m->forward(in.at("x"));
    };
    h.backward = [m](const Tensor& d) { return InputGradients{{"x", m->backward(d)}}; };
  } else if (layer == "snembedding") {
    auto m = std::make_shared<bigcolor::SNEmbedding>(g.meta_int("num_embeddings"), g.meta_int("dim"), kSnEps);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("indices")); };
    h.backward = [m](const Tensor& d) {
      m->backward(d);
      return InputGradients{};
    };
  } else if (layer == "ccbn" || layer == "class_condition_norm") {
    std::shared_ptr<bigcolor::ConditionalNorm> m;
    const std::string cond = layer == "ccbn" ? "y" : "c";
    if (layer == "ccbn") {
      m = std::make_shared<bigcolor::CCBN>(g.meta_int("channels"), g.meta_int("in_features"), kBnEps, kSnEps,
                                           /*relu=*/false);
    } else {
      m = std::make_shared<bigcolor::ClassConditionNorm>(g.meta_int("channels"), g.meta_int("in_features"), 1e-5f,
                                                         /*relu=*/false);
    }
    h.module = m;
    h.forward = [m, cond](const Inputs& in) { return m->forward(in.at("x"), in.at(cond)); };
    h.backward = [m, cond](const Tensor& d) {
      const auto grads = m->backward(d);
      return InputGradients{{"x", grads.d_x}, {cond, grads.d_y}};
    };
  } else if (layer == "bn") {
    auto m = std::make_shared<bigcolor::BatchNorm>(g.meta_int("channels"), 1e-5f, 0.1f, /*relu=*/false);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("x")); };
    h.backward = [m](const Tensor& d) { return InputGradients{{"x", m->backward(d)}}; };
  } else if (layer == "attention") {
    auto m = std::make_shared<bigcolor::Attention>(g.meta_int("channels"), kSnEps);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("x")); };
    h.backward = [m](const Tensor& d) { return InputGradients{{"x", m->backward(d)}}; };
  } else if (layer == "gblock") {
    auto m = std::make_shared<bigcolor::GBlock>(g.meta_int("in_channels"), g.meta_int("out_channels"),
                                                g.meta_int("y_dim"), kBnEps, kSnEps);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("x"), in.at("y")); };
    h.backward = [m](const Tensor& d) {
      const auto grads = m->backward(d);
      return InputGradients{{"x", grads.d_x}, {"y", grads.d_y}};
    };
  } else if (layer == "dblock") {
    auto m = std::make_shared<bigcolor::DBlock>(g.meta_int("in_channels"), g.meta_int("out_channels"),
                                                g.meta_bool("preactivation"), g.meta_bool("downsample"), kSnEps);
    h.module = m;
    h.forward = [m](const Inputs& in) { return m->forward(in.at("x")); };
    h.backward = [m](const Tensor& d) { return InputGradients{{"x", m->backward(d)}}; };
  } else if (layer == "resconvblock") {
    const float dropout = g.meta_float("dropout");
    auto m = std::make_shared<bigcolor::ResConvBlock>(g.meta_int("in_channels"), g.meta_int("out_channels"),
                                                      g.meta_bool("downsample"), dropout, g.meta_int("c_dim"));
    CHECK(m->dropout() == dropout);
    h.module = m;
    h.forward = [m](const Inputs& in) {
      const auto mask = in.find("mask");
      return m->forward(in.at("x"), in.at("c"), mask == in.end() ? Tensor{} : mask->second);
    };
    h.backward = [m](const Tensor& d) {
      const auto grads = m->backward(d);
      return InputGradients{{"x", grads.d_x}, {"c", grads.d_c}};
    };
  } else {
    throw bigcolor::Error("layers_" + g.name() + ".safetensors: unknown layer '" + layer + "'");
  }
  return h;
}

// A failed precondition of the rest of a mode: an Error, reported by run_file as that mode's failure (doctest's
// REQUIRE would abort the whole test case, the other mode included).
template <typename... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) bigcolor::detail::throw_error(parts...);
}

std::string join(const std::vector<std::string>& names) {
  std::string s = "[";
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s + "]";
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         (a.dtype() == DType::I32 ? a.to_indices() == b.to_indices() : a.to_vector() == b.to_vector());
}

double norm(const Tensor& t) {
  double s = 0.0;
  for (const float v : t.to_vector()) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

// " (CUDA)" for messages about a run on the GPU.
std::string on_device(bigcolor::Device device) { return device == bigcolor::Device::CUDA ? " (CUDA)" : ""; }

// One mode of one file: the whole procedure of the header.
void run_mode(const LayerGolden& g, const std::string& mode, bigcolor::Device device) {
  const std::string tag = "layers_" + g.name() + "/" + mode + on_device(device);
  const Harness h = make_harness(g);
  Module& m = *h.module;
  m.to(device);

  // 1. Names, order, trainable flags, shapes.
  const auto params = m.parameters();
  std::vector<std::string> param_names, trainable_names;
  for (const auto& p : params) {
    param_names.push_back(p.name);
    if (p.parameter->trainable) trainable_names.push_back(p.name);
  }
  const std::vector<std::string> want_params = g.meta_list("parameters");
  const std::vector<std::string> want_trainable = g.meta_list("trainable");
  CHECK_MESSAGE(param_names == want_params, tag, ": parameters() ", join(param_names), " but PyTorch lists ",
                join(want_params));
  CHECK_MESSAGE(trainable_names == want_trainable, tag, ": trainable ", join(trainable_names), " but PyTorch has ",
                join(want_trainable));

  const auto state = m.state();
  std::vector<std::string> state_names;
  for (const auto& s : state) state_names.push_back(s.name);
  const std::vector<std::string> want_state = g.meta_list("state");
  require(state_names == want_state, tag, ": state() ", join(state_names), " but the state_dict is ",
                  join(want_state));
  for (const auto& s : state) {
    const Tensor& before = g.t(mode + ".before." + s.name);
    require(s.tensor.shape() == before.shape(), tag, ": state ", s.name, " is ", s.tensor.describe(),
                    ", the state_dict's ", before.describe());
  }

  // 2. Load, set the mode, zero the gradients.
  for (const auto& s : state) s.tensor.copy_from(g.t(mode + ".before." + s.name));
  m.set_training(mode == "train");
  m.set_grad_enabled(true);
  m.zero_grad();

  // 3. Forward (on copies, to prove afterwards that the layer left its inputs alone).
  Inputs inputs;
  std::vector<std::string> input_names = g.meta_list("inputs");
  if (g.has(mode + ".mask")) input_names.push_back("mask");
  for (const auto& name : input_names) inputs[name] = g.t(mode + "." + name).to(device);
  const Tensor out = h.forward(inputs);
  g.check(out, mode + ".out");

  // 4. Backward: input gradients, then parameter gradients.
  const InputGradients d_inputs = h.backward(g.t(mode + ".d_out").to(device));
  for (const auto& name : g.meta_list("inputs")) {
    const std::string key = mode + ".d_" + name;
    const auto it = d_inputs.find(name);
    if (g.t(mode + "." + name).dtype() != DType::F32) {  // indices: no gradient
      CHECK_MESSAGE(!g.has(key), tag, ": ", key, " stored for a non-float input");
      continue;
    }
    require(it != d_inputs.end(), tag, ": the layer returned no gradient for input ", name);
    g.check(it->second, key);
  }
  const nlohmann::json zero_grads = g.meta_json(mode + ".zero_grads");
  std::map<std::string, Tensor> grads;
  for (const auto& p : params) grads[p.name] = p.parameter->grad;
  for (const auto& p : params) {
    const std::string key = mode + ".grad." + p.name;
    if (!p.parameter->trainable) {
      CHECK_MESSAGE(!g.has(key), tag, ": a gradient is stored for frozen ", p.name);
      CHECK_MESSAGE(!p.parameter->grad.defined(), tag, ": frozen parameter ", p.name, " has a gradient tensor");
    } else if (zero_grads.contains(p.name)) {
      // Zero in exact arithmetic (a conv bias before a training-mode batch norm): only rounding noise may remain.
      const std::string scale_name = zero_grads.at(p.name).get<std::string>();
      require(grads.count(scale_name) == 1, tag, ": unknown scale parameter ", scale_name);
      const double ratio = norm(p.parameter->grad) / norm(grads.at(scale_name));
      CHECK_MESSAGE(!g.has(key), tag, ": ", key, " is stored although listed in zero_grads");
      CHECK_MESSAGE(ratio <= kTolerance, tag, ": ", p.name, " should have a zero gradient; |grad| / |grad ",
                    scale_name, "| = ", ratio);
      MESSAGE(tag, ": ", p.name, " (exactly zero in exact arithmetic): |grad| / |grad ", scale_name, "| = ", ratio);
    } else {
      g.check(p.parameter->grad, key);
    }
  }

  // 5. Buffers after the step.
  for (const auto& s : state) {
    if (!s.is_buffer) continue;
    const Tensor& before = g.t(mode + ".before." + s.name);
    g.check(s.tensor, mode + ".after." + s.name);
    if (mode == "eval") {
      CHECK_MESSAGE(bitwise_equal(s.tensor, before), tag, ": buffer ", s.name, " changed in eval mode");
    } else {
      CHECK_MESSAGE(!bitwise_equal(s.tensor, before), tag, ": buffer ", s.name, " did not change in training");
    }
  }
  for (const auto& s : state) {  // parameters are never touched by a forward/backward
    if (s.is_buffer) continue;
    CHECK_MESSAGE(bitwise_equal(s.tensor, g.t(mode + ".before." + s.name)), tag, ": parameter ", s.name,
                  " changed during the step");
  }

  // 6. Inputs untouched.
  for (const auto& [name, value] : inputs)
    CHECK_MESSAGE(bitwise_equal(value, g.t(mode + "." + name)), tag, ": the layer modified its input ", name);
}

void run_file(const std::string& name, bigcolor::Device device = bigcolor::Device::CPU) {
  const LayerGolden g(name);
  const std::string modes = g.meta("modes");
  require(modes == "train,eval", "layers_", name, ": unexpected modes ", modes);
  std::set<std::string> failed;
  for (const std::string mode : {"train", "eval"}) {
    INFO("golden layer ", name, " in ", mode, " mode", on_device(device));
    try {
      run_mode(g, mode, device);
    } catch (const std::exception& e) {
      failed.insert(mode);
      const std::string message = "layers_" + name + "/" + mode + ": exception: " + e.what();
      FAIL_CHECK(message);
    }
  }
  g.check_all_used(failed);
  MESSAGE("layers_", name, on_device(device), ": worst normalized error ",
          g.worst_error(), " (", g.worst_key(), ")");
}

std::set<std::string>& registered_files() {
  static std::set<std::string> names;
  return names;
}
struct RegisteredFile {
  explicit RegisteredFile(const char* name) { registered_files().insert(name); }
};

}  // namespace

TEST_SUITE("golden_layers") {

// One test case per file (run one with -tc="golden layer gblock"); each also registers its name for the check below.
#define BIGCOLOR_GOLDEN_LAYER(name)                         \
  const RegisteredFile registered_##name(#name);            \
  TEST_CASE("golden layer " #name) { run_file(#name); }
BIGCOLOR_GOLDEN_LAYER(snlinear)
BIGCOLOR_GOLDEN_LAYER(snconv2d)
BIGCOLOR_GOLDEN_LAYER(snconv2d_1x1)
BIGCOLOR_GOLDEN_LAYER(snconv2d_up)
BIGCOLOR_GOLDEN_LAYER(snembedding)
BIGCOLOR_GOLDEN_LAYER(ccbn)
BIGCOLOR_GOLDEN_LAYER(class_condition_norm)
BIGCOLOR_GOLDEN_LAYER(bn)
BIGCOLOR_GOLDEN_LAYER(attention)
BIGCOLOR_GOLDEN_LAYER(gblock)
BIGCOLOR_GOLDEN_LAYER(dblock_preact_down)
BIGCOLOR_GOLDEN_LAYER(dblock_preact_nodown)
BIGCOLOR_GOLDEN_LAYER(dblock_nopreact_down)
BIGCOLOR_GOLDEN_LAYER(dblock_nopreact_nodown)
BIGCOLOR_GOLDEN_LAYER(dblock_same_nodown)
BIGCOLOR_GOLDEN_LAYER(resconv_down_dropout)
BIGCOLOR_GOLDEN_LAYER(resconv_nodown_dropout)
BIGCOLOR_GOLDEN_LAYER(resconv_down_nodropout)
#undef BIGCOLOR_GOLDEN_LAYER

// The files registered above and tests/golden/layers_*.safetensors must agree: a file the tool writes but no test reads (or a
// test whose file is gone) is a failure.
TEST_CASE("golden layer files are all tested") {
  const std::set<std::string>& tested = registered_files();
  std::set<std::string> present;
  const std::string prefix = "layers_", suffix = ".safetensors";
  for (const auto& entry : std::filesystem::directory_iterator(test::golden_path(""))) {
    const std::string file = entry.path().filename().string();
    if (file.size() > prefix.size() + suffix.size() && file.compare(0, prefix.size(), prefix) == 0 &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
      present.insert(file.substr(prefix.size(), file.size() - prefix.size() - suffix.size()));
  }
  for (const auto& name : present) CHECK_MESSAGE(tested.count(name) == 1, "layers_", name, ".safetensors has no test");
  for (const auto& name : tested) CHECK_MESSAGE(present.count(name) == 1, "layers_", name, ".safetensors is missing");
}

}  // TEST_SUITE("golden_layers")

// The same files and checks with the layers, their inputs and their state on the GPU (the CUDA kernels against
// PyTorch directly, at the same 1e-5 bar). Reported as skipped when no GPU is visible.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("golden layers on CUDA") {
  for (const auto& name : registered_files()) {
    INFO("golden layer ", name, " on CUDA");
    run_file(name, bigcolor::Device::CUDA);
  }
}

}  // TEST_SUITE("cuda")
