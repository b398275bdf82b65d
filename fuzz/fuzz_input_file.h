// The readers under fuzz take file paths, so each input is written to one scratch file per process first.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace bigcolor::fuzz {

inline const std::string& scratch_path(const char* suffix) {
  static const std::string path = "/tmp/bigcolor_fuzz_" + std::to_string(::getpid()) + suffix;
  return path;
}

inline const std::string& write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string& path = scratch_path(suffix);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  return path;
}

}  // namespace bigcolor::fuzz
