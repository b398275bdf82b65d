// Layer mechanics that the golden files do not cover: the parameter walk's names and order, trainable flags,
// gradient-free inference, dropout drawn from the seeded RNG, and clear errors on misuse.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "layers/blocks.h"
#include "tensor/error.h"
#include "test_util.h"

using namespace bigcolor;

namespace {
std::vector<std::string> parameter_names(Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.parameters()) names.push_back(p.name);
  return names;
}

void randomize(Module& m, Rng& rng) {
  for (const auto& s : m.state()) rng.fill_normal(s.tensor, 0.0f, 0.3f);
}
}  // namespace

TEST_CASE("layers: GBlock walk is PyTorch's parameters() order, in1/in2 frozen") {
  GBlock block(6, 4, 10, 1e-5f, 1e-6f);
  const std::vector<std::string> expected = {
      "conv1.weight",      "conv1.bias",     "conv2.weight",      "conv2.bias",     "conv_sc.weight",
      "conv_sc.bias",      "bn1.gain.weight", "bn1.bias.weight",  "bn2.gain.weight", "bn2.bias.weight",
      "in1.weight",        "in1.bias",       "in2.weight",        "in2.bias"};
  CHECK(parameter_names(block) == expected);
  int frozen = 0;
  for (const auto& p : block.parameters()) frozen += !p.parameter->trainable;
  CHECK(frozen == 4);
  // state_dict order: a module's own parameters, then its buffers, then its children.
  std::vector<std::string> state;
  for (const auto& s : block.state("G.blocks.2.0.")) state.push_back(s.name);
  CHECK(state.front() == "G.blocks.2.0.conv1.weight");
  CHECK(std::find(state.begin(), state.end(), "G.blocks.2.0.bn1.stored_mean") < std::find(state.begin(), state.end(), "G.blocks.2.0.bn1.gain.weight"));
  CHECK(std::find(state.begin(), state.end(), "G.blocks.2.0.conv1.u0") != state.end());
}

TEST_CASE("layers: Attention lists gamma before its convolutions") {
  Attention attention(16, 1e-6f);
  const std::vector<std::string> names = parameter_names(attention);
  REQUIRE(names.size() == 5);
  CHECK(names[0] == "gamma");
  CHECK(names[1] == "theta.weight");
  CHECK(attention.gamma.value.shape() == Shape{});
}

TEST_CASE("layers: without gradients a forward keeps nothing and backward is a clear error") {
  Rng rng(3);
  DBlock block(3, 5, true, true, 1e-6f);
  randomize(block, rng);
  block.set_grad_enabled(false);
  const Tensor x = test::random_normal({2, 3, 6, 6}, rng);
  const Tensor out = block.forward(x);
  CHECK(out.shape() == Shape{2, 5, 3, 3});
  CHECK_THROWS_WITH_AS(block.backward(out), doctest::Contains("without a saved forward"), Error);
}

TEST_CASE("layers: spectral norm advances u0 and sv0 only in training") {
  Rng rng(4);
  SNLinear layer(7, 5, true, 1e-6f);
  randomize(layer, rng);
  const std::vector<float> u_before = layer.u0.to_vector();
  const Tensor x = test::random_normal({3, 7}, rng);
  layer.set_training(false);
  layer.forward(x);
  CHECK(layer.u0.to_vector() == u_before);
  layer.set_training(true);
  layer.forward(x);
  CHECK(layer.u0.to_vector() != u_before);
  CHECK(layer.sv0.to_vector()[0] > 0.0f);
}

TEST_CASE("layers: ResConvBlock dropout draws a seeded mask in training only") {
  Rng rng(5);
  ResConvBlock block(3, 4, false, 0.2f, 6);
  randomize(block, rng);
  const Tensor x = test::random_normal({2, 3, 8, 8}, rng);
  const Tensor c = test::random_normal({2, 6}, rng);
  block.set_training(true);
  CHECK_THROWS_WITH_AS(block.forward(x, c), doctest::Contains("needs an Rng"), Error);
  Rng dropout_rng(42);
  block.set_rng(&dropout_rng);
  const Tensor no_drop = [&] {
    ResConvBlock twin(3, 4, false, 0.0f, 6);
    const auto src = block.state(), dst = twin.state();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].tensor.copy_from(src[i].tensor);
    twin.set_training(true);
    return twin.forward(x, c);
  }();
  const Tensor dropped = block.forward(x, c);
  const std::vector<float> a = dropped.to_vector(), b = no_drop.to_vector();
  int zeros = 0, scaled = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == 0.0f) ++zeros;
    else if (std::abs(a[i] - b[i] / 0.8f) <= 1e-5f * std::abs(b[i] / 0.8f) + 1e-6f) ++scaled;
  }
  CHECK(zeros + scaled == static_cast<int>(a.size()));
  CHECK(zeros > 0.1 * a.size());
  CHECK(zeros < 0.3 * a.size());
  block.set_training(false);
  block.set_rng(nullptr);
  CHECK_NOTHROW(block.forward(x, c));  // eval: no dropout, no RNG needed
}

TEST_CASE("layers: gradients exist exactly while enabled (inference holds weights once)") {
  SNConv2d conv(3, 4, 3, 1, true, 1e-6f);
  CHECK(conv.weight.grad.defined());
  conv.set_grad_enabled(false);
  CHECK_FALSE(conv.weight.grad.defined());
  CHECK_FALSE(conv.bias->grad.defined());
  conv.zero_grad();  // harmless without gradients
  conv.set_grad_enabled(true);
  REQUIRE(conv.weight.grad.defined());
  CHECK(conv.weight.grad.to_vector() == std::vector<float>(4 * 3 * 9, 0.0f));
}
