// `bigcolor convert`: an official checkpoint folder, or one of our files, -> one .safetensors file (convert.cpp).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct ConvertOptions {
  std::string ckpt;
  std::string output;
  int epoch = -1;  // -1: the highest present
  bool no_ema = false;
  std::string storage = "fp32";  // how the weights are stored: fp32, bf16 or fp16
  std::string config_path;
  bool overwrite = false;
  bool quiet = false;
};
int run_convert(const ConvertOptions& options);  // throws Error

CLI::App* add_convert_command(CLI::App& app, ConvertOptions& options);  // convert_command.cpp

}  // namespace bigcolor::cli
