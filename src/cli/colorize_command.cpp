// `bigcolor colorize`'s command line (CLI11): every option into a ColorizeOptions (colorize.h).
#include <CLI/CLI.hpp>

#include "cli/cli_checks.h"
#include "cli/colorize.h"

namespace bigcolor::cli {

namespace {

constexpr const char* kColorizeFooter = R"(Output names (in OUT_DIR; with --recursive, in the same subfolders as below the input folder):
  <stem>_c<class:03d>.jpg                   one class, one z (colorize_real.py's naming)
  <stem>_c<class:03d>_z<k:02d>.jpg          --num-z K > 1 (or a --z-file with K > 1 rows): k = 00..K-1
  <stem>_c<A:03d>_c<B:03d>_w<W>.jpg         --mix A B with weight W (printed as %g, e.g. w0.25)
  <stem>_sheet.png                          --sheet: the gray input and every result, side by side
  <stem> is the file name without its last extension; --suffix is added before the extension, --png makes
  .png instead of .jpg. Existing files are an error for that input unless --overwrite (replace them) or
  --skip-existing (keep them; an input whose results all exist is skipped). --suffix may not hold / or ..

z: z_k is the k-th block of 119 values drawn from the Philox generator seeded by --seed, times --z-std; every input
and every class of a run use the same z_0..z_{K-1}. The official scripts draw z from PyTorch's generator, so the
same seed gives other z's (pass them with --z-file to reproduce an official result exactly).

Class embedding: shared(c) for --class c; (1 - W) shared(A) + W shared(B) for --mix A B; then
c_scale * embedding + c_bias for all (colorize_multi_c.py's --c_scale/--c_bias).

Classes from a classifier (colorize_real.py): with --classifier FILE and no --class or --mix, each photo is
classified first (gray, repeated to 3 channels, resized to the classifier's square size without antialiasing and
without ImageNet normalization, as the official script) and colorized once for each of its --topk classes, named
_c<class> as above. --class or --mix, when given, win over the classifier.

Progress: one line per input on stderr ("[3/10] photo.jpg 683x1024 -> 256x384, 2 results, 1.4 s", sizes are
width x height: input -> model), then a summary with the peak memory. A failing input is one line naming it;
the others continue and the exit status is 1.)";

}  // namespace

CLI::App* add_colorize_command(CLI::App& app, ColorizeOptions& o) {
  // ---- colorize --------------------------------------------------------------------------------------------
  CLI::App* colorize = app.add_subcommand("colorize", "Colorize grayscale (or colour) images");
  colorize->footer(kColorizeFooter);
  colorize->add_option("inputs", o.inputs,
                       "Image files (.png, .jpg, .jpeg, .bmp) and folders (the images directly inside, sorted by "
                       "name; hidden files skipped)")
      ->required()
      ->type_name("INPUT...")
      ->default_str("");
  colorize->add_option("-o,--output", o.output_dir, "Output folder (created when missing)")
      ->type_name("OUT_DIR")
      ->default_str("results");
  auto* ckpt = colorize->add_option("--ckpt", o.ckpt,
                                    "Weights: an official checkpoint folder (EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl; "
                                    "config.pickle beside it or in ../pretrained/) or a .safetensors file made by "
                                    "'bigcolor convert' or 'bigcolor train' (default: the official release in "
                                    "ckpts/bigcolor when present, else the small model bundled in weights/)");
  ckpt->type_name("PATH");
  colorize->add_option("--epoch", o.epoch, "Official folders: the epoch NNN of EG_NNN.ckpt (default: the highest "
                                            "present)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  colorize->add_flag("--no-ema", o.no_ema,
                     "Official folders: use the raw weights of EG_NNN.ckpt instead of the EMA weights of "
                     "EG_EMA_NNN.ckpt (the default, as the official scripts' --use_ema)");
  colorize->add_option("--config", o.config_path,
                       "Official folders: the BigGAN config.pickle, when it is not beside the folder or in "
                       "../pretrained/ or ../../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  colorize->add_option("-c,--class", o.request.classes,
                       "Classes to colorize with, one result set each: ImageNet indices (0-999), WordNet ids "
                       "(n02099601) or names ('golden retriever'); give them after the inputs, or repeat --class. "
                       "Required unless --mix or --classifier is given")
      ->type_name("CLASS...")
      ->default_str("");
  colorize->add_option("--classifier", o.classifier,
                       "An ImageNet classifier that picks the classes of each photo (colorize_real.py --cls_model): "
                       "a timm resnet50d or tf_efficientnet_* (b0-b7, l2_ns_475) state dict, .pth/.bin or "
                       ".safetensors (tools/get_weights.sh --classifier NAME fetches them)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  colorize->add_option_function<int>("--topk", [&o](int k) { o.topk = k, o.topk_given = true; },
                                     "With --classifier: colorize with each photo's K most likely classes")
      ->check(number_check())
      ->check(CLI::Range(1, 1000))
      ->default_str("5");
  colorize->add_option("--classifier-size", o.classifier_size,
                       "With --classifier: the square size photos are resized to (default: the classifier's, 224 "
                       "for resnet50d, 475 for tf_efficientnet_l2_ns_475)")
      ->check(number_check())
      ->check(CLI::Range(16, 4096));
  colorize->add_option("--mix", o.request.mix, "Mix the class embeddings of two classes A and B (see --mix-weight)")
      ->expected(2)
      ->type_name("A B")
      ->default_str("");
  colorize->add_option("--mix-weight", o.request.mix_weights,
                       "Weights W of class B in --mix: embedding (1 - W) shared(A) + W shared(B); several values give "
                       "one result each (an interpolation)")
      ->check(number_check())->check(CLI::Range(0.0, 1.0))
      ->type_name("W...");
  colorize->add_option("--c-scale", o.request.c_scale, "Scale S of every class embedding: S * embedding + B");
  colorize->add_option("--c-bias", o.request.c_bias, "Bias B added to every class embedding: S * embedding + B");
  auto* seed = colorize->add_option("--seed", o.request.seed, "Seed of the z generator (see below)")
                   ->check(number_check())
                   ->check(CLI::NonNegativeNumber);
  auto* z_std = colorize->add_option("--z-std", o.request.z_std, "Standard deviation of z ~ N(0, z_std^2)")
                    ->check(CLI::NonNegativeNumber);
  auto* num_z = colorize->add_option("--num-z", o.request.num_z, "Number of z draws: K results per class (multi-z)")
                    ->check(number_check())->check(CLI::Range(1, 1000));
  colorize->add_option("--z-file", o.z_file,
                       "A safetensors file with a tensor named \"z\" of shape (119) or (K, 119), F32: these z's are "
                       "used exactly, K results per class (replaces --seed, --z-std and --num-z)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE")
      ->excludes(seed)
      ->excludes(z_std)
      ->excludes(num_z);
  colorize->add_option_function<std::string>("--resize", [&o](const std::string& v) { o.request.resize = v; },
                       "Model input size (colorize_real.py's --type_resize): powerof = short side --size, long side "
                       "rounded up to a multiple of 2^--num-power; square = --size x --size; original = unchanged; "
                       "absolute = short side --size, long side scaled (truncated)")
      ->check(CLI::IsMember({"powerof", "square", "original", "absolute"}))
      ->default_str("powerof");
  colorize->add_option_function<int>("--size", [&o](int v) { o.request.size = v, o.size_given = true; },
                                     "Target size of --resize (the short side, or both for square; default 256, the "
                                     "bundled model's own size for it)")
      ->check(number_check())->check(CLI::Range(16, 8192))
      ->default_str("256");
  colorize->add_option("--num-power", o.request.num_power,
                       "--resize powerof: the long side is a multiple of 2^N (the model needs multiples of 16: N >= 4)")
      ->check(number_check())->check(CLI::Range(0, 10));
  colorize->add_flag("--no-upsample", o.request.no_upsample,
                     "Keep the model's size instead of resizing the result back to the input's size");
  colorize->add_flag("--rgb", o.request.rgb,
                     "Save the network's RGB output as it is, instead of fusing its colour (Lab a, b) with the "
                     "input's lightness");
  colorize->add_flag("--png", o.png, "Write PNG files instead of JPEG");
  const auto set_quality = [&o](int q) {
    o.jpeg_quality = q;
    o.jpeg_quality_given = true;
  };
  colorize->add_option_function<int>("--jpeg-quality", set_quality,
                                     "JPEG quality (the default is PIL's, which the official scripts save with)")
      ->check(number_check())
      ->check(CLI::Range(1, 100))
      ->default_str(std::to_string(kOfficialJpegQuality));
  colorize->add_flag("--sheet", o.sheet,
                     "Also write <stem>_sheet.png: the gray input and all results of that input side by side");
  colorize->add_option("--suffix", o.suffix, "Text added to every output name before the extension")
      ->type_name("TEXT");
  colorize->add_flag("--overwrite", o.overwrite, "Replace existing output files (else they are an error)");
  colorize->add_flag("--skip-existing", o.skip_existing,
                     "Keep existing output files: an input whose results all exist is skipped, and only the missing "
                     "results of the others are written (to resume an interrupted run)");
  colorize->add_flag("-r,--recursive", o.recursive,
                     "Also colorize the images in the subfolders of input folders (each real folder once, however "
                     "many symlinks lead to it; the output folder itself, and an earlier run's results beside their "
                     "photos, are skipped)");
  colorize->add_flag("--class-from-folder", o.class_from_folder,
                     "The validation run of the official colorize.py: every input is an ImageFolder root (val/); each "
                     "image is colorized with the index of its class folder (sorted names, as torchvision's "
                     "ImageFolder) and written as OUT_DIR/<class folder>/<stem>.jpg; results already present are "
                     "kept (resumable) unless --overwrite");
  colorize->add_option("--limit", o.limit, "Colorize only the first N images (in input order)")
      ->check(number_check())
      ->check(CLI::Range(1, 100000000));
  colorize->add_option("--device", o.device,
                       "Where the network runs: cpu, cuda, or auto (cuda when a GPU is visible and this build has "
                       "the CUDA backend)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  colorize->add_option("--precision", o.precision,
                       "The network's convolutions and matrix products: fp32, or bf16/fp16 operands with float32 "
                       "accumulation (batch norm, softmax and everything else stay fp32). bf16 on a CPU with AMX or "
                       "AVX512-BF16 runs on oneDNN, several times faster; on a GPU bf16/fp16 run on cuDNN/cuBLAS tensor "
                       "cores; elsewhere they are emulated (same numbers, slower)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  colorize->add_option("--threads", o.threads, "CPU threads (OpenMP and BLAS; 0: all cores)")
      ->check(number_check())->check(CLI::Range(0, 1024));
  colorize->add_option("--batch", o.request.batch,
                       "Results per forward pass: all results of one input (classes x z) run in batches of at most N")
      ->check(number_check())->check(CLI::Range(1, 4096));
  colorize->add_flag("-q,--quiet", o.quiet, "No progress lines and no summary (errors are still printed)");
  colorize->add_flag("-v,--verbose", o.verbose,
                     "Also print the model, the device, each forward pass and each file written");
  return colorize;
}

}  // namespace bigcolor::cli
