#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "eval/frechet.h"
#include "eval/image_metrics.h"
#include "imaging/image.h"
#include "models/classifier.h"
#include "tensor/error.h"

namespace bigcolor::eval {

namespace {

// (1, 3, H, W) in [0, 1] from 8-bit RGB: exactly the values ToTensor gives (v / 255).
Tensor to_tensor(const Rgb8& im) {
  const std::int64_t hw = static_cast<std::int64_t>(im.width) * im.height;
  Tensor t = Tensor::empty({1, 3, im.height, im.width});
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < hw; ++i)
    for (int c = 0; c < 3; ++c) p[c * hw + i] = static_cast<float>(im.px[i * 3 + c]) / 255.0f;
  return t;
}

// Images of one size stacked into (B, 3, H, W); `rows` must be non-empty and equally sized.
Tensor stack(const std::vector<Tensor>& rows) {
  const Tensor& first = rows.front();
  Tensor out = Tensor::empty({static_cast<std::int64_t>(rows.size()), 3, first.dim(2), first.dim(3)});
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].data<float>(), rows[i].data<float>() + rows[i].numel(),
              out.data<float>() + static_cast<std::int64_t>(i) * first.numel());
  return out;
}

// Runs `fn` over runs of equally sized images (a batch needs one size), in order.
template <typename Fn>
void by_size(const std::vector<Tensor>& images, Fn fn) {
  std::size_t start = 0;
  while (start < images.size()) {
    std::size_t end = start + 1;
    while (end < images.size() && images[end].shape() == images[start].shape()) ++end;
    fn(start, std::vector<Tensor>(images.begin() + start, images.begin() + end));
    start = end;
  }
}

struct Mean {
  double sum = 0;
  std::size_t n = 0;
  void add(double v) { sum += v, ++n; }
  double value() const { return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN(); }
};

}  // namespace

