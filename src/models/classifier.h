// The ImageNet classifiers of the official real-photo job (colorize_real.py --cls_model): timm's ResNet-D
// (`resnet50d`, default size 224) and the TF-ported EfficientNets (`tf_efficientnet_b0` … `b7`, and the default
// `tf_efficientnet_l2_ns_475` at 475), forward only, in eval mode, read from the files users have: timm state dicts
// saved by torch.save (`pytorch_model.bin`, `*.pth`) or the model hub's `model.safetensors`.
//
// Loading is strict. The architecture is inferred from the tensors' names and shapes (block counts, widths,
// kernel sizes, squeeze-and-excitation widths), the complete list of names and shapes that architecture has is
// derived again and must equal the file's exactly (a missing, unexpected or misshapen tensor is an Error naming the
// file and the tensor), and the variant is named from timm's table (resnet50d, tf_efficientnet_b3, ...). A file of
// a consistent but unknown size is accepted as "custom" and needs an explicit input size. torchvision's / timm's
// plain `resnet50` (7×7 stem, strided 1×1 shortcut) is read too. Batch norm is folded into the convolutions at load.
//
// EfficientNet files are read as the TF port (timm's tf_ models: "same" padding, batch-norm eps 1e-3): the
// tensors of timm's PyTorch-native efficientnet_* models have the same names and shapes and cannot be told apart,
// so a native file would load and compute slightly wrong. Say which file you give.
//
// The official pipeline (classify_gray): the gray photo in [0, 1] (1, 1, H, W), repeated to 3 channels, resized to
// (S, S) bilinearly without antialiasing (torchvision 0.11 Resize on a tensor, imaging/resize.h), with NO ImageNet
// mean/std normalization (the official script feeds the [0, 1] tensor directly), then the logits' top-k.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor {

struct ClassifierNet;  // the network (models/classifier_nets.h)

struct ClassPrediction {
  int index = 0;             // ImageNet class
  float logit = 0.0f;
  double probability = 0.0;  // softmax over all the logits
};

struct ClassifierInfo {
  std::string family;      // "resnet" or "tf_efficientnet"
  std::string variant;     // timm's name ("resnet50d", "tf_efficientnet_l2_ns_475") or "custom resnet" / ...
  int input_size = 0;      // the square size images are resized to (0: unknown, give one)
  std::int64_t num_classes = 0;
  std::int64_t parameters = 0;  // in the file, batch-norm statistics excluded (timm's count)
  std::string structure;   // one line: stem, stages (blocks each), head
};

// The names and shapes of a state dict, without the data (a manifest; num_batches_tracked excluded).
using StateShapes = std::map<std::string, Shape>;

// Infers and checks the architecture from names and shapes alone (no weights needed: the L2's 480M parameters can
// be checked from a manifest). `source` names the file in messages. Throws Error as described above.
ClassifierInfo identify_classifier(const StateShapes& shapes, const std::string& source);

class Classifier {
 public:
  // Reads a timm state dict (torch.save or safetensors, told apart by content). input_size 0: the variant's.
  static Classifier load(const std::string& path, Device device = Device::CPU, int input_size = 0);
  // From tensors already in memory (tests, benchmarks): name -> CPU F32 tensor.
  static Classifier from_state(const std::map<std::string, Tensor>& state, const std::string& source,
                               Device device = Device::CPU, int input_size = 0);

  const ClassifierInfo& info() const { return info_; }
  int input_size() const { return info_.input_size; }
  Device device() const { return device_; }

  // images (B, 3, h, w) F32 on any device (copied to the model's) -> logits (B, classes) on the CPU. Any size
  // the network accepts; the official pipeline uses input_size() squared.
  Tensor logits(const Tensor& images) const;

  // The official pipeline on one gray photo (1, 1, H, W) in [0, 1], CPU: top `k` classes, best first.
  std::vector<ClassPrediction> classify_gray(const Tensor& gray, int k) const;

 private:
  ClassifierInfo info_;
  Device device_ = Device::CPU;
  std::shared_ptr<const ClassifierNet> net_;
};

// (1, 1, H, W) gray in [0, 1] -> (1, 3, size, size): repeated to 3 channels, resized as torchvision 0.11 does.
Tensor classifier_input(const Tensor& gray, int size);

// The standard ImageNet evaluation input (`bigcolor eval`'s accuracy protocol): rgb (1, 3, H, W) in [0, 1] -> the
// short side resized to `resize` and the long side to int(resize · long / short) (torchvision 0.11 Resize(256) on a
// tensor: bilinear, no antialiasing), center-cropped to crop × crop (torchvision CenterCrop: top =
// int(round((h − crop) / 2.0)) with Python's round, half to even; left likewise), normalized with ImageNet's mean
// (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) -> (1, 3, crop, crop).
Tensor imagenet_eval_input(const Tensor& rgb, int resize = 256, int crop = 224);

// The k largest of one row of logits (k ≤ its length), best first; ties keep the lower index first (as
// torch.topk on the CPU), probabilities from a softmax in double.
std::vector<ClassPrediction> top_classes(const std::vector<float>& logits, int k);

}  // namespace bigcolor
