// libFuzzer target: `bigcolor inspect` on any file (src/cli/inspect.cpp), the command a user runs first on an
// untrusted file. Its report must stay bounded by the input: a pickle whose memo references share sub-objects
// (tests/golden/hostile/shared_memo.pkl: 326 bytes, 2^40 leaves) would otherwise print gigabytes, which libFuzzer
// reports as a timeout or as exceeding -rss_limit_mb. Any input must end in a report or a bigcolor::Error.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>

#include "cli/inspect.h"
#include "fuzz_input_file.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cout.setstate(std::ios::failbit);  // the reports are built and discarded: only their cost matters here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bigcolor::cli::InspectOptions options;
  options.path = bigcolor::fuzz::write_scratch(data, size, ".pkl");
  try {
    bigcolor::cli::run_inspect(options);
  } catch (const bigcolor::Error&) {
  }
  return 0;
}
