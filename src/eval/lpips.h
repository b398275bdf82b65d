// LPIPS, the learned perceptual image distance of Zhang et al. 2018, as the `lpips` package 0.1 computes it with
// net='vgg', version='0.1' (lpips.LPIPS(net='vgg').forward(in0, in1), eval mode), forward only, for `bigcolor eval`.
//
// For images a, b in [0, 1] (B, 3, H, W), H and W at least 16:
//   x = 2·img − 1 (in [−1, 1]; in double, rounded once to float32, as lpips.im2tensor does for img = v/255), then
//   lpips' ScalingLayer: (x − shift) / scale per channel in float32, shift (−.030, −.088, −.188), scale (.458, .448,
//   .450);
//   torchvision's vgg16().features up to relu5_3 (13 3×3 convs, padding 1, bias, ReLU; 2×2 max pools, floor, after
//   relu1_2, relu2_2, relu3_3, relu4_3) gives five taps k = relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
//   (features indices 3, 8, 15, 22, 29) of C_k channels (torchvision: 64, 128, 256, 512, 512);
//   per tap, each pixel's feature vector is unit-normalized over channels, f / (sqrt(Σ_c f²) + 1e-10), and
//   d_k = mean over (y, x) of Σ_c w_k[c] · (f̂a[c, y, x] − f̂b[c, y, x])²   (lin_k: a 1×1 conv without bias; its
//   dropout is the identity in eval mode);
//   LPIPS = Σ_k d_k.
// The VGG runs on the Lpips' device in float32 (the ops of kernels/ops.h); the taps are then copied to the host and
// the normalization, difference, lin weights and means computed in double (lpips computes them in float32; the
// difference is far below the 1e-4 the tests ask). a and b go through the network separately, so identical images
// give exactly 0.
//
// Files (each read strictly; errors are one line starting with the file's path and naming the tensor):
//   - the VGG16: torchvision's vgg16 state dict (vgg16-397923af.pth; torch.save of either format, or .safetensors
//     with the same names): features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.weight (C, in, 3, 3) chained from 3 input
//     channels and .bias (C); a full vgg16 file's classifier.* and any other entry are ignored.
//   - the lin layers: lpips' lpips/weights/v0.1/vgg.pth (torch.save, or .safetensors): lin0..lin4 '.model.1.weight'
//     (1, C_k, 1, 1), C_k the widths of the VGG's taps; other entries are ignored.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor {

class Lpips {
 public:
  static constexpr int kTaps = 5;           // relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
  static constexpr int kMinSide = 16;       // four 2×2 pools before relu5_3
  using Taps = std::array<Tensor, kTaps>;

  static Lpips load(const std::string& vgg16_path, const std::string& lin_path, Device device = Device::CPU);
  // From tensors already in memory (tests): name -> CPU tensor; the sources name them in messages.
  static Lpips from_state(const std::map<std::string, Tensor>& vgg16, const std::string& vgg16_source,
                          const std::map<std::string, Tensor>& lin, const std::string& lin_source,
                          Device device = Device::CPU);

  // a, b: (B, 3, H, W) F32 in [0, 1], on any device, same shape -> the B distances.
  std::vector<double> distance(const Tensor& a, const Tensor& b) const;
  // The five VGG taps of images in [0, 1] (after the scaling layer), on the Lpips' device.
  Taps features(const Tensor& images) const;

  Device device() const { return device_; }
  const std::array<std::int64_t, kTaps>& channels() const { return channels_; }

 private:
  struct Conv {
    Tensor weight, bias;  // on device_
  };
  std::vector<Conv> convs_;                           // conv1_1 .. conv5_3
  std::array<std::vector<float>, kTaps> lin_;         // lin_k's weights, C_k each (host)
  std::array<std::int64_t, kTaps> channels_{};
  Device device_ = Device::CPU;
};

// One tap's term: features a, b (B, C, H, W) F32 (any device), lin weights (C) -> per image
// mean_{y,x} Σ_c w[c]·(a/(‖a‖+1e-10) − b/(‖b‖+1e-10))², ‖·‖ the L2 norm over channels at (y, x); in double.
std::vector<double> lpips_tap_distance(const Tensor& a, const Tensor& b, const std::vector<float>& lin);

}  // namespace bigcolor
