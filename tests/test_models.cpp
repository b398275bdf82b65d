// The assembled networks at reduced width: official names and order, shapes end to end, finite outputs and
// gradients, and a finite-difference check of the whole colorizer's gradient along one direction.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "kernels/ops.h"
#include "models/colorizer.h"
#include "models/discriminator.h"
#include "test_util.h"

using namespace bigcolor;

namespace {
ColorizerConfig tiny_config() {
  ColorizerConfig config;
  config.biggan.G_ch = 2;
  config.biggan.D_ch = 8;
  config.biggan.n_classes = 10;
  config.encoder_ch = 2;
  return config;
}

void randomize(Module& m, Rng& rng, float stddev) {
  for (const auto& s : m.state()) {
    if (s.name.find("stored_var") != std::string::npos)
      s.tensor.fill(1.0f);
    else if (s.name.find("stored_mean") == std::string::npos)
      rng.fill_normal(s.tensor, 0.0f, stddev);
  }
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

double dot(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}
}  // namespace

TEST_CASE("models: colorizer names, shapes and gradients at reduced width") {
  Rng rng(11);
  Colorizer eg(tiny_config());
  randomize(eg, rng, 0.3f);
  const auto params = eg.parameters();
  CHECK(params.front().name == "E.res1.conv.weight");
  CHECK(params.back().name == "G.output_layer.2.bias");
  bool has_attention_gamma = false;
  for (const auto& p : params) has_attention_gamma |= p.name == "G.blocks.3.1.gamma";
  CHECK(has_attention_gamma);
  CHECK(eg.G.linear.weight.value.shape() == Shape{16 * 2 * 16, 17});

  eg.set_training(false);  // eval: stored statistics, no dropout, deterministic
  const Tensor x = test::random_uniform({2, 1, 32, 48}, rng, 0.0f, 1.0f);
  const Tensor classes = Tensor::from_indices({3, 7}, {2});
  const Tensor z = test::random_normal({2, 119}, rng);
  const Tensor out = eg.forward(x, classes, z);
  CHECK(out.shape() == Shape{2, 3, 32, 48});
  CHECK(all_finite(out));

  // L = Σ out ⊙ R; its derivative along a random direction of z, by central differences, matches the backward.
  const Tensor r = test::random_normal(out.shape(), rng);
  eg.zero_grad();
  const Colorizer::Gradients g = eg.backward(r);
  CHECK(all_finite(g.d_z));
  CHECK(all_finite(eg.E.res[0]->conv_1.weight.grad));
  const Tensor v = test::random_normal(z.shape(), rng);
  // A small step: with random weights the network is full of ReLU kinks, and a step of 1e-2 already crosses
  // enough of them to move the difference quotient far from the derivative (seen: 215 vs 92 at 1e-2, 92.8 at 1e-3).
  const float h = 1e-3f;
  auto loss_at = [&](float t) {
    Tensor zt = z.clone();
    ops::add_forward(zt, z, [&] { Tensor s = Tensor::empty(v.shape()); ops::scale_forward(s, v, t); return s; }());
    eg.set_grad_enabled(false);
    const double l = dot(eg.forward(x, classes, zt), r);
    eg.set_grad_enabled(true);
    return l;
  };
  const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
  const double analytic = dot(g.d_z, v);
  INFO("numeric ", numeric, " analytic ", analytic);
  CHECK(std::abs(numeric - analytic) <= 2e-2 * std::max(1.0, std::abs(analytic)));
}

TEST_CASE("models: discriminator shapes and gradients at reduced width") {
  Rng rng(12);
  Discriminator d(tiny_config().biggan);
  randomize(d, rng, 0.3f);
  CHECK(d.attention_block == 1);
  CHECK_FALSE(d.blocks.back()->conv_sc);  // 16ch -> 16ch without downsampling: no learnable shortcut
  const Tensor x = test::random_uniform({2, 3, 256, 256}, rng, -1.0f, 1.0f);
  const Tensor out = d.forward(x, Tensor::from_indices({1, 4}, {2}));
  CHECK(out.shape() == Shape{2, 1});
  CHECK(all_finite(out));
  d.zero_grad();
  const Tensor d_x = d.backward(Tensor::full({2, 1}, 1.0f));
  CHECK(d_x.shape() == x.shape());
  CHECK(all_finite(d_x));
  CHECK(all_finite(d.embed.weight.grad));
}
