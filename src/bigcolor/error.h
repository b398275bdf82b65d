// bigcolor's one exception type, part of the public API (<bigcolor/bigcolor.h>).
//
// bigcolor::Error is a *user* error: a bad file, a wrong shape, a device mismatch, an option that makes no sense.
// Its message is one line, starting with the file or option concerned, that a front end can print as is. Internal
// failures of CUDA, cuBLAS or cuDNN carry the source file and line and are thrown as Error too, so nothing aborts.
#pragma once

#include <stdexcept>
#include <string>

namespace bigcolor {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An option or combination of options that makes no sense (a --size that is not a multiple of 2^--num-power, no
// class to colorize with): the command line reports it as usage (exit status 2).
class OptionError : public Error {
 public:
  explicit OptionError(const std::string& message) : Error(message) {}
};

}  // namespace bigcolor
