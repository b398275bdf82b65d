// The fused BigGAN kernels of fused_signatures.inc in the op table (op_table.h): spectral norm, class-conditional
// batch norm (+ ReLU), the self-attention core and the upsampling convolution. Their CPU twins are also checked
// against independent references in test_fused_norm.cpp and test_fused_attention_upconv.cpp ("fused" suite).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "kernels/ops.h"
#include "op_table.h"
#include "test_util.h"

namespace bigcolor::test {

namespace {

namespace ops = bigcolor::ops;

constexpr float kSnEps = 1e-6f;  // SN_eps of the model
constexpr float kBnEps = 1e-5f;  // BN_eps
constexpr float kMomentum = 0.1f;

void output(OpCase& c, const std::string& name, const Shape& shape) {
  c.t[name] = Tensor::empty(shape);
  c.outputs.push_back(name);
}
void grad(OpCase& c, const std::string& name, const std::string& input, bool accumulates) {
  c.t[name] = Tensor::empty(c.t.at(input).shape());
  c.grads.push_back({name, input, accumulates});
}

// ---- spectral norm ------------------------------------------------------------------------------------------------

// weight `shape` viewed as W (O, K), u (O). The gradcheck differentiates L(W) = Σ (W / σ(W)) ⊙ R with
// σ(W) = u_newᵀ·W·v and u_new, v held fixed (the contract's "constants"), out rounded to float32 like a kernel's.
OpCase spectral_norm_case(Rng& rng, const Shape& shape) {
  const std::int64_t rows = shape[0], cols = shape_numel(shape) / rows;
  OpCase c;
  c.name = "spectral_norm " + shape_string({rows, cols});
  c.h = 1e-2;
  c.t["weight"] = random_normal(shape, rng).reshape({rows, cols});
  c.t["u"] = random_normal({rows}, rng);
  output(c, "weight_sn", {rows, cols});
  output(c, "sigma", {1});
  output(c, "u_new", {rows});
  output(c, "v", {cols});
  grad(c, "d_weight", "weight", true);
  c.t["d_out"] = Tensor::empty({rows, cols});
  c.forward = [](const Tensors& t) {
    ops::spectral_norm_forward(t.at("weight_sn"), t.at("sigma"), t.at("u_new"), t.at("v"), t.at("weight"), t.at("u"),
                               kSnEps);
  };
  c.backward = [](const Tensors& t) {
    ops::spectral_norm_backward(t.at("d_weight"), t.at("d_out"), t.at("weight"), t.at("u_new"), t.at("v"),
                                t.at("sigma"));
  };
  c.t["fixed_sn"] = Tensor::empty({rows, cols});
  c.loss_output = "fixed_sn";
  c.gradcheck_forward = [rows, cols](const Tensors& t) {
    const std::vector<float> w = t.at("weight").to_vector(), uf = t.at("u_new").to_vector(), vf = t.at("v").to_vector();
    double s = 0.0;
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) s += static_cast<double>(uf[i]) * w[i * cols + j] * vf[j];
    std::vector<float> out(w.size());
    for (std::size_t e = 0; e < w.size(); ++e) out[e] = static_cast<float>(w[e] / s);
    t.at("fixed_sn").copy_from(Tensor::from_vector(out, {rows, cols}));
  };
  c.backward_from_cpu_forward = true;  // the same u_new, v, sigma on both devices
  c.deterministic = true;
  c.compare_increments = true;
  return c;
}

// ---- ccbn ---------------------------------------------------------------------------------------------------------

// in = offset + 2·N(0, 1), gain in [0.5, 1.5] (the model's 1 + linear(y)), bias in [-0.5, 0.5], running statistics
// plausible (mean in [-0.5, 0.5], var in [0.5, 2]). Every forward starts from the same running statistics.
OpCase ccbn_case(Rng& rng, const Shape& shape, float offset, bool training, bool relu) {
  const Shape channels{shape[1]}, per_sample{shape[0], shape[1]};
  OpCase c;
  c.name = "ccbn " + shape_string(shape) + " offset " + std::to_string(offset) + (training ? " training" : " eval") +
           (relu ? " relu" : " identity");
  c.h = 1e-2;
  std::vector<float> v = random_normal(shape, rng).to_vector();
  for (float& x : v) x = offset + 2.0f * x;
  c.t["in"] = Tensor::from_vector(v, shape);
  c.t["gain"] = random_uniform(per_sample, rng, 0.5f, 1.5f);
  c.t["bias"] = random_uniform(per_sample, rng, -0.5f, 0.5f);
  c.t["running_mean0"] = random_uniform(channels, rng, -0.5f, 0.5f);
  c.t["running_var0"] = random_uniform(channels, rng, 0.5f, 2.0f);
  c.t["running_mean"] = Tensor::empty(channels);
  c.t["running_var"] = Tensor::empty(channels);
  c.state = {"running_mean", "running_var"};
  output(c, "out", shape);
  output(c, "saved_mean", channels);
  output(c, "saved_invstd", channels);
  grad(c, "d_in", "in", false);
  grad(c, "d_gain", "gain", false);  // gain and bias are activations (from y): overwritten
  grad(c, "d_bias", "bias", false);
  c.t["d_out"] = Tensor::empty(shape);
  c.forward = [training, relu](const Tensors& t) {
    t.at("running_mean").copy_from(t.at("running_mean0"));
    t.at("running_var").copy_from(t.at("running_var0"));
    ops::ccbn_forward(t.at("out"), t.at("saved_mean"), t.at("saved_invstd"), t.at("running_mean"), t.at("running_var"),
                      t.at("in"), t.at("gain"), t.at("bias"), training, kMomentum, kBnEps, relu);
  };
  c.backward = [training, relu](const Tensors& t) {
    ops::ccbn_backward(get(t, "d_in"), get(t, "d_gain"), get(t, "d_bias"), t.at("d_out"), t.at("in"), t.at("gain"),
                       t.at("out"), t.at("saved_mean"), t.at("saved_invstd"), training, relu);
  };
  // With a large offset both backends round x − mean in float (ulp(100) = 8e-6): allow that rounding.
  if (offset > 10.0f) c.tolerance_of["out"] = 1e-5 * offset;
  c.backward_from_cpu_forward = true;  // the same ReLU mask and statistics on both devices
  c.partials = {{{"d_in"}, false}, {{"d_bias"}, false}, {{"d_in", "d_gain"}, true}};
  c.deterministic = true;
  return c;
}

// Moves every pre-activation at least `margin` away from 0 (the ReLU kink) by nudging `in` (training: the
// statistics move with it, so repeat until stable). Returns the smallest |pre-activation|.
double keep_away_from_kink(const OpCase& c, bool training, float margin) {
  const Tensor in = c.t.at("in"), gain = c.t.at("gain"), bias = c.t.at("bias");
  const std::int64_t batch = in.dim(0), channels = in.dim(1), hw = in.dim(2) * in.dim(3);
  const std::vector<float> ga = gain.to_vector();
  double smallest = 0.0;
  for (int iteration = 0; iteration < 50; ++iteration) {
    const Tensor pre = Tensor::empty(in.shape()), mean = Tensor::empty({channels}), invstd = Tensor::empty({channels});
    ops::ccbn_forward(pre, mean, invstd, c.t.at("running_mean0").clone(), c.t.at("running_var0").clone(), in, gain,
                      bias, training, kMomentum, kBnEps, false);
    const std::vector<float> p = pre.to_vector(), is = invstd.to_vector();
    std::vector<float> v = in.to_vector();
    smallest = INFINITY;
    bool moved = false;
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        for (std::int64_t i = 0; i < hw; ++i) {
          const std::int64_t e = (b * channels + ch) * hw + i;
          smallest = std::min(smallest, static_cast<double>(std::abs(p[e])));
          if (std::abs(p[e]) < margin) {  // push it by 2·margin in its own direction
            v[e] += (p[e] >= 0.0f ? 1.0f : -1.0f) * 2.0f * margin / (is[ch] * ga[b * channels + ch]);
            moved = true;
          }
        }
      }
    }
    if (!moved) break;
    in.copy_from(Tensor::from_vector(v, in.shape()));
  }
  return smallest;
}

