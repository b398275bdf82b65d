// The `bigcolor` command: colorize, classify, eval, inspect, convert, train. Each subcommand is built the same way: its options
// struct and run_<cmd> in <cmd>.h/.cpp, its CLI11 options in <cmd>_command.cpp (add_<cmd>_command); this file only
// puts them together, parses, and turns errors into exit statuses.
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
#include "bigcolor/bigcolor.h"
#include "cli/classify.h"
#include "cli/colorize.h"
#include "cli/common.h"
#include "cli/convert.h"
#include "cli/eval.h"
#include "cli/inspect.h"
#include "cli/ranks.h"
#include "cli/train.h"
#include "imaging/image.h"
#include "tensor/files.h"

namespace {

using bigcolor::cli::ColorizeOptions;
using bigcolor::cli::ConvertOptions;
using bigcolor::cli::InspectOptions;
using bigcolor::cli::TrainCliOptions;
using bigcolor::Error;
using namespace bigcolor::cli;

std::string version_text() {
  std::string s = std::string("bigcolor ") + bigcolor::version() + " (BigColor colorization runtime; CUDA backend: ";
#ifdef BIGCOLOR_WITH_CUDA
  s += "built";
#else
  s += "not built";
#endif
  return s + ")";
}

const Ranks* g_ranks = nullptr;  // set once MPI (or the single-process stand-in) is up

// An error ends the command. Under mpirun the other ranks may not have met it and could wait for this one in a
// collective forever, so the whole job is ended (MPI_Abort) instead of this rank alone.
int leave(int status) {
  if (g_ranks && g_ranks->distributed()) g_ranks->abort(status);
  return status;
}

int report(const std::string& message) {
  std::cerr << "bigcolor";
  if (g_ranks && g_ranks->distributed()) std::cerr << " (rank " << g_ranks->rank() << ")";
  std::cerr << ": " << one_line(message) << std::endl;
  return leave(1);
}

}  // namespace

int main(int argc, char** argv) {
  bigcolor::install_cleanup_on_signals();  // Ctrl-C or SIGTERM during a write leaves no temporary file behind
  CLI::App app{"bigcolor: colorize grayscale photos with BigColor (ECCV 2022), from the official checkpoints or "
               "a converted .safetensors file.",
               "bigcolor"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", version_text(), "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Run 'bigcolor <command> --help' for the options of each command.");

  ColorizeOptions co;
  CLI::App* colorize = add_colorize_command(app, co);
  ClassifyOptions clo;
  CLI::App* classify = add_classify_command(app, clo);
  EvalOptions eo;
  CLI::App* eval = add_eval_command(app, eo);
  InspectOptions io;
  CLI::App* inspect = add_inspect_command(app, io);
  ConvertOptions vo;
  CLI::App* convert = add_convert_command(app, vo);
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
    // Under mpirun: every rank parses the same command line; only colorize shares its work out (cli/ranks.h).
    const Ranks& ranks = Ranks::world();
    g_ranks = &ranks;
    if (ranks.distributed() && !colorize->parsed() && !train->parsed())
      throw Error("this command runs in one process; under mpirun (" + std::to_string(ranks.size()) +
                  " ranks) only colorize and train are distributed");
    if (colorize->parsed()) return run_colorize(co);
    if (classify->parsed()) return run_classify(clo);
    if (eval->parsed()) return run_eval(eo);
    if (inspect->parsed()) return run_inspect(io);
    if (convert->parsed()) return run_convert(vo);
    if (train->parsed()) return run_train(to);
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "bigcolor: " << one_line(e.what()) << "\nRun with --help for more information." << std::endl;
    return leave(2);
  } catch (const CommonError& e) {  // every rank met it: rank 0 says it once, nobody is left waiting
    if (!g_ranks || g_ranks->rank() == 0) std::cerr << "bigcolor: " << one_line(e.what()) << std::endl;
    return 1;
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
