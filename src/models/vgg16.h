// The loss network of BigColor's perceptual loss: torchvision's vgg16().features up to index 20 (relu4_2), the
// part the official VGG16Perceptual runs (targets [1, 2, 13, 20]). Layer layout (torchvision indices):
//   0 conv1_1  1 relu  2 conv1_2  3 relu  4 maxpool
//   5 conv2_1  6 relu  7 conv2_2  8 relu  9 maxpool
//  10 conv3_1 11 relu 12 conv3_2 13 relu 14 conv3_3 15 relu 16 maxpool
//  17 conv4_1 18 relu 19 conv4_2 20 relu
// Every conv is 3×3, padding 1, with bias. torchvision's ReLUs are in place, so the tensor the official code keeps
// at index 2 (conv1_2's output) is overwritten by the ReLU at index 3: the features that reach the loss are relu1_1,
// relu1_2, relu3_2 and relu4_2 — what forward() returns.
// The weights are frozen (no parameter gradients); backward() gives the gradient reaching the input image.
// Widths come from the weights file (torchvision's 64, 64, 128, 128, 256, 256, 256, 512, 512; tests use reduced
// ones), so the same code serves the real vgg16 file and the tiny golden one.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/linear_conv.h"

namespace bigcolor {

class VGG16Features : public Module {
 public:
  static constexpr int kConvs = 9;                     // conv1_1 .. conv4_2
  static constexpr std::array<int, kConvs> kIndex = {0, 2, 5, 7, 10, 12, 14, 17, 19};  // torchvision indices
  using Features = std::array<Tensor, 4>;              // relu1_1, relu1_2, relu3_2, relu4_2

  // widths[i]: output channels of conv i (input: 3 RGB channels, ImageNet-normalized).
  explicit VGG16Features(const std::array<std::int64_t, kConvs>& widths);
  // x (B, 3, H, W), H and W at least 8 (three 2×2 max pools) -> the four features.
  Features forward(const Tensor& x);
  // d_features: gradients of the four features (undefined = zero) -> d_x (B, 3, H, W).
  Tensor backward(const Features& d_features);

  std::vector<std::unique_ptr<Conv2d>> convs;

 private:
  std::vector<Tensor> relu_out_;  // every ReLU output of the last forward (kept while gradients are enabled)
  std::vector<Tensor> pool_in_;   // the inputs of the three max pools
};

// torchvision's vgg16().features: the indices of its 13 convs (conv1_1 .. conv5_3); ReLUs follow each conv, 2×2 max
// pools follow relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 (indices 4, 9, 16, 23, 30).
inline constexpr std::array<int, 13> kVgg16ConvIndex = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};

struct Vgg16Conv {
  Tensor weight;  // (C, in, 3, 3)
  Tensor bias;    // (C)
};
// The first `count` convs of a torchvision vgg16 state dict (name -> tensor), checked strictly: features.<i>.weight
// present, 3×3, F32 and chained (input channels = the previous conv's outputs, 3 for conv1_1), features.<i>.bias (C).
// Other entries (the later layers, the classifier) are ignored. Errors start with `source` and name the first bad key.
std::vector<Vgg16Conv> vgg16_convs(const std::map<std::string, Tensor>& state, int count, const std::string& source);

// Reads torchvision's vgg16 state dict (e.g. vgg16-397923af.pth, torch.save in either format, or a .safetensors
// file with the same names): features.{0,2,5,7,10,12,14,17,19}.weight/bias are required, each 3×3 and chained
// (conv i's input channels = conv i-1's outputs, 3 for conv1_1); the later layers and the classifier are ignored.
// The network comes back frozen, in eval mode, on the CPU. Errors name the file and the first bad key.
std::unique_ptr<VGG16Features> load_vgg16_features(const std::string& path);

}  // namespace bigcolor
