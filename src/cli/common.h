// What the `bigcolor` command's subcommands share: the error kinds that decide the exit status, message
// formatting, and the process's peak memory.
//
// Exit statuses: 0 success; 1 a bigcolor::Error or file error (printed as one line "bigcolor: <message>"), or, for
// `colorize`, at least one input that failed; 2 bad command-line usage (CLI11's message, or a UsageError for
// combinations of options CLI11 cannot check itself).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "api/pipeline.h"
#include "io/pickle.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace bigcolor::cli {


// A command line that parses but makes no sense (e.g. --size not a multiple of 2^--num-power): exit status 2.
using UsageError = OptionError;

// One line: newlines and other control characters become spaces, so every message stays on its line.
inline std::string one_line(const std::string& message) {
  std::string out = message;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

// "1.4 s", "12 ms".
inline std::string format_seconds(double seconds) {
  char buffer[64];
  if (seconds < 1.0) std::snprintf(buffer, sizeof buffer, "%.0f ms", seconds * 1000.0);
  else std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  return buffer;
}

// "512 B", "3.2 KiB", "210 MiB", "1.5 GiB".
inline std::string format_bytes(std::uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[64];
  if (unit == 0) std::snprintf(buffer, sizeof buffer, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buffer, sizeof buffer, value < 10.0 ? "%.1f %s" : "%.0f %s", value, units[unit]);
  return buffer;
}

// "1,234,567".
inline std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// The process's peak resident set size (getrusage's ru_maxrss, which Linux gives in KiB), in bytes.
inline std::uint64_t peak_host_memory() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024u;
}

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// --device: cpu, cuda (an Error when no GPU is visible or the build has no CUDA backend), or auto.
inline Device pick_device(const std::string& name) {
  if (name == "cpu") return resolve_placement(Placement::CPU, "--device");
  if (name == "cuda") return resolve_placement(Placement::CUDA, "--device");
  if (name == "auto") return resolve_placement(Placement::Auto, "--device");
  throw UsageError("--device must be cpu, cuda or auto, not '" + printable(name) + "'");
}

}  // namespace bigcolor::cli
