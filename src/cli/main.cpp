// The `bigcolor` command: colorize, inspect, convert, train. Command-line parsing (CLI11) lives here only; the
// subcommands are plain functions (colorize.h, common.h).
//
// Exit statuses: 0 success; 1 an error (one line "bigcolor: <message>" on stderr), or colorize inputs that failed;
// 2 bad usage (CLI11's message).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>

#include "cli/cli_checks.h"
#include "cli/colorize.h"
#include "cli/common.h"
#include "cli/train.h"
#include "imaging/image.h"
#include "tensor/files.h"

namespace {

using namespace bigcolor;
using namespace bigcolor::cli;

constexpr const char* kColorizeFooter = R"(Output names (in OUT_DIR; with --recursive, in the same subfolders as below the input folder):
  <stem>_c<class:03d>.jpg                   one class, one z (colorize_real.py's naming)
  <stem>_c<class:03d>_z<k:02d>.jpg          --num-z K > 1 (or a --z-file with K > 1 rows): k = 00..K-1
  <stem>_c<A:03d>_c<B:03d>_w<W>.jpg         --mix A B with weight W (printed as %g, e.g. w0.25)
  <stem>_sheet.png                          --sheet: the gray input and every result, side by side
  <stem> is the file name without its last extension; --suffix is added before the extension, --png makes
  .png instead of .jpg. Existing files are an error for that input unless --overwrite.

z: z_k is the k-th block of 119 values drawn from the Philox generator seeded by --seed, times --z-std; every input
and every class of a run use the same z_0..z_{K-1}. The official scripts draw z from PyTorch's generator, so the
same seed gives other z's (pass them with --z-file to reproduce an official result exactly).

Class embedding: shared(c) for --class c; (1 - W) shared(A) + W shared(B) for --mix A B; then
c_scale * embedding + c_bias for all (colorize_multi_c.py's --c_scale/--c_bias).

Not implemented yet: choosing the classes with an ImageNet classifier (colorize_real.py's --topk); name them
with --class.

Progress: one line per input on stderr ("[3/10] photo.jpg 683x1024 -> 256x384, 2 results, 1.4 s", sizes are
width x height: input -> model), then a summary with the peak memory. A failing input is one line naming it;
the others continue and the exit status is 1.)";

std::string version_text() {
  std::string s = std::string("bigcolor ") + kVersion + " (BigColor colorization runtime; CUDA backend: ";
#ifdef BIGCOLOR_WITH_CUDA
  s += "built";
#else
  s += "not built";
#endif
  return s + ")";
}

int report(const std::string& message) {
  std::cerr << "bigcolor: " << one_line(message) << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  install_cleanup_on_signals();  // Ctrl-C or SIGTERM during a write leaves no temporary file behind
  CLI::App app{"bigcolor: colorize grayscale photos with BigColor (ECCV 2022), from the official checkpoints or "
               "a converted .safetensors file.",
               "bigcolor"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", version_text(), "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Run 'bigcolor <command> --help' for the options of each command.");

  // ---- colorize --------------------------------------------------------------------------------------------
  ColorizeOptions co;
  std::string resize = "powerof";
  CLI::App* colorize = app.add_subcommand("colorize", "Colorize grayscale (or colour) images");
  colorize->footer(kColorizeFooter);
  colorize->add_option("inputs", co.inputs,
                       "Image files (.png, .jpg, .jpeg, .bmp) and folders (the images directly inside, sorted by "
                       "name; hidden files skipped)")
      ->required()
      ->type_name("INPUT...")
      ->default_str("");
  colorize->add_option("-o,--output", co.output_dir, "Output folder (created when missing)")
      ->required()
      ->type_name("OUT_DIR");
  auto* ckpt = colorize->add_option("--ckpt", co.ckpt,
                                    "Weights: an official checkpoint folder (EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl; "
                                    "config.pickle beside it or in ../pretrained/) or a .safetensors file made by "
                                    "'bigcolor convert'");
  ckpt->required()->type_name("PATH");
  colorize->add_option("--epoch", co.epoch, "Official folders: the epoch NNN of EG_NNN.ckpt (default: the highest "
                                            "present)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  colorize->add_flag("--no-ema", co.no_ema,
                     "Official folders: use the raw weights of EG_NNN.ckpt instead of the EMA weights of "
                     "EG_EMA_NNN.ckpt (the default, as the official scripts' --use_ema)");
  colorize->add_option("--config", co.config_path,
                       "Official folders: the BigGAN config.pickle, when it is not beside the folder or in "
                       "../pretrained/ or ../../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  colorize->add_option("-c,--class", co.classes,
                       "Classes to colorize with, one result set each: ImageNet indices (0-999), WordNet ids "
                       "(n02099601) or names ('golden retriever'); give them after the inputs, or repeat --class. "
                       "Required unless --mix is given (the classifier-driven --topk of colorize_real.py is not "
                       "implemented yet)")
      ->type_name("CLASS...")
      ->default_str("");
  colorize->add_option("--mix", co.mix, "Mix the class embeddings of two classes A and B (see --mix-weight)")
      ->expected(2)
      ->type_name("A B")
      ->default_str("");
  colorize->add_option("--mix-weight", co.mix_weights,
                       "Weights W of class B in --mix: embedding (1 - W) shared(A) + W shared(B); several values give "
                       "one result each (an interpolation)")
      ->check(number_check())->check(CLI::Range(0.0, 1.0))
      ->type_name("W...");
  colorize->add_option("--c-scale", co.c_scale, "Scale S of every class embedding: S * embedding + B");
  colorize->add_option("--c-bias", co.c_bias, "Bias B added to every class embedding: S * embedding + B");
  std::int64_t seed_value = static_cast<std::int64_t>(co.seed);
  auto* seed = colorize->add_option("--seed", seed_value, "Seed of the z generator (see below)")
                   ->check(CLI::NonNegativeNumber);
  auto* z_std = colorize->add_option("--z-std", co.z_std, "Standard deviation of z ~ N(0, z_std^2)")
                    ->check(CLI::NonNegativeNumber);
  auto* num_z = colorize->add_option("--num-z", co.num_z, "Number of z draws: K results per class (multi-z)")
                    ->check(number_check())->check(CLI::Range(1, 1000));
  colorize->add_option("--z-file", co.z_file,
                       "A safetensors file with a tensor named \"z\" of shape (119) or (K, 119), F32: these z's are "
                       "used exactly, K results per class (replaces --seed, --z-std and --num-z)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE")
      ->excludes(seed)
      ->excludes(z_std)
      ->excludes(num_z);
  colorize->add_option("--resize", resize,
                       "Model input size (colorize_real.py's --type_resize): powerof = short side --size, long side "
                       "rounded up to a multiple of 2^--num-power; square = --size x --size; original = unchanged; "
                       "absolute = short side --size, long side scaled (truncated)")
      ->check(CLI::IsMember({"powerof", "square", "original", "absolute"}));
  colorize->add_option("--size", co.size, "Target size of --resize (the short side, or both for square)")
      ->check(number_check())->check(CLI::Range(16, 8192));
  colorize->add_option("--num-power", co.num_power,
                       "--resize powerof: the long side is a multiple of 2^N (the model needs multiples of 16: N >= 4)")
      ->check(number_check())->check(CLI::Range(0, 10));
  colorize->add_flag("--no-upsample", co.no_upsample,
                     "Keep the model's size instead of resizing the result back to the input's size");
  colorize->add_flag("--rgb", co.rgb,
                     "Save the network's RGB output as it is, instead of fusing its colour (Lab a, b) with the "
                     "input's lightness");
  colorize->add_flag("--png", co.png, "Write PNG files instead of JPEG");
  colorize->add_option("--jpeg-quality", co.jpeg_quality,
                       "JPEG quality (the default is PIL's, which the official scripts save with)")
      ->check(number_check())->check(CLI::Range(1, 100));
  colorize->add_flag("--sheet", co.sheet,
                     "Also write <stem>_sheet.png: the gray input and all results of that input side by side");
  colorize->add_option("--suffix", co.suffix, "Text added to every output name before the extension")
      ->type_name("TEXT");
  colorize->add_flag("--overwrite", co.overwrite, "Replace existing output files (else they are an error)");
  colorize->add_flag("--skip-existing", co.skip_existing,
                     "Keep existing output files: an input whose results all exist is skipped, and only the missing "
                     "results of the others are written (to resume an interrupted run)");
  colorize->add_flag("-r,--recursive", co.recursive,
                     "Also colorize the images in the subfolders of input folders (the output folder itself is "
                     "skipped)");
  colorize->add_option("--device", co.device,
                       "Where the network runs: cpu, cuda, or auto (cuda when a GPU is visible and this build has "
                       "the CUDA backend)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  colorize->add_option("--threads", co.threads, "CPU threads (OpenMP and BLAS; 0: all cores)")
      ->check(number_check())->check(CLI::Range(0, 1024));
  colorize->add_option("--batch", co.batch,
                       "Results per forward pass: all results of one input (classes x z) run in batches of at most N")
      ->check(number_check())->check(CLI::Range(1, 4096));
  colorize->add_flag("-q,--quiet", co.quiet, "No progress lines and no summary (errors are still printed)");
  colorize->add_flag("-v,--verbose", co.verbose,
                     "Also print the model, the device, each forward pass and each file written");

  // ---- inspect ---------------------------------------------------------------------------------------------
  InspectOptions io;
  CLI::App* inspect = app.add_subcommand(
      "inspect",
      "Describe a weights file or checkpoint folder: a .safetensors file (metadata, tensors, colorizer "
      "configuration), a torch.save file (.pth/.ckpt: state dict tensors, or torch_ema's decay, num_updates and "
      "shadow parameters), a pickle (args.pkl, config.pickle: its values as a tree), or an official checkpoint "
      "folder (its files, epochs and colorizer configuration)");
  inspect->footer("");
  inspect->add_option("path", io.path, "The file or folder")->required()->type_name("FILE_OR_DIR");
  inspect->add_option("--epoch", io.epoch, "Official folders: the epoch to describe (default: the highest)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  inspect->add_option("--config", io.config_path,
                      "Official folders: config.pickle, when it is not beside the folder or in ../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");

  // ---- convert ---------------------------------------------------------------------------------------------
  ConvertOptions vo;
  CLI::App* convert = app.add_subcommand(
      "convert", "Convert an official checkpoint folder into one .safetensors file (the weights under their "
                 "official names and the model configuration; read by colorize --ckpt)");
  convert->footer("");
  convert->add_option("--ckpt", vo.ckpt, "The official checkpoint folder (EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl)")
      ->required()
      ->type_name("DIR");
  convert->add_option("-o,--output", vo.output, "The .safetensors file to write (atomically)")
      ->required()
      ->type_name("FILE");
  convert->add_option("--epoch", vo.epoch, "The epoch NNN of EG_NNN.ckpt (default: the highest present)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  convert->add_flag("--no-ema", vo.no_ema, "Convert the raw weights instead of the EMA weights (the default)");
  convert->add_option("--config", vo.config_path,
                      "config.pickle, when it is not beside the folder or in ../pretrained/ or ../../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  convert->add_flag("--overwrite", vo.overwrite, "Replace the output file when it exists (else an error)");
  convert->add_flag("-q,--quiet", vo.quiet, "Do not print the summary line");

  // ---- train -----------------------------------------------------------------------------------------------
  TrainCliOptions to;
  CLI::App* train = add_train_command(app, to);

  // CLI11 would say "A subcommand is required" for a misspelt one: name it, and the commands there are.
  if (argc >= 2 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "bigcolor: unknown command '" << one_line(argv[1]) << "' (commands: " << names
                << ")\nRun with --help for more information." << std::endl;
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // help and version: 0, printed on stdout; errors: the message on stderr
    return code == 0 ? 0 : 2;
  }

  try {
    if (colorize->parsed()) {
      if (co.png && colorize->count("--jpeg-quality") > 0)
        throw UsageError("--jpeg-quality has no effect with --png (PNG is lossless): give one of them");
      co.resize = parse_resize_mode(resize);
      co.seed = static_cast<std::uint64_t>(seed_value);
      return run_colorize(co);
    }
    if (inspect->parsed()) return run_inspect(io);
    if (convert->parsed()) return run_convert(vo);
    if (train->parsed()) return run_train(to);
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "bigcolor: " << one_line(e.what()) << "\nRun with --help for more information." << std::endl;
    return 2;
  } catch (const Error& e) {
    return report(e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return report(e.code().message() + (e.path1().empty() ? "" : ": " + e.path1().string()));
  } catch (const std::bad_alloc&) {
    return report("out of memory");
  } catch (const std::exception& e) {
    return report(e.what());
  }
}
