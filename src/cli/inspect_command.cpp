// `bigcolor inspect`'s command line (CLI11): every option into InspectOptions (inspect.h).
#include <CLI/CLI.hpp>

#include "cli/cli_checks.h"
#include "cli/inspect.h"

namespace bigcolor::cli {

CLI::App* add_inspect_command(CLI::App& app, InspectOptions& o) {
  CLI::App* inspect = app.add_subcommand(
      "inspect",
      "Describe a weights file or checkpoint folder: a .safetensors file (metadata, tensors, colorizer "
      "configuration), a torch.save file (.pth/.ckpt: state dict tensors, or torch_ema's decay, num_updates and "
      "shadow parameters), a pickle (args.pkl, config.pickle: its values as a tree), or an official checkpoint "
      "folder (its files, epochs and colorizer configuration)");
  inspect->footer("");
  inspect->add_option("path", o.path, "The file or folder")->required()->type_name("FILE_OR_DIR");
  inspect->add_option("--epoch", o.epoch, "Official folders: the epoch to describe (default: the highest)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("highest");
  inspect->add_option("--config", o.config_path,
                      "Official folders: config.pickle, when it is not beside the folder or in ../pretrained/")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  return inspect;
}

}  // namespace bigcolor::cli
