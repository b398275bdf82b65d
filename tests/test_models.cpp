// The assembled networks at reduced width: official names and order, shapes end to end, finite outputs and
// gradients, and a finite-difference check of the whole colorizer's gradient along one direction.
#include <doctest/doctest.h>

#include <algorithm>
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

// x + t·v, a fresh tensor.
Tensor shifted(const Tensor& x, const Tensor& v, float t) {
  Tensor step = Tensor::empty(v.shape()), out = Tensor::empty(x.shape());
  ops::scale_forward(step, v, t);
  ops::add_forward(out, x, step);
  return out;
}

// Central difference of `loss` at 0 along t. The networks are strongly curved in their inputs (the class
// embedding multiplies every normalized activation through the conditional gains), so the step is small: at
// weights ~ N(0, 0.1²) the quotient for the embedding reads 6.6 / 7.7 / 8.04 at steps 1e-2 / 1e-3 / 1e-4 against a
// derivative of 8.05. (With weights ~ N(0, 0.3²) the activations grow until the attention softmax is nearly an
// argmax and no step gives a usable quotient.)
template <typename Loss>
double central_difference(Loss loss) {
  const float h = 1e-4f;
  return (loss(h) - loss(-h)) / (2 * h);
}

void check_directional(double numeric, double analytic, const std::string& what) {
  INFO(what, ": numeric ", numeric, ", analytic ", analytic);
  CHECK(std::abs(numeric - analytic) <= 2e-2 * std::max(1.0, std::abs(analytic)));
}
}  // namespace

TEST_CASE("models: colorizer names, shapes and gradients at reduced width") {
  Rng rng(11);
  Colorizer eg(tiny_config());
  randomize(eg, rng, 0.1f);
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

  // L = Σ out ⊙ R; its derivatives along random directions of z and of the class embedding, by central
  // differences, match the backward.
  const Tensor r = test::random_normal(out.shape(), rng);
  eg.zero_grad();
  const Tensor c_embed = test::random_normal({2, 128}, rng);
  eg.forward_with_c(x, c_embed, z);
  const Colorizer::Gradients g = eg.backward(r);
  CHECK(all_finite(g.d_z));
  CHECK(all_finite(g.d_c_embed));
  CHECK(all_finite(eg.E.res[0]->conv_1.weight.grad));
  auto loss = [&](const Tensor& c, const Tensor& zz) {
    eg.set_grad_enabled(false);
    const double l = dot(eg.forward_with_c(x, c, zz), r);
    eg.set_grad_enabled(true);
    return l;
  };
  const Tensor v_z = test::random_normal(z.shape(), rng), v_c = test::random_normal(c_embed.shape(), rng);
  check_directional(central_difference([&](float t) { return loss(c_embed, shifted(z, v_z, t)); }), dot(g.d_z, v_z),
                    "d_z");
  // Hierarchical z: blocks 2..5 read chunks 3..6 (17 values each); chunks 0..2 feed unused layers.
  const std::vector<float> d_z = g.d_z.to_vector();
  for (int chunk = 0; chunk < 7; ++chunk) {
    double norm = 0.0;
    for (int b = 0; b < 2; ++b)
      for (int j = 0; j < 17; ++j) norm += std::abs(d_z[static_cast<std::size_t>(b * 119 + chunk * 17 + j)]);
    INFO("z chunk ", chunk);
    if (chunk < 3)
      CHECK(norm == 0.0);
    else
      CHECK(norm > 0.0);
  }
  std::vector<float> last_chunk(static_cast<std::size_t>(z.numel()), 0.0f);  // a direction inside chunk 6 only
  for (int b = 0; b < 2; ++b)
    for (int j = 0; j < 17; ++j) last_chunk[static_cast<std::size_t>(b * 119 + 102 + j)] = (j % 3 == 0) ? 1.0f : -0.5f;
  const Tensor v_last = Tensor::from_vector(last_chunk, z.shape());
  check_directional(central_difference([&](float t) { return loss(c_embed, shifted(z, v_last, t)); }),
                    dot(g.d_z, v_last), "d_z, last chunk");
  check_directional(central_difference([&](float t) { return loss(shifted(c_embed, v_c, t), z); }),
                    dot(g.d_c_embed, v_c), "d_c_embed (through E and G)");
}