// The gradcheck's ccbn: ReLU on, every |pre-activation| at least 0.2 (perturbations move it by < 0.1).
OpCase ccbn_gradcheck_case(Rng& rng, bool training) {
  constexpr float kMargin = 0.2f;
  OpCase c = ccbn_case(rng, {3, 5, 7, 5}, 0.3f, training, true);
  const double smallest = keep_away_from_kink(c, training, kMargin);
  INFO(c.name, ": smallest |pre-activation| ", smallest);
  REQUIRE(smallest >= kMargin);
  return c;
}

// ---- attention ----------------------------------------------------------------------------------------------------

// θ (B, Ck, N), φ (B, Ck, M) of std 0.5 (scores of a realistic spread, std ~0.25·sqrt(Ck)), g (B, Cv, M) N(0, 1).
OpCase attention_case(Rng& rng, std::int64_t batch, std::int64_t ck, std::int64_t cv, std::int64_t n, std::int64_t m) {
  const auto half_normal = [&](const Shape& shape) {
    std::vector<float> v = random_normal(shape, rng).to_vector();
    for (float& x : v) x *= 0.5f;
    return Tensor::from_vector(v, shape);
  };
  OpCase c;
  c.name = "attention B" + std::to_string(batch) + " Ck" + std::to_string(ck) + " Cv" + std::to_string(cv) + " N" +
           std::to_string(n) + " M" + std::to_string(m);
  c.h = 1e-2;
  c.t["theta"] = half_normal({batch, ck, n});
  c.t["phi"] = half_normal({batch, ck, m});
  c.t["g"] = random_normal({batch, cv, m}, rng);
  output(c, "out", {batch, cv, n});
  output(c, "lse", {batch, n});
  grad(c, "d_theta", "theta", false);
  grad(c, "d_phi", "phi", false);
  grad(c, "d_g", "g", false);
  c.t["d_out"] = Tensor::empty({batch, cv, n});
  c.forward = [](const Tensors& t) {
    ops::attention_forward(t.at("out"), t.at("lse"), t.at("theta"), t.at("phi"), t.at("g"));
  };
  c.backward = [](const Tensors& t) {
    ops::attention_backward(get(t, "d_theta"), get(t, "d_phi"), get(t, "d_g"), t.at("d_out"), t.at("theta"),
                            t.at("phi"), t.at("g"), t.at("out"), t.at("lse"));
  };
  // Deterministic, and partial requests give the same bits.
  c.partials = {{{"d_phi", "d_g"}, true}, {{"d_theta"}, true}};
  return c;
}

