#include "train/perceptual.h"

#include <cmath>

#include "imaging/resize.h"
#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"
#include "train/dataset.h"

namespace bigcolor::train {

namespace {

constexpr std::int64_t kResize = 256;  // Resize(256) of the short side
constexpr std::int64_t kCrop = 224;    // CenterCrop(224)
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

// (crop, in) matrix of the resize of `in` samples to `resized` followed by the crop [offset, offset + crop): row
// r holds the weights of output sample r over the input samples.
std::vector<float> resize_crop_matrix(std::int64_t in, std::int64_t resized, std::int64_t crop) {
  // One-hot images: channel j is the unit impulse at sample j of a 1 x in image; resizing gives the weights of
  // input sample j in every output sample.
  Tensor impulses = Tensor::zeros({1, in, 1, in});
  for (std::int64_t j = 0; j < in; ++j) impulses.data<float>()[j * in + j] = 1.0f;
  const Tensor response = resize_bilinear(impulses, 1, static_cast<int>(resized));  // (1, in, 1, resized)
  const std::int64_t offset = train::center_crop_offset(static_cast<int>(resized), static_cast<int>(crop));
  std::vector<float> m(static_cast<std::size_t>(crop * in));
  for (std::int64_t r = 0; r < crop; ++r)
    for (std::int64_t j = 0; j < in; ++j)
      m[static_cast<std::size_t>(r * in + j)] = response.data<float>()[j * resized + offset + r];
  return m;
}

}  // namespace

const PerceptualLoss::Preprocess& PerceptualLoss::preprocess_for(const Tensor& x) {
  const std::int64_t b = x.dim(0), h = x.dim(2), w = x.dim(3);
  if (pre_.batch == b && pre_.height == h && pre_.width == w && pre_.device == x.device()) return pre_;
  const ImageSize resized = model_input_size(static_cast<int>(h), static_cast<int>(w), ResizeMode::Absolute,
                                             static_cast<int>(kResize));
  BIGCOLOR_CHECK(resized.height >= kCrop && resized.width >= kCrop, "perceptual loss: ", h, "x", w,
                 " resized to ", resized.height, "x", resized.width, " is smaller than the 224x224 crop");
  const std::vector<float> ry = resize_crop_matrix(h, resized.height, kCrop);
  const std::vector<float> rx = resize_crop_matrix(w, resized.width, kCrop);
  std::vector<float> ry_rep;
  ry_rep.reserve(static_cast<std::size_t>(b * 3) * ry.size());
  for (std::int64_t p = 0; p < b * 3; ++p) ry_rep.insert(ry_rep.end(), ry.begin(), ry.end());
  std::vector<float> mean(static_cast<std::size_t>(b * 3 * kCrop * kCrop)), inv(mean.size());
  for (std::int64_t p = 0; p < b * 3; ++p)
    for (std::int64_t i = 0; i < kCrop * kCrop; ++i) {
      mean[static_cast<std::size_t>(p * kCrop * kCrop + i)] = -kMean[p % 3];
      inv[static_cast<std::size_t>(p * kCrop * kCrop + i)] = 1.0f / kStd[p % 3];
    }
  const Device d = x.device();
  pre_ = Preprocess{b,
                    h,
                    w,
                    d,
                    Tensor::from_vector(ry_rep, {b * 3, kCrop, h}, d),
                    Tensor::from_vector(rx, {kCrop, w}, d),
                    Tensor::from_vector(mean, {b, 3, kCrop, kCrop}, d),
                    Tensor::from_vector(inv, {b, 3, kCrop, kCrop}, d)};
  return pre_;
}

Tensor PerceptualLoss::preprocess(const Tensor& x, Tensor* columns) {
  const Preprocess& p = preprocess_for(x);
  const std::int64_t b = x.dim(0), h = x.dim(2), w = x.dim(3);
  Tensor t = Tensor::empty({b * 3 * h, kCrop}, DType::F32, x.device());  // X · Rxᵀ, every row of every plane
  ops::linear_forward(t, x.reshape({b * 3 * h, w}), p.rx, Tensor{});
  Tensor crop = Tensor::empty({b * 3, kCrop, kCrop}, DType::F32, x.device());
  ops::bmm_forward(crop, p.ry_batched, t.reshape({b * 3, h, kCrop}), false, false);
  if (columns) *columns = t;
  // torchvision's Normalize: (x − mean) / std (the division as a product with 1/std: equal to rounding).
  return fn::mul(fn::add(crop.reshape({b, 3, kCrop, kCrop}), p.minus_mean), p.inv_std);
}

Tensor PerceptualLoss::preprocess_backward(const Tensor& d_out, const Tensor& x, const Tensor& columns) {
  const Preprocess& p = preprocess_for(x);
  const std::int64_t b = x.dim(0), h = x.dim(2), w = x.dim(3);
  const Tensor d_crop = fn::mul(d_out, p.inv_std).reshape({b * 3, kCrop, kCrop});
  Tensor d_t = Tensor::empty({b * 3, h, kCrop}, DType::F32, x.device());
  ops::bmm_backward(Tensor{}, d_t, d_crop, p.ry_batched, columns.reshape({b * 3, h, kCrop}), false, false);
  Tensor d_x = Tensor::empty({b * 3 * h, w}, DType::F32, x.device());
  ops::linear_backward(d_x, Tensor{}, Tensor{}, d_t.reshape({b * 3 * h, kCrop}), x.reshape({b * 3 * h, w}), p.rx);
  return d_x.reshape(x.shape());
}

float PerceptualLoss::compute(const Tensor& real, const Tensor& fake, float coef, const Tensor* d_fake) {
  BIGCOLOR_CHECK(real.shape() == fake.shape() && real.ndim() == 4 && real.dim(1) == 3,
                 "perceptual loss: real ", shape_string(real.shape()), " and fake ", shape_string(fake.shape()),
                 " must both be (B, 3, H, W)");
  const std::int64_t batch = real.dim(0);
  const int targets = 4;
  const bool was_enabled = vgg_.grad_enabled();

  vgg_.set_grad_enabled(false);  // the real branch needs no backward
  const VGG16Features::Features f_real = vgg_.forward(preprocess(real, nullptr));
  vgg_.set_grad_enabled(d_fake != nullptr);
  Tensor columns;
  const VGG16Features::Features f_fake = vgg_.forward(preprocess(fake, &columns));

  // loss = coef · Σ_t mean((f_real − f_fake)²) / B / 4, summed in float as the official code adds its terms.
  const float per_term = coef / static_cast<float>(batch) / static_cast<float>(targets);
  float total = 0.0f;
  VGG16Features::Features d_feats;
  Tensor term = Tensor::empty({1}, DType::F32, real.device());
  const Tensor d_term = Tensor::full({1}, per_term, real.device());
  for (std::size_t t = 0; t < f_real.size(); ++t) {
    ops::mse_loss_forward(term, f_real[t], f_fake[t]);
    total += fn::item(term);
    if (d_fake) {
      d_feats[t] = fn::empty_like(f_fake[t]);
      ops::mse_loss_backward(Tensor{}, d_feats[t], d_term, f_real[t], f_fake[t]);
    }
  }
  if (d_fake) fn::add_into(*d_fake, preprocess_backward(vgg_.backward(d_feats), fake, columns));
  vgg_.set_grad_enabled(was_enabled);
  return total / static_cast<float>(batch) / static_cast<float>(targets) * coef;
}

}  // namespace bigcolor::train
