#include "models/generator.h"

#include <string>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {
constexpr int kBlocks = 6;
constexpr std::int64_t kInMultiplier[kBlocks] = {16, 16, 8, 8, 4, 2};
constexpr std::int64_t kOutMultiplier[kBlocks] = {16, 8, 8, 4, 2, 1};
constexpr std::int64_t kBottomWidth = 4;
}  // namespace

Generator::Generator(const BigGANConfig& config)
    : shared(config.n_classes, config.shared_dim),
      linear(config.z_chunk_size(), kInMultiplier[0] * config.G_ch * kBottomWidth * kBottomWidth, true, config.SN_eps),
      output_bn(config.G_ch, 1e-5f, 0.1f, /*relu=*/true),
      output_conv(config.G_ch, 3, 3, 1, true, config.SN_eps),
      config_(config) {
  BIGCOLOR_CHECK(config.resolution == 256, "Generator: only the 256x256 BigGAN architecture is supported, got ",
                 config.resolution);
  add_child("shared", shared);
  add_child("linear", linear);
  for (int i = 0; i < kBlocks; ++i) {
    blocks.push_back(std::make_unique<GBlock>(kInMultiplier[i] * config.G_ch, kOutMultiplier[i] * config.G_ch,
                                              config.y_dim(), config.BN_eps, config.SN_eps));
    add_child("blocks." + std::to_string(i) + ".0", *blocks.back());
    if (config.G_attn == (8ll << i)) {  // block i outputs (8·2^i)²
      attention = std::make_unique<Attention>(kOutMultiplier[i] * config.G_ch, config.SN_eps);
      attention_block = i;
      add_child("blocks." + std::to_string(i) + ".1", *attention);
    }
  }
  add_child("output_layer.0", output_bn);
  add_child("output_layer.2", output_conv);
}

std::int64_t Generator::block_in_channels(std::int64_t block) const {
  return kInMultiplier[block] * config_.G_ch;
}

namespace {
// y_i = cat(y, z chunk i+1): (B, shared_dim + chunk).
Tensor block_condition(const Tensor& y, const Tensor& z, std::int64_t block, std::int64_t chunk) {
  Tensor y_i = Tensor::empty({y.dim(0), y.dim(1) + chunk}, DType::F32, y.device());
  ops::copy_columns(y_i, 0, y, 0, y.dim(1));
  ops::copy_columns(y_i, y.dim(1), z, (block + 1) * chunk, chunk);
  return y_i;
}
}  // namespace

Tensor Generator::forward_from(const Tensor& z, const Tensor& y, std::int64_t start_block, const Tensor& h) {
  return run(z, y, start_block, h, /*from_linear=*/false);
}

Tensor Generator::run(const Tensor& z, const Tensor& y, std::int64_t start_block, const Tensor& h, bool from_linear) {
  BIGCOLOR_CHECK(start_block >= 0 && start_block < kBlocks, "Generator: start block ", start_block,
                 " outside [0, 6)");
  BIGCOLOR_CHECK(z.ndim() == 2 && z.dim(1) == config_.effective_dim_z(), "Generator: z ", z.describe(),
                 " must be (B, ", config_.effective_dim_z(), ")");
  BIGCOLOR_CHECK(y.ndim() == 2 && y.dim(1) == config_.shared_dim && y.dim(0) == z.dim(0), "Generator: y ",
                 y.describe(), " must be (", z.dim(0), ", ", config_.shared_dim, ")");
  BIGCOLOR_CHECK(h.ndim() == 4 && h.dim(0) == z.dim(0) && h.dim(1) == block_in_channels(start_block),
                 "Generator: features ", h.describe(), " must be (", z.dim(0), ", ", block_in_channels(start_block),
                 ", H, W) to enter block ", start_block);
  Tensor x = h;
  for (std::int64_t i = start_block; i < kBlocks; ++i) {
    x = blocks[static_cast<std::size_t>(i)]->forward(x, block_condition(y, z, i, config_.z_chunk_size()));
    if (i == attention_block) x = attention->forward(x);
  }
  x = output_conv.forward(output_bn.forward(x));
  Tensor out = fn::empty_like(x);
  ops::tanh_forward(out, x);
  saved_.save(*this, {start_block, from_linear, out});
  return out;
}

Tensor Generator::forward(const Tensor& z, const Tensor& y) {
  const std::int64_t chunk = config_.z_chunk_size();
  Tensor z0 = Tensor::empty({z.dim(0), chunk}, DType::F32, z.device());
  ops::copy_columns(z0, 0, z, 0, chunk);
  const Tensor h = linear.forward(z0).reshape({z.dim(0), block_in_channels(0), kBottomWidth, kBottomWidth});
  return run(z, y, 0, h, /*from_linear=*/true);
}

Generator::Gradients Generator::backward(const Tensor& d_out) {
  const Saved s = saved_.take("Generator");
  const std::int64_t chunk = config_.z_chunk_size(), shared_dim = config_.shared_dim;
  Tensor d = fn::empty_like(d_out);
  ops::tanh_backward(d, d_out, s.out);
  d = output_conv.backward(d);
  gradients_ready(output_conv);
  d = output_bn.backward(d);
  gradients_ready(output_bn);
  Gradients g;
  g.d_z = Tensor::zeros({d_out.dim(0), config_.effective_dim_z()}, DType::F32, d_out.device());
  g.d_y = Tensor::zeros({d_out.dim(0), shared_dim}, DType::F32, d_out.device());
  Tensor d_y_part = Tensor::empty({d_out.dim(0), shared_dim}, DType::F32, d_out.device());
  for (std::int64_t i = kBlocks - 1; i >= s.start_block; --i) {
    if (i == attention_block) {
      d = attention->backward(d);
      gradients_ready(*attention);
    }
    GBlock::Gradients block = blocks[static_cast<std::size_t>(i)]->backward(d);
    gradients_ready(*blocks[static_cast<std::size_t>(i)]);
    d = block.d_x;
    ops::copy_columns(d_y_part, 0, block.d_y, 0, shared_dim);  // y_i = cat(y, z chunk i+1)
    fn::add_into(g.d_y, d_y_part);
    ops::copy_columns(g.d_z, (i + 1) * chunk, block.d_y, shared_dim, chunk);
  }
  if (s.from_linear) {
    const Tensor d_z0 = linear.backward(d.reshape({d.dim(0), d.numel() / d.dim(0)}));
    gradients_ready(linear);
    ops::copy_columns(g.d_z, 0, d_z0, 0, chunk);
  } else {
    g.d_h = d;
  }
  return g;
}

}  // namespace bigcolor
