// `bigcolor colorize`: the real-photo colorization of the official colorize_real.py / colorize_multi_c.py /
// colorize_multi_z.py, driven by classes the user names (--class, --mix) or, as colorize_real.py does for photos
// of unknown class, by the top-k classes of an ImageNet classifier (--topk, --classifier: models/classifier.h).
//
// The pipeline for one photo is the library's (bigcolor/bigcolor.h: Model::colorize; its pieces in
// api/pipeline.h): gray as torchvision's Grayscale, resized to the model's size (--resize/--size/--num-power; both
// sides multiples of 16), one batched forward per up to --batch results, then each output resized back (unless
// --no-upsample) and fused in CIE Lab with the photo's lightness (unless --rgb). This command adds the files: the
// inputs (files and folders, --recursive), the output names <stem>_c<class:03d>[_z<k:02d>][<suffix>].jpg
// (api/pipeline.h: result_name), --sheet, --overwrite / --skip-existing, and the progress lines.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "bigcolor/bigcolor.h"
#include "imaging/resize.h"

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct ColorizeOptions {
  std::vector<std::string> inputs;  // image files and folders
  std::string output_dir = "results";
  // weights
  std::string ckpt;         // an official checkpoint folder or one of our .safetensors files
  int epoch = -1;           // official folders: -1 = the highest epoch present
  bool no_ema = false;      // official folders: raw weights instead of the EMA shadows
  std::string config_path;  // official folders: config.pickle when not found beside/above the folder
  // conditioning, z, sizes, colour and batch: the library's options (bigcolor/bigcolor.h), filled from --class,
  // --mix, --mix-weight, --c-scale, --c-bias, --seed, --z-std, --num-z, --resize, --size, --num-power,
  // --no-upsample, --rgb and --batch
  bigcolor::ColorizeOptions request;
  std::string z_file;  // safetensors with "z": (dim_z) or (K, dim_z); replaces seed/z_std/num_z
  // classes from a classifier (colorize_real.py): used when neither --class nor --mix is given
  std::string classifier;   // a timm resnet50d / tf_efficientnet_* state dict (.pth, .bin or .safetensors)
  int topk = 5;             // colorize_real.py's default
  bool topk_given = false;
  bool size_given = false;  // --size was given (else the bundled model's training size replaces 256)
  int classifier_size = 0;  // 0: the variant's (224 for resnet50d, 475 for the L2)
  // output
  bool png = false;
  int jpeg_quality = kOfficialJpegQuality;  // PIL's default, what the official scripts save with
  bool jpeg_quality_given = false;          // --jpeg-quality was given (refused with --png: it would do nothing)
  bool sheet = false;
  std::string suffix;
  bool overwrite = false;
  bool skip_existing = false;  // an input whose results all exist is skipped (a resumed run); missing ones are made
  bool recursive = false;
  // the validation run (the official colorize.py over ImageNet val/): each input is a torchvision ImageFolder root,
  // each image's class is its class folder's index, results keep the tree and are named <stem><suffix>.jpg
  bool class_from_folder = false;
  int limit = 0;  // > 0: only the first N images (in input order; colorize.py's --iter_max)
  // execution
  std::string device = "auto";  // cpu, cuda, auto
  std::string precision = "fp32";  // fp32, bf16, fp16: the network's matrix products (bigcolor/precision.h)
  int threads = 0;              // 0: OpenMP's default
  bool quiet = false;
  bool verbose = false;
};

// Runs the whole command: 0 when every input was colorized, 1 when any failed (each failure was reported as one
// line on stderr). Throws Error for what stops the whole run (no model, unknown class, bad --z-file, an output folder
// that cannot be made, no GPU for --device cuda) and UsageError for inconsistent options.
int run_colorize(const ColorizeOptions& options);

CLI::App* add_colorize_command(CLI::App& app, ColorizeOptions& options);  // colorize_command.cpp

}  // namespace bigcolor::cli
