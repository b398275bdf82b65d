#include "cli/classify.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/input_scan.h"
#include "imaging/image.h"
#include "io/imagenet_classes.h"
#include "models/classifier.h"
#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor::cli {
namespace fs = std::filesystem;

namespace {

// The class's first name and WordNet id when the index is an ImageNet-1k class, else empty.
const ImageNetClass* imagenet_class(int index) {
  const auto& table = imagenet_classes();
  return index >= 0 && static_cast<std::size_t>(index) < table.size() ? &table[index] : nullptr;
}

}  // namespace

int run_classify(const ClassifyOptions& o) {
  const Device device = pick_device(o.device);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  int failed = 0;
  std::vector<std::string> images;
  FolderScan scan;  // folders: the images directly inside, sorted, as colorize reads them
  for (const std::string& arg : o.inputs) {
    std::error_code ec;
    if (const std::string problem = file_problem(arg); !problem.empty()) {
      std::cerr << "bigcolor: " << one_line(arg + ": " + problem) << std::endl;
      ++failed;
    } else if (fs::is_directory(arg, ec)) {
      std::vector<InputImage> found;
      scan.scan(arg, arg, found);
      if (found.empty()) {
        std::cerr << "bigcolor: " << arg << ": no images (" << kReadableImageExtensions << ") in this folder"
                  << std::endl;
        ++failed;
      }
      for (const InputImage& i : found) images.push_back(i.path);
    } else {
      images.push_back(arg);
    }
  }
  for (const std::string& problem : scan.problems) {
    std::cerr << "bigcolor: " << one_line(problem) << std::endl;
    ++failed;
  }
  if (images.empty()) return 1;

  const Classifier classifier = Classifier::load(o.classifier, device, o.size);
  const ClassifierInfo& info = classifier.info();
  BIGCOLOR_CHECK(o.topk <= info.num_classes, "--topk ", o.topk, ": ", o.classifier, " has ", info.num_classes,
                 " classes");
  if (!o.json)
    std::cerr << "classifier: " << info.variant << " (" << info.structure << "), " << format_count(info.parameters)
              << " parameters, input " << classifier.input_size() << "x" << classifier.input_size() << std::endl;
  nlohmann::json doc = nlohmann::json::array();
  for (const std::string& path : images) {
    try {
      const std::vector<ClassPrediction> top = classifier.classify_gray(to_gray(load_image(path)), o.topk);
      nlohmann::json classes = nlohmann::json::array();
      std::string line = path + ":";
      for (std::size_t i = 0; i < top.size(); ++i) {
        const ImageNetClass* c = imagenet_class(top[i].index);
        const std::string name = c ? c->names.at(0) : "";
        classes.push_back({{"index", top[i].index}, {"wnid", c ? c->wnid : ""}, {"name", name},
                           {"probability", top[i].probability}, {"logit", top[i].logit}});
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * top[i].probability);
        line += (i ? ", " : " ") + std::to_string(top[i].index) + (name.empty() ? "" : " " + name) + " " + pct;
      }
      if (o.json)
        doc.push_back({{"image", path}, {"classes", classes}});
      else
        std::cout << line << std::endl;
    } catch (const std::exception& e) {
      std::string message = one_line(e.what());
      if (message.rfind(path, 0) != 0) message = path + ": " + message;
      std::cerr << "bigcolor: " << message << std::endl;
      ++failed;
    }
  }
  if (o.json) std::cout << doc.dump(2) << std::endl;
  return failed == 0 ? 0 : 1;
}

}  // namespace bigcolor::cli
