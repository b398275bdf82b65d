// `bigcolor convert`: an official checkpoint folder -> one .safetensors file (convert.cpp).
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
  std::string config_path;
  bool overwrite = false;
  bool quiet = false;
};
int run_convert(const ConvertOptions& options);  // throws Error

CLI::App* add_convert_command(CLI::App& app, ConvertOptions& options);  // convert_command.cpp

}  // namespace bigcolor::cli