// ---- upconv -------------------------------------------------------------------------------------------------------

// in (B, Cin, H, W), weight (Cout, Cin, 3, 3), bias (Cout) -> out (B, Cout, 2H, 2W).
OpCase upconv_case(Rng& rng, std::int64_t batch, std::int64_t in_c, std::int64_t out_c, std::int64_t h, std::int64_t w,
                   bool bias) {
  OpCase c;
  c.name = "upconv B" + std::to_string(batch) + " " + std::to_string(in_c) + "->" + std::to_string(out_c) + " " +
           std::to_string(h) + "x" + std::to_string(w) + (bias ? "" : " no bias");
  c.h = 0.1;  // linear in each argument
  c.t["in"] = random_normal({batch, in_c, h, w}, rng);
  c.t["weight"] = random_normal({out_c, in_c, 3, 3}, rng);
  if (bias) c.t["bias"] = random_normal({out_c}, rng);
  output(c, "out", {batch, out_c, 2 * h, 2 * w});
  grad(c, "d_in", "in", false);
  grad(c, "d_weight", "weight", true);
  if (bias) grad(c, "d_bias", "bias", true);
  c.t["d_out"] = Tensor::empty({batch, out_c, 2 * h, 2 * w});
  c.forward = [](const Tensors& t) {
    ops::upconv3x3_forward(t.at("out"), t.at("in"), t.at("weight"), get(t, "bias"));
  };
  c.backward = [](const Tensors& t) {
    ops::upconv3x3_backward(get(t, "d_in"), get(t, "d_weight"), get(t, "d_bias"), t.at("d_out"), t.at("in"),
                            t.at("weight"));
  };
  // Deterministic, and each gradient alone is the same.
  c.partials = {{{"d_in"}, true}, {{"d_weight"}, true}};
  if (bias) c.partials.push_back({{"d_bias"}, true});
  return c;
}

}  // namespace

