// `bigcolor eval`: every metric of the colorization papers' tables over a folder of predictions and a folder of
// references, paired by relative path (eval/pairing.h), streamed in batches so a 50,000-image set is never held in
// memory (only the current batch, the FID moments and one number per image and metric).
//
// Metrics (each optional): Colorful of the predictions and of the references (eval/image_metrics.h), PSNR and
// SSIM against the references, LPIPS (VGG, lpips 0.1), FID between the two sets (Inception-v3 pool features,
// eval/frechet.h), and top-1/top-5 accuracy of a classifier on the predictions against the reference folder's
// ImageFolder classes (the protocol of imagenet_eval_input in models/classifier.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/pairing.h"
#include "tensor/tensor.h"

namespace bigcolor {
class Classifier;
}

namespace bigcolor::eval {

// The networks, given as functions so this driver does not depend on how they are built:
struct EvalNetworks {
  // images (B, 3, H, W) in [0, 1], one size per batch -> (B, D) pool features (CPU). Empty: no FID.
  std::function<Tensor(const Tensor&)> features;
  std::string fid_protocol;  // named in the report ("pytorch-fid", "torchvision")
  // two batches of images (B, 3, H, W) in [0, 1] -> B distances. Empty: no LPIPS.
  std::function<std::vector<double>(const Tensor&, const Tensor&)> lpips;
  const Classifier* classifier = nullptr;  // no accuracy when null
};

struct EvalRequest {
  bool colorful = true;
  bool colorful_signed = false;  // also the signed original (Hasler & Süsstrunk without absolute values)
  bool psnr = true, ssim = true;
  bool ab = false;                        // ab errors (eval/image_metrics.h) against the predictions, gray and
  double ab_constant_a = 0, ab_constant_b = 0;  // a constant (a, b) prediction
  int batch = 16;                // images per network batch
  // before each batch: pairs [done, done + count) of total
  std::function<void(std::size_t done, std::size_t count, std::size_t total)> progress;
};

struct MetricValue {
  std::string name;  // "colorful", "colorful_ref", "psnr", "ssim", "lpips", "fid", "top1", "top5", ...
  double value = 0;
  std::size_t count = 0;  // images (or pairs) it is over
  std::string note;       // the protocol or settings, one line
};

struct EvalReport {
  Pairing pairing;
  std::vector<MetricValue> metrics;
  std::map<std::string, std::map<std::string, double>> per_image;  // key -> metric -> value
  std::map<std::string, std::vector<int>> top5;                     // key -> the classifier's top-5
};

EvalReport evaluate(const std::string& pred_dir, const std::string& ref_dir, const EvalRequest& request,
                    const EvalNetworks& networks);

}  // namespace bigcolor::eval
