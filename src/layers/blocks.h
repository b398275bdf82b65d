// The residual blocks of BigColor with the official names and parameter order.
//
// GBlock (generator, always upsampling in BigColor): h = relu(bn1(x, y)); h = conv1(up(h)); h = relu(bn2(h, y));
//   h = conv2(h); out = h + conv_sc(up(x)). conv1 runs as one fused upsampling convolution; conv_sc (1×1)
//   commutes with nearest upsampling and runs at low resolution (4× fewer FLOPs, exact). in1/in2 are DGP's unused
//   instance-norm parameters: loaded and saved, never computed with.
// DBlock (discriminator, wide): h = preactivation ? relu(x) : x; h = conv2(relu(conv1(h))); h = avgpool(h) if
//   downsampling; shortcut = preactivation ? avgpool(conv_sc(x)) : conv_sc(avgpool(x)) (each part when present);
//   conv_sc exists when in != out or downsampling.
// ResConvBlock (encoder, 'adabatch', relu, avg pool): h = relu(normalize_1(x, c)); h = avgpool(h) if down;
//   h = conv_1(h); h = relu(normalize_2(h, c)); h = conv_2(h); main = conv(avgpool(x) if down else x);
//   out = dropout(main + h) (dropout only in training, and only where p > 0).
#pragma once

#include <memory>

#include "layers/linear_conv.h"
#include "layers/norms.h"
#include "tensor/rng.h"

namespace bigcolor {

// DGP's nn.InstanceNorm2d(affine=True) kept only for its parameters (frozen: weight 1, bias 0 at construction).
class UnusedInstanceNorm : public Module {
 public:
  explicit UnusedInstanceNorm(std::int64_t channels);
  Parameter& weight;
  Parameter& bias;
};

class GBlock : public Module {
 public:
  struct Gradients {
    Tensor d_x;  // (B, Cin, H, W)
    Tensor d_y;  // (B, y_dim)
  };
  GBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t y_dim, float bn_eps, float sn_eps);
  Tensor forward(const Tensor& x, const Tensor& y);  // (B, Cin, H, W), (B, y_dim) -> (B, Cout, 2H, 2W)
  Gradients backward(const Tensor& d_out);

  SNConv2d conv1, conv2, conv_sc;
  CCBN bn1, bn2;
  UnusedInstanceNorm in1, in2;
};

class DBlock : public Module {
 public:
  DBlock(std::int64_t in_channels, std::int64_t out_channels, bool preactivation, bool downsample, float sn_eps);
  Tensor forward(const Tensor& x);
  Tensor backward(const Tensor& d_out, bool need_d_in = true);

  SNConv2d conv1, conv2;
  std::unique_ptr<SNConv2d> conv_sc;  // present when in != out or downsampling

 private:
  bool preactivation_, downsample_;
  struct Saved {
    Tensor x, h0, h1_relu;  // input, the (pre)activated input, relu(conv1(h0))
    Shape h2_shape;         // conv2's output shape, before pooling
  };
  SavedForBackward<Saved> saved_;
};

class ResConvBlock : public Module {
 public:
  struct Gradients {
    Tensor d_x;  // (B, Cin, H, W)
    Tensor d_c;  // (B, c_dim)
  };
  ResConvBlock(std::int64_t in_channels, std::int64_t out_channels, bool downsample, float dropout,
               std::int64_t c_dim = 128);
  // x (B, Cin, H, W), c (B, c_dim) the class embedding. In training with dropout, `dropout_mask` (the output's
  // shape, entries 0 or 1/(1-p)) is used when given, else drawn from the Rng set by set_rng().
  Tensor forward(const Tensor& x, const Tensor& c, const Tensor& dropout_mask = Tensor{});
  Gradients backward(const Tensor& d_out);
  void set_rng(Rng* rng) { rng_ = rng; }
  float dropout() const { return dropout_; }

  Conv2d conv, conv_1, conv_2;
  ClassConditionNorm normalize_1, normalize_2;

 private:
  bool downsample_;
  float dropout_;
  Rng* rng_ = nullptr;
  struct Saved {
    Shape x_shape, h_shape;  // the input's shape; normalize_1's output shape (before pooling)
    Tensor mask;             // the dropout mask the forward applied (undefined: none)
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
