// The pieces of the colorize pipeline that Model::colorize (bigcolor/bigcolor.h) is made of, for the tests'
// tensor-level parity check and for callers below the public API.
//
// Class embeddings: plain class c: shared(c); mixed A/B with weight W: (1 - W) shared(A) + W shared(B); then
// c_scale * c + c_bias for every one of them (colorize_multi_c.py's --c_scale/--c_bias). All float32, host side.
//
// z: z_k (k = 0..num_z-1) is the k-th block of dim_z values drawn from Rng(seed) (Philox, normal()) times z_std, so
// every input and every class of a run gets the same z_0..z_{K-1}, and a result does not depend on which other
// inputs or classes are in the run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bigcolor/bigcolor.h"
#include "models/colorizer.h"
#include "tensor/tensor.h"

namespace bigcolor {

// "640x480": width x height, as the progress lines and messages print sizes.
std::string size_text(std::int64_t width, std::int64_t height);

// The device a Placement means here and now; errors start with `option` ("--device cuda: no CUDA GPU is visible").
Device resolve_placement(Placement placement, const std::string& option);


// How one result is conditioned: a class, or a mix of two.
struct Conditioning {
  int class_a = 0;
  int class_b = -1;     // >= 0: mixed, c = (1 - weight) shared(class_a) + weight shared(class_b)
  float weight = 0.0f;  // the weight of class_b
  bool mixed() const { return class_b >= 0; }
};

// --class values, then (when `mix` holds two classes) one mix per weight. Classes are resolved with
// resolve_imagenet_class (an Error names an unknown or ambiguous one); one named twice is kept once. An empty
// result is an OptionError.
std::vector<Conditioning> resolve_conditionings(const std::vector<std::string>& classes,
                                                const std::vector<std::string>& mix,
                                                const std::vector<float>& mix_weights);

// Output file name without folder and extension: "<stem>_c007", "<stem>_c007_z03" (when num_z > 1),
// "<stem>_c007_c042_w0.25" (mixed; the weight printed with up to 6 significant digits), then `suffix`.
std::string result_name(const std::string& stem, const Conditioning& conditioning, int z_index, int num_z,
                        const std::string& suffix);

// (count, dim) F32 CPU: row k = dim values of Rng(seed).normal() scaled by z_std, drawn in order.
Tensor draw_z(std::uint64_t seed, float z_std, int count, std::int64_t dim);

// The "z" tensor of a safetensors file, (dim) or (K, dim) F32, as (K, dim). Errors name the file.
Tensor load_z_file(const std::string& path, std::int64_t dim);

// (conditionings, shared_dim) F32 CPU: each conditioning's embedding from the model's G.shared, mixed, then
// c_scale * c + c_bias. Classes must be below the model's n_classes (an Error otherwise).
Tensor class_embeddings(Colorizer& model, const std::vector<Conditioning>& conditionings, float c_scale,
                        float c_bias);

// The network on one gray image for several (embedding, z) pairs: x_model (1, 1, h, w) F32 CPU, c_embed (N, D) and
// z (N, dim_z) F32 CPU. Runs forward_with_c on `device` in chunks of at most `batch` rows (x repeated) and returns
// the raw outputs (N, 3, h, w) in [-1, 1], on the CPU. `on_batch(first, count)` is called before each chunk.
Tensor run_network(Colorizer& model, const Tensor& x_model, const Tensor& c_embed, const Tensor& z, int batch,
                   Device device, const std::function<void(int, int)>& on_batch = {});

// One network output (3, h, w) or (1, 3, h, w) in [-1, 1] -> the saved picture (3, H', W') in [0, 1]: (o + 1) / 2,
// resized to `gray`'s size (the original, H x W) unless `no_upsample` (then `gray_model`, the model-size gray,
// gives the size and the lightness), and Lab-fused with that gray unless `rgb`.
Tensor finish_result(const Tensor& output, const Tensor& gray, const Tensor& gray_model, bool no_upsample, bool rgb);

}  // namespace bigcolor
