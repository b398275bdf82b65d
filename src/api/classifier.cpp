// The public ImageClassifier (bigcolor/classifier.h) over models/classifier.h.
#include "bigcolor/classifier.h"

#include "api/pipeline.h"
#include "bigcolor/bigcolor.h"
#include "imaging/image.h"
#include "io/imagenet_classes.h"
#include "models/classifier.h"

namespace bigcolor {

ImageClassifier::ImageClassifier(std::unique_ptr<Classifier> classifier) : classifier_(std::move(classifier)) {}
ImageClassifier::ImageClassifier(ImageClassifier&&) noexcept = default;
ImageClassifier& ImageClassifier::operator=(ImageClassifier&&) noexcept = default;
ImageClassifier::~ImageClassifier() = default;

ImageClassifier ImageClassifier::load(const std::string& path, Placement device, int input_size) {
  const Device d = resolve_placement(device, "device");
  return ImageClassifier(std::make_unique<Classifier>(Classifier::load(path, d, input_size)));
}

ImageClassifier ImageClassifier::load(const std::string& path) { return load(path, Placement::Auto); }

std::vector<ClassGuess> ImageClassifier::classify(const Image& photo, int k) const {
  std::vector<ClassGuess> out;
  const auto& table = imagenet_classes();
  for (const ClassPrediction& p : classifier_->classify_gray(to_gray(photo), k)) {
    ClassGuess g;
    g.index = p.index;
    g.probability = p.probability;
    g.logit = p.logit;
    if (static_cast<std::size_t>(p.index) < table.size()) g.wnid = table[p.index].wnid, g.name = table[p.index].names.at(0);
    out.push_back(std::move(g));
  }
  return out;
}

std::string ImageClassifier::variant() const { return classifier_->info().variant; }
int ImageClassifier::input_size() const { return classifier_->input_size(); }
int ImageClassifier::num_classes() const { return static_cast<int>(classifier_->info().num_classes); }

}  // namespace bigcolor
