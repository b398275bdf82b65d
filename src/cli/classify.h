// `bigcolor classify`: the ImageNet classifier of the official real-photo job (colorize_real.py --cls_model) on
// its own: each image's top classes with their names and softmax probabilities, as text or JSON. The pipeline is
// the one `colorize --classifier` uses (models/classifier.h: gray, repeated to 3 channels, resized to the
// classifier's square size without antialiasing, no ImageNet normalization).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct ClassifyOptions {
  std::vector<std::string> inputs;  // image files, and folders (the images directly inside, sorted by name)
  std::string classifier;           // a timm state dict (.pth, .bin, .safetensors)
  int topk = 5;
  int size = 0;                     // 0: the classifier's own input size
  bool json = false;                // one JSON document on stdout instead of text lines
  std::string device = "auto";
  int threads = 0;
};

// 0 when every image was classified, 1 when any failed (each reported in one line on stderr).
int run_classify(const ClassifyOptions& options);
CLI::App* add_classify_command(CLI::App& app, ClassifyOptions& options);  // classify_command.cpp

}  // namespace bigcolor::cli
