// What the tests of the `bigcolor` executable share (test_cli.cpp, test_cli_train.cpp): scratch folders, running the
// executable (BIGCOLOR_CLI_PATH, from CMake) with its stdout and stderr captured, and small textured test pictures.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "test_util.h"

namespace bigcolor::test::cli {

namespace fs = std::filesystem;

// A fresh folder, removed with its content at the end of the scope; `scratch / "name"` is a path string in it.
class Scratch {
 public:
  std::string operator/(const std::string& name) const { return (folder_.path() / name).string(); }

 private:
  test::TempFolder folder_{"bigcolor_cli_test_"};
};

struct Result {
  int status = -1;
  std::string out, err;
  // The lines of stderr that start with `prefix`.
  std::vector<std::string> err_lines(const std::string& prefix = "") const {
    std::vector<std::string> lines;
    std::istringstream s(err);
    for (std::string line; std::getline(s, line);)
      if (line.rfind(prefix, 0) == 0) lines.push_back(line);
    return lines;
  }
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs a shell command line with its stdout and stderr captured (in files beside nothing else of the test).
inline Result run_shell(const std::string& command_line) {
  static std::atomic<int> counter{0};
  const fs::path base = fs::temp_directory_path() / ("bigcolor_cli_run_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(counter++));
  std::string command = command_line;  // built with += (GCC 12's -Wrestrict false positive on chained +)
  command += " >";
  command += quote(base.string() + ".out");
  command += " 2>";
  command += quote(base.string() + ".err");
  const int raw = std::system(command.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  r.out = read_text(base.string() + ".out");
  r.err = read_text(base.string() + ".err");
  std::error_code ec;
  fs::remove(base.string() + ".out", ec);
  fs::remove(base.string() + ".err", ec);
  return r;
}

// `bigcolor args...` as a shell command line, after `prefix` (mpirun and its options, an environment variable).
inline std::string command_line(const std::string& prefix, const std::vector<std::string>& args) {
  std::string command = prefix;
  if (!command.empty()) command += ' ';
  command += quote(BIGCOLOR_CLI_PATH);
  for (const std::string& a : args) {
    command += ' ';
    command += quote(a);
  }
  return command;
}

inline Result run_with(const std::string& prefix, const std::vector<std::string>& args) {
  return run_shell(command_line(prefix, args));
}

// How many times `what` occurs in `text` (lines said once, by one rank).
inline std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

inline Result run(const std::vector<std::string>& args) { return run_with("", args); }

inline std::string describe(const Result& r) { return "status " + std::to_string(r.status) + "\nstderr:\n" + r.err; }

// A textured test picture (8-bit values), gray (1 channel) or RGB.
inline Image make_image(int width, int height, int channels, unsigned seed = 1) {
  Image im;
  im.width = width;
  im.height = height;
  im.channels = channels;
  im.pixels.resize(static_cast<std::size_t>(width) * height * channels);
  std::mt19937 gen(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const double smooth = 0.5 + 0.4 * std::sin(0.21 * x + 0.13 * y + c) * std::cos(0.07 * (x - y));
        const int v = std::clamp(static_cast<int>(smooth * 255.0) + static_cast<int>(gen() % 31) - 15, 0, 255);
        im.pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] = static_cast<float>(v) / 255.0f;
      }
  return im;
}

inline std::string write_image(const std::string& path, int width, int height, int channels = 3, unsigned seed = 1) {
  fs::create_directories(fs::path(path).parent_path());
  save_image(path, make_image(width, height, channels, seed));
  return path;
}

// An ImageFolder tree of `per_class` pictures in each of `classes` class folders (sizes vary by image and class).
inline std::string write_image_folder(const std::string& root, int classes, int per_class) {
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < per_class; ++i)
      write_image(root + "/class" + std::to_string(c) + "/img" + std::to_string(i) + ".png", 80 + 8 * i, 70 + 4 * c, 3,
                  static_cast<unsigned>(100 * c + i));
  return root;
}

}  // namespace bigcolor::test::cli
