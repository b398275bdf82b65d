// libFuzzer target: torch.save archives (zip + pickle) and plain pickles. Any input must end in a result or a
// bigcolor::Error; a crash, hang, leak or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input_file.h"
#include "io/pickle.h"
#include "io/torch_file.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = bigcolor::fuzz::write_scratch(data, size, ".pt");
  try {
    bigcolor::load_torch_state(path);
  } catch (const bigcolor::Error&) {
  }
  try {
    bigcolor::load_pickle_file(path);
  } catch (const bigcolor::Error&) {
  }
  return 0;
}
