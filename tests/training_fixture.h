// A reduced-width training setup for the tests: the tiny colorizer and discriminator (G_ch = encoder ch = width,
// D_ch = 2·width, 10 classes), a tiny VGG16 (widths 4..16), orthogonal initialization from a seed, a Trainer on the CPU.
#pragma once

#include <memory>
#include <vector>

#include "train/init.h"
#include "train/trainer.h"

namespace bigcolor::test {

inline ColorizerConfig tiny_training_config(std::int64_t width) {
  ColorizerConfig config;
  config.biggan.G_ch = width;
  config.biggan.D_ch = 2 * width;  // D's attention (2·D_ch channels) needs a multiple of 8
  config.biggan.n_classes = 10;
  config.encoder_ch = width;
  return config;
}

inline std::unique_ptr<VGG16Features> tiny_vgg(Rng& rng) {
  auto vgg = std::make_unique<VGG16Features>(std::array<std::int64_t, 9>{4, 4, 8, 8, 8, 8, 8, 16, 16});
  train::init_orthogonal(*vgg, rng);
  return vgg;
}

struct TinyTraining {
  explicit TinyTraining(std::uint64_t seed, std::int64_t width = 2, train::TrainOptions options = {}) {
    Rng rng(seed);
    eg = std::make_unique<Colorizer>(tiny_training_config(width));
    d = std::make_unique<Discriminator>(tiny_training_config(width).biggan);
    train::init_orthogonal(*eg, rng);
    train::init_orthogonal(*d, rng);
    Rng vgg_rng(12345);  // the loss network is not part of a checkpoint: the same one for every seed
    vgg = tiny_vgg(vgg_rng);
    options.adam_g.lr = 1e-3;  // big enough that a few steps move the weights visibly
    options.adam_d.lr = 1e-3;
    trainer = std::make_unique<train::Trainer>(*eg, *d, vgg.get(), options, seed + 1000);
  }
  std::unique_ptr<Colorizer> eg;
  std::unique_ptr<Discriminator> d;
  std::unique_ptr<VGG16Features> vgg;
  std::unique_ptr<train::Trainer> trainer;
};

// `count` batches of `batch` random images (h x w) in [0, 1] with classes in [0, 10).
inline std::vector<train::StepBatch> tiny_batches(int count, std::int64_t batch, std::int64_t h, std::int64_t w,
                                                  std::uint64_t seed) {
  Rng rng(seed);
  std::vector<train::StepBatch> out;
  for (int i = 0; i < count; ++i) {
    train::StepBatch b;
    b.x = Tensor::empty({batch, 3, h, w});
    rng.fill_uniform(b.x, 0.0f, 1.0f);
    std::vector<std::int32_t> classes;
    for (std::int64_t j = 0; j < batch; ++j) classes.push_back(static_cast<std::int32_t>(rng.next_u32() % 10));
    b.classes = Tensor::from_indices(classes, {batch});
    out.push_back(b);
  }
  return out;
}

}  // namespace bigcolor::test
