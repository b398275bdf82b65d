// `bigcolor colorize`: the real-photo colorization of the official colorize_real.py / colorize_multi_c.py /
// colorize_multi_z.py, driven by classes the user names (the classifier-driven top-k is not implemented yet).
//
// For each input image:
//   1. load it; RGB is turned gray as torchvision's Grayscale (imaging/image.h: to_gray), H x W;
//   2. resize the gray to the model's size (imaging/resize.h: model_input_size, --resize/--size/--num-power);
//      both sides must be multiples of 16 (the encoder downsamples 16x), else the input fails with a clear message;
//   3. one batched forward per up to --batch results: x repeated, the class embeddings, the z's
//      (Colorizer::forward_with_c, eval mode, gradients off);
//   4. each output o in [-1, 1] becomes (o + 1) / 2, is resized back to H x W (unless --no-upsample) and fused in
//      CIE Lab with the gray's lightness (unless --rgb): imaging/color.h lab_fusion;
//   5. saved as <stem>_c<class:03d>[_z<k:02d>][<suffix>].jpg (see result_name).
//
// Class embeddings: plain class c: shared(c); mixed A/B with weight W: (1 - W) shared(A) + W shared(B); then
// c_scale * c + c_bias for every one of them (colorize_multi_c.py's --c_scale/--c_bias). All float32, host side.
//
// z: z_k (k = 0..num_z-1) is the k-th block of dim_z values drawn from Rng(seed) (Philox, normal()) times z_std, so
// every input and every class of a run gets the same z_0..z_{K-1}, and a result does not depend on which other
// inputs or classes are in the run. --z-file gives the K z's exactly instead.
//
// The pieces below are what run_colorize uses; the tests call them directly for the tensor-level parity check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "imaging/resize.h"
#include "models/colorizer.h"
#include "tensor/tensor.h"

namespace bigcolor::cli {

struct ColorizeOptions {
  std::vector<std::string> inputs;  // image files and folders
  std::string output_dir;
  // weights
  std::string ckpt;         // an official checkpoint folder or one of our .safetensors files
  int epoch = -1;           // official folders: -1 = the highest epoch present
  bool no_ema = false;      // official folders: raw weights instead of the EMA shadows
  std::string config_path;  // official folders: config.pickle when not found beside/above the folder
  // conditioning
  std::vector<std::string> classes;   // ImageNet indices, WordNet ids or names
  std::vector<std::string> mix;       // empty, or two classes A B
  std::vector<float> mix_weights{0.5f};
  float c_scale = 1.0f;
  float c_bias = 0.0f;
  // z
  std::uint64_t seed = 2;
  float z_std = 0.8f;
  int num_z = 1;
  std::string z_file;  // safetensors with "z": (dim_z) or (K, dim_z); replaces seed/z_std/num_z
  // sizes and colour
  ResizeMode resize = ResizeMode::PowerOf;
  int size = 256;
  int num_power = 4;
  bool no_upsample = false;
  bool rgb = false;
  // output
  bool png = false;
  int jpeg_quality = kOfficialJpegQuality;  // PIL's default, what the official scripts save with
  bool sheet = false;
  std::string suffix;
  bool overwrite = false;
  bool skip_existing = false;  // an input whose results all exist is skipped (a resumed run); missing ones are made
  bool recursive = false;
  // execution
  std::string device = "auto";  // cpu, cuda, auto
  int threads = 0;              // 0: OpenMP's default
  int batch = 8;
  bool quiet = false;
  bool verbose = false;
};

// Runs the whole command: 0 when every input was colorized, 1 when any failed (each failure was reported as one
// line on stderr). Throws Error for what stops the whole run (no model, unknown class, bad --z-file, an output folder
// that cannot be made, no GPU for --device cuda) and UsageError for inconsistent options.
int run_colorize(const ColorizeOptions& options);

// ---- the pipeline's pieces -------------------------------------------------------------------------------------

// How one result is conditioned: a class, or a mix of two.
struct Conditioning {
  int class_a = 0;
  int class_b = -1;     // >= 0: mixed, c = (1 - weight) shared(class_a) + weight shared(class_b)
  float weight = 0.0f;  // the weight of class_b
  bool mixed() const { return class_b >= 0; }
};

// --class values, then (when `mix` holds two classes) one mix per weight. Classes are resolved with
// resolve_imagenet_class (an Error names an unknown or ambiguous one); one named twice is kept once. An empty
// result is a UsageError.
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

}  // namespace bigcolor::cli
