// bigcolor's public C++ API: colorize photos with BigColor (ECCV 2022) from a program, as `bigcolor colorize`
// does from the command line (the command is a thin user of this header).
//
//   #include <bigcolor/bigcolor.h>
//   bigcolor::Model model = bigcolor::Model::load("ckpts/bigcolor");        // or a .safetensors from convert
//   bigcolor::ColorizeOptions options;
//   options.classes = {"207"};                                               // golden retriever
//   for (const bigcolor::Colorization& r : model.colorize(bigcolor::load_image("photo.jpg"), options))
//     bigcolor::save_image("photo" + r.name + ".jpg", r.image);
//
// Everything the official colorize_real.py / colorize_multi_c.py / colorize_multi_z.py do for one photo happens in
// colorize(): the photo turned gray as torchvision's Grayscale, resized to the model's size (--resize modes), one
// forward per up to `batch` results with the class embeddings (plain or mixed, scaled) and the z's, then each
// output resized back and fused in CIE Lab with the photo's lightness. Load a model once and colorize many photos.
//
// Errors are bigcolor::Error (bigcolor/error.h) with one-line messages that name the file or option concerned.
// Only the standard library appears here; link the imported target bigcolor::bigcolor (CMake) or `pkg-config
// --libs bigcolor`, which carry the BLAS, OpenMP, image and (when built) CUDA libraries.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bigcolor/classifier.h"
#include "bigcolor/precision.h"
#include "bigcolor/error.h"
#include "bigcolor/image.h"

namespace bigcolor {

class Colorizer;  // the network (src/models/colorizer.h)

// The library's version, "MAJOR.MINOR.PATCH".
const char* version();

// Where a model computes.
enum class Placement {
  Auto,  // the GPU when one is visible and the library has its CUDA backend, else the CPU
  CPU,
  CUDA,  // an Error when no GPU is visible or the library was built without CUDA
};

struct LoadOptions {
  Placement device = Placement::Auto;
  // Official checkpoint folders (EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl, config.pickle) only:
  int epoch = -1;             // -1: the highest present
  bool use_ema = true;        // the EMA weights, as the official scripts' --use_ema
  std::string config_path;    // config.pickle when not beside the folder or in ../pretrained/
  // The compute precision of the network's matrix products (bigcolor/precision.h). BF16 on a CPU with AMX or
  // AVX512-BF16 runs on oneDNN, several times faster than FP32; elsewhere it is emulated (the same numbers, slower).
  Precision precision = Precision::FP32;
};

struct ColorizeOptions {
  // Conditioning: classes by ImageNet index ("207"), WordNet id ("n02099601") or name ("golden retriever"); and/or
  // a mix of two classes A, B with one result per weight W: (1 - W) shared(A) + W shared(B). Then every embedding
  // becomes c_scale * embedding + c_bias.
  std::vector<std::string> classes;
  std::vector<std::string> mix;  // empty, or {A, B}
  std::vector<float> mix_weights{0.5f};
  float c_scale = 1.0f;
  float c_bias = 0.0f;
  // z: num_z draws of N(0, z_std^2) from the Philox generator seeded by `seed`, the same for every photo and class;
  // or, when `z` is not empty, exactly these rows (each of the model's dim_z values).
  std::uint64_t seed = 2;
  float z_std = 0.8f;
  int num_z = 1;
  std::vector<std::vector<float>> z;
  // Sizes: resize is "powerof" (short side `size`, long side rounded up to a multiple of 2^num_power), "square",
  // "original" or "absolute", as colorize_real.py's --type_resize.
  std::string resize = "powerof";
  int size = 256;
  int num_power = 4;
  bool no_upsample = false;  // keep the model's size instead of the photo's
  bool rgb = false;          // the network's RGB as it is, not Lab-fused with the photo's lightness
  int batch = 8;             // results per forward pass
};

// The options' numbers and sizes alone, before any model is loaded (a --size that is not a multiple of
// 2^num_power for powerof, a batch below 1, a NaN scale, an unknown resize mode): OptionError.
void check_options(const ColorizeOptions& options);

// One colorization: `image` is the picture to save; `name` the part of the official file name after the stem
// ("_c207", "_c207_z01" with several z, "_c088_c015_w0.5" for a mix).
struct Colorization {
  int class_a = 0;
  int class_b = -1;     // >= 0 for a mix
  float weight = 0.0f;  // the mix weight of class_b
  int z_index = 0;
  std::string name;
  Image image;
};

// Long work reports here before each forward pass: results [first, first + count) of `total`.
struct Progress {
  int first = 0;
  int count = 0;
  int total = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

struct ModelInfo {
  std::string source;      // the path it was loaded from
  std::string device;      // "cpu" or "cuda"
  int n_classes = 0;
  int dim_z = 0;
  int generator_width = 0;  // G_ch
  int encoder_width = 0;
  std::string precision;  // "fp32", "bf16", "fp16"
  // What computes the reduced-precision convolutions: "fp32" (none), "oneDNN <isa>" (native bf16 on this CPU),
  // "cuDNN, cuBLAS and the attention kernel on tensor cores" (the GPU) or "emulated" (operands rounded, float32 arithmetic: fp16 on a CPU,
  // a CPU without native bf16, BIGCOLOR_LOWP_ENGINE=emulated).
  std::string precision_engine;
};

class Model {
 public:
  // Any supported file: an official checkpoint folder, or a .safetensors file of `bigcolor convert` / `bigcolor
  // train` (ema.safetensors). Weights are checked (shapes, dtypes, NaN/Inf) and placed once, for inference.
  static Model load(const std::string& path, const LoadOptions& options = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // Every (conditioning, z) result for one photo (gray or RGB; any size the --resize mode makes a multiple of 16),
  // conditionings in the order given (classes, then the mix weights), z fastest. `input_name` names the photo in
  // errors ("photo.jpg: the model input would be 40x40 ..."). An output with NaN/Inf is an Error, never a picture.
  std::vector<Colorization> colorize(const Image& photo, const ColorizeOptions& options, const ProgressCallback& progress = {},
                               const std::string& input_name = "image") const;
  // The same for an image file.
  std::vector<Colorization> colorize_file(const std::string& path, const ColorizeOptions& options,
                                    const ProgressCallback& progress = {}) const;

  // Checks `options` against this model without computing anything (classes inside the model, z rows of its
  // dim_z, sizes and numbers that make sense): an Error, or OptionError for an option that makes no sense.
  void check(const ColorizeOptions& options) const;

  ModelInfo info() const;
  // The network itself, for callers that go below this API (src/models/colorizer.h).
  Colorizer& network() const;

 private:
  struct State;
  explicit Model(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace bigcolor
