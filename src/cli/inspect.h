// `bigcolor inspect FILE_OR_DIR`: what a weights file or checkpoint folder holds (inspect.cpp), on stdout.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct InspectOptions {
  std::string path;
  std::string config_path;  // official folders: config.pickle when not beside the checkpoints
  int epoch = -1;           // official folders: the epoch to describe (-1: the highest)
};
int run_inspect(const InspectOptions& options);  // writes to stdout; throws Error

CLI::App* add_inspect_command(CLI::App& app, InspectOptions& options);  // inspect_command.cpp

}  // namespace bigcolor::cli
