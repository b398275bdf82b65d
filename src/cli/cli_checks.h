// Command-line checks the subcommands share (CLI11 validators).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>

namespace bigcolor::cli {

// Placed before a CLI::Range: "--size: 'abc' is not a number" instead of CLI11's "Value abc not in range 16 to
// 8192", which reads as if abc were a number out of range.
inline CLI::Validator number_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        std::strtod(text.c_str(), &end);
        if (text.empty() || end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
        return "";
      },
      "", "number");
}

}  // namespace bigcolor::cli