std::vector<OpEntry> fused_op_entries() {
  using Cases = std::vector<OpCase>;
  std::vector<OpEntry> e;
  e.push_back({"spectral_norm",
               [](Rng& rng) { return Cases{spectral_norm_case(rng, {13, 45}), spectral_norm_case(rng, {6, 5, 3, 3})}; },
               [](Rng& rng) {
                 // Odd sizes (scalar paths), a conv weight, degenerate row / column counts, the SNLinear 17 → 24576
                 // (K = 17, many rows), a ccbn gain linear (96, 145), and a real conv weight 384×6912 (float4
                 // paths, block per row).
                 Cases cases;
                 for (const Shape& s : std::vector<Shape>{{13, 45}, {6, 5, 3, 3}, {1, 37}, {29, 1}, {24576, 17},
                                                          {96, 145}, {48, 384}, {1, 1536}, {384, 768, 3, 3}})
                   cases.push_back(spectral_norm_case(rng, s));
                 return cases;
               },
               302, 401});
  e.push_back({"ccbn",
               [](Rng& rng) { return Cases{ccbn_gradcheck_case(rng, true), ccbn_gradcheck_case(rng, false)}; },
               [](Rng& rng) {
                 // Odd sizes (HW % 4 != 0: scalar path), HW % 4 == 0 at small size (float4 path), planes of several
                 // chunks (9600 = 8192 + 1408 with float4; 8463 scalar), a large common offset, the real
                 // (2, 96, 64, 64).
                 const std::vector<std::pair<Shape, float>> shapes = {
                     {{3, 5, 7, 5}, 0.3f},    {{3, 13, 7, 5}, -0.7f}, {{3, 5, 4, 6}, 0.3f},   {{2, 3, 96, 100}, 0.5f},
                     {{1, 2, 91, 93}, 0.5f}, {{3, 5, 7, 5}, 100.0f}, {{2, 96, 64, 64}, 0.2f}};
                 Cases cases;
                 for (const auto& [shape, offset] : shapes)
                   for (const bool training : {true, false})
                     for (const bool relu : {true, false}) cases.push_back(ccbn_case(rng, shape, offset, training, relu));
                 return cases;
               },
               301, 402});
  e.push_back({"attention", [](Rng& rng) { return Cases{attention_case(rng, 2, 3, 4, 9, 5)}; },
               [](Rng& rng) {
                 return Cases{attention_case(rng, 3, 5, 7, 13, 11),      // tiny, odd
                              attention_case(rng, 2, 7, 33, 77, 37),     // no multiple of the 64-query / 32-key tiles
                              attention_case(rng, 1, 70, 200, 100, 45),  // Ck > 64, Cv > 192: several channel chunks
                              attention_case(rng, 1, 70, 200, 100, 301), // ... and the forward's key split (M odd)
                              attention_case(rng, 2, 24, 96, 256, 64),   // the discriminator's channels (Cv ≤ 96)
                              attention_case(rng, 1, 48, 192, 4096, 1024)};  // the generator's: C = 384 at 64×64
               },
               777, 99});
  e.push_back({"upconv3x3", [](Rng& rng) { return Cases{upconv_case(rng, 2, 3, 4, 5, 4, true)}; },
               [](Rng& rng) {
                 return Cases{upconv_case(rng, 3, 5, 7, 7, 5, true),      // the project's odd shape
                              upconv_case(rng, 3, 5, 7, 7, 5, false),     // no bias
                              upconv_case(rng, 2, 37, 45, 19, 23, true),  // no multiple of the tiles; channel chunks
                              upconv_case(rng, 1, 3, 20, 40, 3, true),    // tall and narrow
                              upconv_case(rng, 2, 3, 20, 9, 24, true),    // even width: 16-byte stores, bias in main
                              upconv_case(rng, 1, 192, 96, 32, 32, true)};  // the last GBlock at 32²→64²
               },
               778, 98});
  return e;
}

}  // namespace bigcolor::test
