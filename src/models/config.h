// The configuration of the BigColor networks. Defaults are BigColor's (BigGAN-256 from DGP, spec section 3):
// G_ch = D_ch = 96, resolution 256, dim_z 120 split hierarchically into 7 chunks of 17 (119 used), shared_dim 128,
// attention at 64×64, BN eps 1e-5, SN eps 1e-6; the encoder EncoderF_Res with ch_unit 96 and 'adabatch' norms,
// the generator entered at block 2 (dim_f 16). Reduced widths (tests) change G_ch/D_ch/encoder_ch only.
#pragma once

#include <cstdint>
#include <string>

namespace bigcolor {

struct BigGANConfig {
  std::int64_t G_ch = 96;
  std::int64_t D_ch = 96;
  std::int64_t resolution = 256;
  std::int64_t dim_z = 120;
  std::int64_t shared_dim = 128;
  std::int64_t n_classes = 1000;
  std::int64_t G_attn = 64;  // the resolution that gets a self-attention block (0: none)
  std::int64_t D_attn = 64;
  float BN_eps = 1e-5f;
  float SN_eps = 1e-6f;

  // hier = true: z is split into (number of G blocks + 1) chunks of dim_z / chunks values.
  std::int64_t num_slots() const { return 7; }  // six blocks at 256×256, plus the linear layer's chunk
  std::int64_t z_chunk_size() const { return dim_z / num_slots(); }
  std::int64_t effective_dim_z() const { return z_chunk_size() * num_slots(); }  // 119 for BigGAN-256
  std::int64_t y_dim() const { return shared_dim + z_chunk_size(); }           // 145: cat(shared(c), z chunk)
};

struct ColorizerConfig {
  BigGANConfig biggan;
  std::int64_t encoder_ch = 96;  // EncoderF_Res ch_unit; its output (8·ch) feeds G block 2, whose input is 8·G_ch
  std::int64_t id_mid_layer = 2;  // dim_f 16: the encoder's output is (B, 8·ch, H/16, W/16)
  float encoder_dropout = 0.2f;   // res1..res4 in training
};

}  // namespace bigcolor
