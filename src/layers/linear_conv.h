// The weight layers: plain (encoder, G.shared) and spectrally normalized (BigGAN's SNConv2d, SNLinear,
// SNEmbedding), with the official state-dict names: `weight`, `bias`, and for SN layers the buffers `u0` (1, out)
// and `sv0` (1). Each forward of an SN layer runs one power-iteration step (train and eval) and uses W/σ;
// training mode writes the new u into u0 and σ into sv0. The backward treats u and v as constants.
#pragma once

#include "layers/module.h"
#include "layers/spectral_norm.h"

namespace bigcolor {

// y (B, O) = x (B, I) · Wᵀ + b.
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias);
  Tensor forward(const Tensor& x);
  Tensor backward(const Tensor& d_out, bool need_d_in = true);  // returns d_x (undefined if not needed)
  Parameter& weight;
  Parameter* bias = nullptr;

 private:
  struct Saved {
    Tensor x;
  };
  SavedForBackward<Saved> saved_;
};

class SNLinear : public Module {
 public:
  SNLinear(std::int64_t in_features, std::int64_t out_features, bool bias, float eps);
  Tensor forward(const Tensor& x);
  Tensor backward(const Tensor& d_out, bool need_d_in = true);
  Parameter& weight;
  Parameter* bias = nullptr;
  Tensor& u0;
  Tensor& sv0;

 protected:
  void on_weights_fixed(bool fixed) override { sn_.set_fixed(fixed); }

 private:
  SpectralNorm sn_;
  struct Saved {
    Tensor x, weight_sn;
    SpectralNorm::Saved sn;
  };
  SavedForBackward<Saved> saved_;
};

// Conv2d, stride 1, zero padding; forward_upsampled computes conv(upsample_nearest2x(x)) (3×3, padding 1 only)
// without materializing the upsampled input. backward() mirrors whichever forward ran last.
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel_size, int padding, bool bias);
  Tensor forward(const Tensor& x);
  Tensor forward_upsampled(const Tensor& x);
  Tensor backward(const Tensor& d_out, bool need_d_in = true);
  Parameter& weight;
  Parameter* bias = nullptr;

 private:
  int padding_;
  struct Saved {
    Tensor x;
    bool upsampled;
  };
  SavedForBackward<Saved> saved_;
};

class SNConv2d : public Module {
 public:
  SNConv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel_size, int padding, bool bias, float eps);
  Tensor forward(const Tensor& x);
  Tensor forward_upsampled(const Tensor& x);
  Tensor backward(const Tensor& d_out, bool need_d_in = true);
  Parameter& weight;
  Parameter* bias = nullptr;
  Tensor& u0;
  Tensor& sv0;

 protected:
  void on_weights_fixed(bool fixed) override { sn_.set_fixed(fixed); }

 private:
  int padding_;
  SpectralNorm sn_;
  struct Saved {
    Tensor x, weight_sn;
    SpectralNorm::Saved sn;
    bool upsampled;
  };
  SavedForBackward<Saved> saved_;
  Tensor forward_as(const Tensor& x, bool upsampled);
};

// Embedding lookup of I32 indices (B) -> (B, D). backward() accumulates into weight.grad (no input gradient).
class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t dim);
  Tensor forward(const Tensor& indices);
  void backward(const Tensor& d_out);
  Parameter& weight;

 private:
  struct Saved {
    Tensor indices;
  };
  SavedForBackward<Saved> saved_;
};

// SNEmbedding: W_mat = weight (num_embeddings, dim), u0 (1, num_embeddings).
class SNEmbedding : public Module {
 public:
  SNEmbedding(std::int64_t num_embeddings, std::int64_t dim, float eps);
  Tensor forward(const Tensor& indices);
  void backward(const Tensor& d_out);
  Parameter& weight;
  Tensor& u0;
  Tensor& sv0;

 protected:
  void on_weights_fixed(bool fixed) override { sn_.set_fixed(fixed); }

 private:
  SpectralNorm sn_;
  struct Saved {
    Tensor indices;
    SpectralNorm::Saved sn;
  };
  SavedForBackward<Saved> saved_;
};

}  // namespace bigcolor
