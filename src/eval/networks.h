// The networks of `bigcolor eval`, loaded from their users' files: FID's Inception-v3 (models/inception.h) and
// LPIPS's VGG16 + linear layers (eval/lpips.h), behind the two calls eval/evaluate.h needs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor::eval {

class FidNetwork {
 public:
  // protocol: "auto" (from the file: pytorch-fid's 1008-class fc, torchvision's 1000), "pytorch-fid", "torchvision".
  FidNetwork(const std::string& path, const std::string& protocol, Device device);
  ~FidNetwork();
  Tensor features(const Tensor& images) const;  // (B, 3, H, W) in [0, 1] -> (B, 2048) on the CPU
  std::string protocol() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class LpipsNetwork {
 public:
  LpipsNetwork(const std::string& vgg16_path, const std::string& lin_path, Device device);
  ~LpipsNetwork();
  std::vector<double> distance(const Tensor& a, const Tensor& b) const;  // (B, 3, H, W) in [0, 1] each

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bigcolor::eval
