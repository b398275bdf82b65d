// `bigcolor convert`'s command line (CLI11): every option into ConvertOptions (convert.h).
#include <CLI/CLI.hpp>

#include "cli/cli_checks.h"
#include "cli/convert.h"

namespace bigcolor::cli {

CLI::App* add_convert_command(CLI::App& app, ConvertOptions& o) {
  CLI::App* convert = app.add_subcommand(
      "convert", "Convert an official checkpoint folder into one .safetensors file (the weights under their "
                 "official names and the model configuration; read by colorize --ckpt), or rewrite one of our "
                 ".safetensors files with another --storage");
  convert->footer("");
  convert->add_option("--ckpt", o.ckpt,
                      "The official checkpoint folder (EG_NNN.ckpt, EG_EMA_NNN.ckpt, args.pkl), or one of our "
                      ".safetensors colorizer files")
      ->required()
      ->type_name("DIR_OR_FILE");
  convert->add_option("-o,--output", o.output, "The .safetensors file to write (atomically)")
      ->required()
      ->type_name("FILE");
  convert->add_option("--epoch", o.epoch, "The epoch NNN of EG_NNN.ckpt (default: the highest present)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  convert->add_flag("--no-ema", o.no_ema, "Convert the raw weights instead of the EMA weights (the default)");
  convert->add_option("--config", o.config_path,
                      "config.pickle, when it is not beside the folder or in ../pretrained/ or ../../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  convert->add_option("--storage", o.storage,
                      "How the weights are stored: fp32 (exact), or bf16 / fp16 (half the bytes, each weight rounded "
                      "to nearest; loading widens them to float32 exactly, and the model computes in float32)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  convert->add_flag("--overwrite", o.overwrite, "Replace the output file when it exists (else an error)");
  convert->add_flag("-q,--quiet", o.quiet, "Do not print the summary line");
  return convert;
}

}  // namespace bigcolor::cli