EvalReport evaluate(const std::string& pred_dir, const std::string& ref_dir, const EvalRequest& request,
                    const EvalNetworks& networks) {
  EvalReport report;
  report.pairing = pair_folders(pred_dir, ref_dir);
  const std::vector<ImagePair>& pairs = report.pairing.pairs;
  BIGCOLOR_CHECK(!pairs.empty(), "--pred ", pred_dir, " and --ref ", ref_dir, ": no image pairs (",
                 report.pairing.missing.size(), " references, ", report.pairing.extra.size(),
                 " predictions, none with the same relative path)");
  BIGCOLOR_CHECK(request.batch >= 1, "--batch must be at least 1");
  std::map<std::string, int> class_index;
  for (std::size_t i = 0; i < report.pairing.classes.size(); ++i)
    class_index[report.pairing.classes[i]] = static_cast<int>(i);
  if (networks.classifier)
    BIGCOLOR_CHECK(!report.pairing.classes.empty(), "--ref ", ref_dir,
                   ": no class folders, so no classes to measure accuracy against (an ImageFolder tree is needed)");

  Mean colorful, colorful_ref, colorful_signed, colorful_signed_ref, psnr_mean, ssim_mean, lpips_mean, top1, top5;
  Mean ab_pred, ab_gray, ab_constant, ab_mean_a, ab_mean_b;
  std::unique_ptr<FeatureMoments> pred_moments, ref_moments;
  for (std::size_t start = 0; start < pairs.size(); start += request.batch) {
    const std::size_t count = std::min<std::size_t>(request.batch, pairs.size() - start);
    if (request.progress) request.progress(start, count, pairs.size());
    std::vector<Rgb8> preds, refs;
    for (std::size_t i = start; i < start + count; ++i) {
      preds.push_back(to_rgb8(load_image(pairs[i].pred)));
      refs.push_back(to_rgb8(load_image(pairs[i].ref)));
      const Rgb8 &p = preds.back(), &r = refs.back();
      auto& row = report.per_image[pairs[i].key];
      if (request.colorful) {
        colorful.add(row["colorful"] = colorfulness(p));
        colorful_ref.add(row["colorful_ref"] = colorfulness(r));
      }
      if (request.colorful_signed) {
        colorful_signed.add(row["colorful_signed"] = colorfulness(p, true));
        colorful_signed_ref.add(row["colorful_signed_ref"] = colorfulness(r, true));
      }
      const bool need_same_size = request.psnr || request.ssim || request.ab || networks.lpips;
      if (need_same_size)
        BIGCOLOR_CHECK(p.width == r.width && p.height == r.height, pairs[i].pred, " is ", p.width, "x", p.height,
                       ", its reference ", pairs[i].ref, " is ", r.width, "x", r.height,
                       ": PSNR, SSIM and LPIPS compare images of one size");
      if (request.psnr) psnr_mean.add(row["psnr"] = psnr(r, p, pairs[i].pred));
      if (request.ssim) ssim_mean.add(row["ssim"] = ssim(r, p, pairs[i].pred));
      if (request.ab) {
        const AbErrors e = ab_errors(r, p, request.ab_constant_a, request.ab_constant_b, pairs[i].pred);
        ab_pred.add(row["ab_error"] = e.pred);
        ab_gray.add(row["ab_error_gray"] = e.gray);
        ab_constant.add(row["ab_error_constant"] = e.constant);
        ab_mean_a.add(e.mean_a_ref);
        ab_mean_b.add(e.mean_b_ref);
      }
    }
    std::vector<Tensor> pred_t, ref_t;
    for (std::size_t i = 0; i < count; ++i) pred_t.push_back(to_tensor(preds[i])), ref_t.push_back(to_tensor(refs[i]));
    if (networks.features) {
      for (int side = 0; side < 2; ++side) {
        std::unique_ptr<FeatureMoments>& moments = side == 0 ? pred_moments : ref_moments;
        by_size(side == 0 ? pred_t : ref_t, [&](std::size_t, const std::vector<Tensor>& run) {
          const Tensor f = networks.features(stack(run));
          if (!moments) moments = std::make_unique<FeatureMoments>(f.dim(1));
          moments->add(f.data<float>(), f.dim(0));
        });
      }
    }
    if (networks.lpips)
      by_size(pred_t, [&](std::size_t offset, const std::vector<Tensor>& run) {
        const std::vector<double> d = networks.lpips(stack(run), stack(std::vector<Tensor>(
                                                                    ref_t.begin() + offset,
                                                                    ref_t.begin() + offset + run.size())));
        for (std::size_t k = 0; k < d.size(); ++k)
          lpips_mean.add(report.per_image[pairs[start + offset + k].key]["lpips"] = d[k]);
      });
    if (networks.classifier)
      for (std::size_t i = 0; i < count; ++i) {
        const ImagePair& pair = pairs[start + i];
        auto it = class_index.find(pair.folder);
        BIGCOLOR_CHECK(it != class_index.end(), pair.ref, ": not inside a class folder of --ref (accuracy needs "
                       "an ImageFolder tree: <ref>/<class>/<image>)");
        const Tensor logits = networks.classifier->logits(imagenet_eval_input(pred_t[i]));
        const std::vector<ClassPrediction> best = top_classes(logits.to_vector(), std::min<int>(5, logits.dim(1)));
        std::vector<int>& t5 = report.top5[pair.key];
        for (const ClassPrediction& c : best) t5.push_back(c.index);
        top1.add(t5.front() == it->second ? 1.0 : 0.0);
        top5.add(std::find(t5.begin(), t5.end(), it->second) != t5.end() ? 1.0 : 0.0);
      }
  }

  auto put = [&](const char* name, const Mean& m, const std::string& note) {
    if (m.n) report.metrics.push_back({name, m.value(), m.n, note});
  };
  put("colorful", colorful, "Hasler-Suesstrunk with |R-G|, |(R+G)/2-B| on 8-bit RGB, mean over the predictions");
  put("colorful_ref", colorful_ref, "the same over the references");
  put("colorful_signed", colorful_signed, "the original signed R-G, (R+G)/2-B, over the predictions");
  put("colorful_signed_ref", colorful_signed_ref, "the same over the references");
  put("psnr", psnr_mean, "skimage peak_signal_noise_ratio, data_range 255, 8-bit RGB, mean over pairs (dB)");
  put("ssim", ssim_mean, "skimage structural_similarity, channel_axis 2, data_range 255, 7x7 uniform window, "
                         "sample covariance, mean over channels and pairs");
  put("lpips", lpips_mean, "lpips 0.1, VGG, inputs in [-1, 1], mean over pairs");
  const std::string lab = "CIELAB (the official float32 rgb_to_lab), (|da| + |db|) / 2 per pixel, mean over pixels "
                          "and pairs";
  put("ab_error", ab_pred, "the predictions against the references: " + lab);
  put("ab_error_gray", ab_gray, "a = b = 0 (the gray input itself) against the references: " + lab);
  char constant[96];
  std::snprintf(constant, sizeof constant, "the constant a = %.4g, b = %.4g against the references: ",
                request.ab_constant_a, request.ab_constant_b);
  put("ab_error_constant", ab_constant, constant + lab);
  put("ab_mean_a_ref", ab_mean_a, "the references' mean a (mean over pairs of each image's mean)");
  put("ab_mean_b_ref", ab_mean_b, "the references' mean b (mean over pairs of each image's mean)");
  if (networks.features && pred_moments && ref_moments) {
    const double fid = frechet_distance(pred_moments->mean(), pred_moments->covariance(), ref_moments->mean(),
                                        ref_moments->covariance());
    report.metrics.push_back({"fid", fid, static_cast<std::size_t>(pred_moments->count()),
                              "Inception-v3 pool features (" + networks.fid_protocol +
                                  "), moments in double, eigenvalue square root (LAPACK dsyevd)"});
  }
  const std::string protocol = "resize 256 (bilinear, no antialias), center crop 224, ImageNet mean/std; classes "
                               "= the reference folder's sorted sub-folders";
  put("top1", top1, protocol);
  put("top5", top5, protocol);
  return report;
}

}  // namespace bigcolor::eval
