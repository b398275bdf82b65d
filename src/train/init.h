// Initialization for training from scratch, as the official code does it: BigGAN's and BigColor's 'ortho' init
// (torch.nn.init.orthogonal_ on the weight of every Conv2d, Linear and Embedding, spectrally normalized or not),
// PyTorch's default uniform(±1/sqrt(fan_in)) for the biases of those layers, random u0 vectors for spectral norm
// (BigGAN draws them N(0, 1)), sv0 = 1; batch-norm gains 1, biases 0, stored statistics 0 / 1 and the attention's
// gamma 0 keep the values the layers are constructed with. Draws come from our Philox Rng (the distribution is
// PyTorch's, the numbers are not).
#pragma once

#include "layers/module.h"
#include "tensor/rng.h"

namespace bigcolor::train {

// Every "<layer>.weight" with at least 2 dimensions gets an orthogonal matrix (viewed as (shape[0], rest): rows
// orthonormal when rows <= rest, else columns), its sibling "<layer>.bias" uniform(±1/sqrt(rest)); "u0" ~ N(0, 1);
// "sv0" = 1. Everything else is left alone. The module may be on any device.
void init_orthogonal(Module& m, Rng& rng);

// An orthogonal (rows, cols) matrix, row-major: Gram–Schmidt (twice, for full accuracy) on a Gaussian matrix with
// the signs fixed as torch's orthogonal_ fixes them (so the result is Haar-distributed).
std::vector<float> orthogonal_matrix(std::int64_t rows, std::int64_t cols, Rng& rng);

}  // namespace bigcolor::train
