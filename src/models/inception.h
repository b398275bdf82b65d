// The Inception-v3 feature extractor of FID (`bigcolor eval`), forward only, in eval mode: the 2048-d output of
// the global average pool before the fc layer, under one of two protocols (/work/spec14.md, "FID"):
//
//   pytorch-fid  the TF FID Inception of pytorch-fid (pt_inception-2015-12-05-6726825d.pth): torchvision's
//                Inception3 with 1008 classes and no AuxLogits, whose Mixed_5b..5d, 6b..6e, 7b and 7c are
//                pytorch-fid's FIDInceptionA / C / E_1 / E_2: their 3×3/1/1 average pools divide by the cells inside
//                the input (count_include_pad=False, TF's rule) and E_2's pool branch is a 3×3/1/1 MAX pool.
//                Input: [0, 1] -> bilinear resize to 299×299 (no antialias) -> 2·x − 1.
//   torchvision  torchvision's inception_v3_google-0cc3c7bd.pth (1000 classes, with AuxLogits.*, which are read,
//                checked and not used): every average pool divides by kernel² (count_include_pad=True).
//                Input: [0, 1] -> resize as above -> ImageNet mean/std -> the model's transform_input
//                (x·std/0.5 + (mean − 0.5)/0.5 per channel, as torchvision builds it for those weights).
//
// Loading is strict, as the classifiers' (models/classifier.h): torch.save or safetensors (told apart by content),
// one wrapping prefix stripped, and the file's names and shapes must be exactly those of one of the two layouts —
// fc 1008 without AuxLogits (pytorch-fid) or fc 1000 with AuxLogits (torchvision) — else an Error naming the file and
// the first missing, unexpected or misshapen tensor. The tensors of FIDInceptionA/C/E and torchvision's
// InceptionA/C/E have the same names and shapes, so the files differ only in the fc size and AuxLogits: the protocol
// is taken from the fc size (1008 = pytorch-fid, 1000 = torchvision) unless an explicit InceptionProtocol overrides
// it (then the blocks and the input pipeline of that protocol run on the file's weights).
//
// Every BasicConv2d is conv (no bias) + batch norm (eps 0.001) + ReLU; the batch norm is folded into the conv at
// load (FoldedConv).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "models/classifier.h"  // StateShapes
#include "tensor/tensor.h"

namespace bigcolor {

enum class InceptionProtocol { Auto, PytorchFid, Torchvision };

const char* inception_protocol_name(InceptionProtocol protocol);     // "auto", "pytorch-fid", "torchvision"
InceptionProtocol parse_inception_protocol(const std::string& name);  // the names above; Error otherwise

struct InceptionInfo {
  InceptionProtocol layout = InceptionProtocol::PytorchFid;    // what the file is (from its fc size)
  InceptionProtocol protocol = InceptionProtocol::PytorchFid;  // what features() runs (layout unless overridden)
  std::string variant;     // "pt_inception-2015-12-05 (pytorch-fid)" or "inception_v3_google (torchvision)"
  std::int64_t num_classes = 0;    // 1008 or 1000
  bool aux_logits = false;         // the file holds AuxLogits.* (torchvision); never used
  std::int64_t parameters = 0;     // in the file, batch-norm statistics excluded (torchvision: 27161264)
};

// The complete names and shapes of each layout (num_batches_tracked excluded).
StateShapes inception_state_shapes(InceptionProtocol layout);
// Checks a manifest / state's names and shapes against the layout its fc size names. Throws Error as above.
InceptionInfo identify_inception(const StateShapes& shapes, const std::string& source,
                                 InceptionProtocol protocol = InceptionProtocol::Auto);

struct InceptionNet;  // the network (models/inception.cpp)

class InceptionFeatures {
 public:
  static constexpr int kInputSize = 299;
  static constexpr std::int64_t kFeatures = 2048;

  static InceptionFeatures load(const std::string& path, Device device = Device::CPU,
                                InceptionProtocol protocol = InceptionProtocol::Auto);
  // From tensors already in memory (tests, benchmarks): name -> CPU F32 tensor.
  static InceptionFeatures from_state(const std::map<std::string, Tensor>& state, const std::string& source,
                                      Device device = Device::CPU,
                                      InceptionProtocol protocol = InceptionProtocol::Auto);

  const InceptionInfo& info() const { return info_; }
  InceptionProtocol protocol() const { return info_.protocol; }
  Device device() const { return device_; }

  // images (B, 3, H, W) F32 in [0, 1], on any device -> features (B, 2048) F32 on the CPU: the protocol's whole
  // pipeline (network_input, then the network). The resize runs on the CPU.
  Tensor features(const Tensor& images_0_1) const;
  // The protocol's input on the CPU: (B, 3, 299, 299), resized and normalized (transform_input included).
  Tensor network_input(const Tensor& images_0_1) const;
  // The network alone on an input already prepared (any size it accepts, ≥ 75): (B, 2048) on the CPU.
  Tensor features_of_input(const Tensor& x) const;

 private:
  InceptionInfo info_;
  Device device_ = Device::CPU;
  std::shared_ptr<const InceptionNet> net_;
};

}  // namespace bigcolor
