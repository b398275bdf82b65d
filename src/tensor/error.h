// Error types shared by the whole runtime.
//
// bigcolor::Error is a *user* error: a bad file, a wrong shape, a device mismatch. Its message is one line that a
// command-line front end can print as is before exiting non-zero. Internal failures of CUDA, cuBLAS or cuDNN carry
// the source file and line (see cuda/cuda_check.h) and are also thrown as Error so nothing aborts the process.
#pragma once

#include <sstream>
#include <string>

#include "bigcolor/error.h"  // class Error (public)

namespace bigcolor {

namespace detail {
template <typename... Parts>
[[noreturn]] void throw_error(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}
}  // namespace detail

}  // namespace bigcolor

// BIGCOLOR_CHECK(cond, parts...): throws bigcolor::Error whose message is the concatenation of parts.
#define BIGCOLOR_CHECK(cond, ...)                   \
  do {                                              \
    if (!(cond)) ::bigcolor::detail::throw_error(__VA_ARGS__); \
  } while (0)
