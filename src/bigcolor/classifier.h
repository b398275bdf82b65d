// Part of the public API (<bigcolor/bigcolor.h>): the ImageNet classifier of the official real-photo job
// (colorize_real.py --cls_model), for photos whose class nobody knows. timm's resnet50d and the TF-ported
// EfficientNets (tf_efficientnet_b0 … b7, tf_efficientnet_l2_ns_475), read from timm's files (model.safetensors,
// pytorch_model.bin, *.pth), forward only. Pass its classes on to the colorizer:
//
//   bigcolor::ImageClassifier classifier = bigcolor::ImageClassifier::load("resnet50d.safetensors");
//   bigcolor::ColorizeOptions options;
//   for (const bigcolor::ClassGuess& g : classifier.classify(photo, 5)) options.classes.push_back(std::to_string(g.index));
//   model.colorize(photo, options);  // one result per class, as colorize_real.py --topk 5
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigcolor/image.h"

namespace bigcolor {

class Classifier;          // src/models/classifier.h
enum class Placement;      // bigcolor/bigcolor.h

struct ClassGuess {
  int index = 0;             // ImageNet-1k class
  std::string wnid, name;    // empty when the classifier has classes beyond ImageNet-1k's table
  double probability = 0.0;  // softmax over all the logits
  float logit = 0.0f;
};

class ImageClassifier {
 public:
  // A timm state dict; the variant is recognized from its tensors (an Error names the file and the first tensor
  // that does not fit). input_size 0: the variant's own (224 for resnet50d, 475 for the L2).
  static ImageClassifier load(const std::string& path, Placement device, int input_size = 0);
  static ImageClassifier load(const std::string& path);  // Placement::Auto
  ImageClassifier(ImageClassifier&&) noexcept;
  ImageClassifier& operator=(ImageClassifier&&) noexcept;
  ~ImageClassifier();

  // The top `k` classes of a photo (gray or RGB), best first, through the official pipeline: gray, repeated to 3
  // channels, resized to input_size() squared without antialiasing, no ImageNet normalization.
  std::vector<ClassGuess> classify(const Image& photo, int k = 5) const;

  std::string variant() const;  // "resnet50d", "tf_efficientnet_l2_ns_475", "custom tf_efficientnet", ...
  int input_size() const;
  int num_classes() const;

 private:
  explicit ImageClassifier(std::unique_ptr<Classifier> classifier);
  std::unique_ptr<Classifier> classifier_;
};

}  // namespace bigcolor
