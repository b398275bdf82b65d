// BigColor's perceptual loss, as the official VGG16Perceptual(path, [1, 2, 13, 20]) computes it:
//   both images -> Resize(256) -> CenterCrop(224) -> ImageNet Normalize -> VGG16 features (relu1_1, relu1_2,
//   relu3_2, relu4_2: see models/vgg16.h) ; loss = Σ_features mean((f_real − f_fake)²) / B / 4.
// Resize is torchvision 0.11's on a tensor (the official environment): unchanged when the short side is already
// 256, else bilinear, align_corners=False, no antialiasing, the long side int(256·long/short). Resize and crop are
// one linear map per image plane, out = Ry · X · Rxᵀ with Ry (224, H) and Rx (224, W) built by resize_bilinear
// from one-hot images (so the weights are resize_bilinear's own), which makes the backward two GEMMs. The centre
// crop starts at int(round((n − 224) / 2)) with Python's round (half to even), as torchvision's CenterCrop.
// Only the fake image gets a gradient; the real branch keeps nothing for a backward.
#pragma once

#include "models/vgg16.h"

namespace bigcolor::train {

class PerceptualLoss {
 public:
  explicit PerceptualLoss(VGG16Features& vgg) : vgg_(vgg) {}

  // real, fake (B, 3, H, W) in [0, 1] on the VGG's device, H and W at least 8. Returns coef · loss (host float)
  // and, when d_fake is given, ADDS the gradient of coef · loss with respect to fake into it (same shape).
  float compute(const Tensor& real, const Tensor& fake, float coef, const Tensor* d_fake);

 private:
  struct Preprocess {
    std::int64_t batch = -1, height = -1, width = -1;
    Device device = Device::CPU;
    Tensor ry_batched;   // (B·3, 224, H): Ry repeated per plane (the batched product wants one per plane)
    Tensor rx;           // (224, W)
    Tensor minus_mean;   // (B, 3, 224, 224): −mean of each channel
    Tensor inv_std;      // (B, 3, 224, 224): 1 / std of each channel
  };
  const Preprocess& preprocess_for(const Tensor& x);
  // x (B, 3, H, W) -> the normalized crop (B, 3, 224, 224); `columns` receives X·Rxᵀ (needed by the backward).
  Tensor preprocess(const Tensor& x, Tensor* columns);
  Tensor preprocess_backward(const Tensor& d_out, const Tensor& x, const Tensor& columns);

  VGG16Features& vgg_;
  Preprocess pre_;
};

}  // namespace bigcolor::train
