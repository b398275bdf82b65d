// An example user of the installed library: colorizes one photo with one class.
//   colorize_photo MODEL PHOTO OUT_PREFIX [CLASS]
// MODEL: an official checkpoint folder or a .safetensors file; CLASS: an ImageNet index, WordNet id or name (207).
// Writes OUT_PREFIX<name>.jpg (e.g. photo_c207.jpg) and prints one line per result.
#include <bigcolor/bigcolor.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s MODEL PHOTO OUT_PREFIX [CLASS]\n", argv[0]);
    return 2;
  }
  try {
    const bigcolor::Model model = bigcolor::Model::load(argv[1]);
    bigcolor::ColorizeOptions options;
    options.classes = {argc == 5 ? argv[4] : "207"};
    const auto progress = [](const bigcolor::Progress& p) {
      std::fprintf(stderr, "forward of results %d..%d of %d\n", p.first + 1, p.first + p.count, p.total);
    };
    for (const bigcolor::Colorization& result : model.colorize_file(argv[2], options, progress)) {
      const std::string path = std::string(argv[3]) + result.name + ".jpg";
      bigcolor::save_image(path, result.image);
      std::printf("%s %dx%d (class %d, bigcolor %s on %s)\n", path.c_str(), result.image.width, result.image.height,
                  result.class_a, bigcolor::version(), model.info().device.c_str());
    }
  } catch (const bigcolor::Error& e) {
    std::fprintf(stderr, "colorize_photo: %s\n", e.what());
    return 1;
  }
  return 0;
}
