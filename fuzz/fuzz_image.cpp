// libFuzzer target: the image loader (libpng, libjpeg-turbo, stb for BMP; our header checks and size limits).
#include <cstddef>
#include <cstdint>

#include "fuzz_input_file.h"
#include "imaging/image.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = bigcolor::fuzz::write_scratch(data, size, ".img");
  try {
    const bigcolor::Image image = bigcolor::load_image(path);
    (void)bigcolor::to_gray(image);
  } catch (const bigcolor::Error&) {
  }
  return 0;
}
