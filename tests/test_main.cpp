// The test runner: doctest's, plus one option. `--require-gpu` (used by the CTest entry of the "cuda" suite)
// prints that the GPU tests were skipped and exits 77, which CTest reports as "Skipped", when this build has no
// CUDA backend or no GPU is visible. A skipped GPU test is therefore never counted as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "tensor/tensor.h"

int main(int argc, char** argv) {
  std::vector<char*> args;
  bool require_gpu = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--require-gpu") == 0) {
      require_gpu = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  if (require_gpu && !bigcolor::cuda_available()) {
#ifdef BIGCOLOR_WITH_CUDA
    std::printf("SKIPPED: no CUDA GPU visible; the CUDA-vs-CPU tests did not run\n");
#else
    std::printf("SKIPPED: this build has no CUDA backend; the CUDA-vs-CPU tests did not run\n");
#endif
    return 77;
  }
  doctest::Context context(static_cast<int>(args.size()), args.data());
  return context.run();
}