TEST_CASE("models: discriminator shapes and gradients at reduced width") {
  Rng rng(12);
  Discriminator d(tiny_config().biggan);
  randomize(d, rng, 0.1f);
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
  const Tensor r = Tensor::full({2, 1}, 1.0f);
  d.set_training(false);  // eval: the power iteration no longer moves u0 between the difference's two forwards
  d.zero_grad();
  d.forward(x, Tensor::from_indices({1, 4}, {2}));
  const Tensor d_x_eval = d.backward(r);
  // Along the gradient itself (scaled to unit RMS): a random direction over 2·3·256² pixels cancels to a derivative
  // too small to tell from float32 rounding, while along d_x the derivative is ‖d_x‖·√n, and a wrong gradient
  // still shows as a mismatch.
  const double rms = std::sqrt(dot(d_x_eval, d_x_eval) / static_cast<double>(d_x_eval.numel()));
  Tensor v = Tensor::empty(x.shape());
  ops::scale_forward(v, d_x_eval, static_cast<float>(1.0 / rms));
  auto loss = [&](float t) {
    d.set_grad_enabled(false);
    const double l = dot(d.forward(shifted(x, v, t * 30.0f), Tensor::from_indices({1, 4}, {2})), r);
    d.set_grad_enabled(true);
    return l / 30.0;  // a step of 30·1e-4 = 3e-3 per pixel: smooth enough here, and far above rounding
  };
  check_directional(central_difference(loss), dot(d_x_eval, v), "discriminator d_x");
}

TEST_CASE("models: NoParameterGradients leaves every D gradient untouched and gives the same d_x") {
  // The EG step backpropagates through D for the image gradient only. Under the guard no parameter gradient may be
  // written (a sentinel survives), d_x must equal the normal backward's bit for bit, and afterwards gradients
  // accumulate again. The training parity test cannot see a guard that stops working: D's gradients are zeroed at
  // the next step, so only the time would change.
  Rng rng(21);
  Discriminator d(tiny_config().biggan);
  randomize(d, rng, 0.1f);
  d.set_training(false);  // the same u0 for both forwards
  const Tensor x = test::random_uniform({2, 3, 256, 256}, rng, -1.0f, 1.0f);
  const Tensor classes = Tensor::from_indices({1, 4}, {2});
  const Tensor r = Tensor::full({2, 1}, 1.0f);
  d.zero_grad();
  d.forward(x, classes);
  const Tensor d_x_normal = d.backward(r);
  for (const auto& p : d.parameters()) p.parameter->grad.fill(7.0f);  // the sentinel
  Tensor d_x_guarded;
  {
    const NoParameterGradients image_gradient_only(d);
    CHECK_FALSE(d.parameter_gradients());
    d.forward(x, classes);
    d_x_guarded = d.backward(r);
  }
  CHECK(d.parameter_gradients());
  CHECK(d_x_guarded.to_vector() == d_x_normal.to_vector());
  std::size_t untouched = 0, all = 0;
  for (const auto& p : d.parameters()) {
    const std::vector<float> g = p.parameter->grad.to_vector();
    ++all;
    untouched += std::all_of(g.begin(), g.end(), [](float v) { return v == 7.0f; }) ? 1 : 0;
  }
  CHECK(untouched == all);
  d.forward(x, classes);
  d.backward(r);
  bool moved = false;
  for (const auto& p : d.parameters()) {
    const std::vector<float> g = p.parameter->grad.to_vector();
    moved = moved || std::any_of(g.begin(), g.end(), [](float v) { return v != 7.0f; });
  }
  CHECK(moved);  // the guard is gone: the gradients accumulate into the sentinel again
}
