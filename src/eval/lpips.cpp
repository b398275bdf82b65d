#include "eval/lpips.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "models/checkpoint.h"
#include "models/vgg16.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {

constexpr int kConvs = 13;
// After which conv (0-based, conv1_1 = 0) each tap is taken, and whether a 2×2 max pool follows that conv.
constexpr std::array<int, Lpips::kTaps> kTapConv = {1, 3, 6, 9, 12};
constexpr std::array<const char*, Lpips::kTaps> kTapName = {"relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"};
constexpr double kEps = 1e-10;  // lpips.normalize_tensor

bool pool_after(int conv) { return conv == 1 || conv == 3 || conv == 6 || conv == 9; }

std::map<std::string, Tensor> read_state(const std::string& path) {
  const NamedTensors file = load_state_dict_file(path);
  return std::map<std::string, Tensor>(file.begin(), file.end());
}

void check_finite(const Tensor& t, const std::string& source, const std::string& name) {
  const std::vector<float> v = t.to_vector();
  BIGCOLOR_CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }), source, ": tensor '",
                 name, "' holds NaN or Inf");
}

// `which`: "images a", "images b", "images".
void check_images(const Tensor& t, const char* which) {
  BIGCOLOR_CHECK(t.defined() && t.ndim() == 4 && t.dim(1) == 3 && t.dtype() == DType::F32, "lpips: ", which,
                 " are ", t.defined() ? t.describe() : std::string("undefined"), ", expected (B, 3, H, W) F32");
  BIGCOLOR_CHECK(t.dim(2) >= Lpips::kMinSide && t.dim(3) >= Lpips::kMinSide, "lpips: ", which, " are ",
                 t.describe(), ", H and W must be at least ", Lpips::kMinSide, " (VGG16 pools four times)");
}

}  // namespace

Lpips Lpips::from_state(const std::map<std::string, Tensor>& vgg16, const std::string& vgg16_source,
                        const std::map<std::string, Tensor>& lin, const std::string& lin_source, Device device) {
  const std::vector<Vgg16Conv> convs = vgg16_convs(vgg16, kConvs, vgg16_source);
  Lpips l;
  l.device_ = device;
  for (int i = 0; i < kConvs; ++i) {
    const Vgg16Conv& c = convs[static_cast<std::size_t>(i)];
    const std::string key = "features." + std::to_string(kVgg16ConvIndex[static_cast<std::size_t>(i)]);
    check_finite(c.weight, vgg16_source, key + ".weight");
    check_finite(c.bias, vgg16_source, key + ".bias");
    l.convs_.push_back({c.weight.to(device), c.bias.to(device)});
  }
  for (int k = 0; k < kTaps; ++k) {
    const auto uk = static_cast<std::size_t>(k);
    const std::int64_t ch = convs[static_cast<std::size_t>(kTapConv[uk])].weight.dim(0);
    l.channels_[uk] = ch;
    const std::string key = "lin" + std::to_string(k) + ".model.1.weight";
    const auto it = lin.find(key);
    BIGCOLOR_CHECK(it != lin.end(), lin_source, ": '", key, "' is missing (not an LPIPS vgg lin-layer file?)");
    const Tensor& w = it->second;
    BIGCOLOR_CHECK(w.shape() == Shape({1, ch, 1, 1}), lin_source, ": '", key, "' has shape ", shape_string(w.shape()),
                   ", expected ", shape_string({1, ch, 1, 1}), " (the VGG's ", kTapName[uk], " has ", ch,
                   " channels)");
    BIGCOLOR_CHECK(w.dtype() == DType::F32, lin_source, ": '", key, "' is ", dtype_name(w.dtype()), ", expected F32");
    check_finite(w, lin_source, key);
    l.lin_[uk] = w.to_vector();
  }
  return l;
}

Lpips Lpips::load(const std::string& vgg16_path, const std::string& lin_path, Device device) {
  return from_state(read_state(vgg16_path), vgg16_path, read_state(lin_path), lin_path, device);
}

Lpips::Taps Lpips::features(const Tensor& images) const {
  check_images(images, "images");
  // [0, 1] -> [−1, 1] (2x − 1 in double, rounded once: what lpips.im2tensor gives for x = v/255) -> ScalingLayer in
  // float32 as torch computes it (on the host: 3 channels, cheap).
  static const float shift[3] = {-.030f, -.088f, -.188f};
  static const float scale[3] = {.458f, .448f, .450f};
  std::vector<float> v = images.to_vector();
  const std::int64_t plane = images.dim(2) * images.dim(3);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<std::size_t>((static_cast<std::int64_t>(i) / plane) % 3);
    const auto x = static_cast<float>(2.0 * static_cast<double>(v[i]) - 1.0);
    v[i] = (x - shift[c]) / scale[c];
  }
  Tensor h = Tensor::from_vector(v, images.shape(), device_);
  Taps taps;
  int tap = 0;
  for (int i = 0; i < kConvs; ++i) {
    const Conv& c = convs_[static_cast<std::size_t>(i)];
    const Tensor out = Tensor::empty({h.dim(0), c.weight.dim(0), h.dim(2), h.dim(3)}, DType::F32, device_);
    ops::conv2d_forward(out, h, c.weight, c.bias, /*padding=*/1);
    ops::relu_forward(out, out);
    h = out;
    if (tap < kTaps && kTapConv[static_cast<std::size_t>(tap)] == i) taps[static_cast<std::size_t>(tap++)] = h;
    if (pool_after(i)) {
      const Tensor pooled = Tensor::empty({h.dim(0), h.dim(1), h.dim(2) / 2, h.dim(3) / 2}, DType::F32, device_);
      ops::maxpool2x2_forward(pooled, h);
      h = pooled;
    }
  }
  return taps;
}

std::vector<double> Lpips::distance(const Tensor& a, const Tensor& b) const {
  check_images(a, "images a");
  check_images(b, "images b");
  BIGCOLOR_CHECK(a.shape() == b.shape(), "lpips: images a ", a.describe(), " and b ", b.describe(),
                 " differ in shape");
  for (const Tensor* t : {&a, &b}) {
    const std::vector<float> v = t->to_vector();
    BIGCOLOR_CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }), "lpips: images ",
                   t == &a ? "a" : "b", " hold NaN or Inf");
  }
  std::vector<double> total(static_cast<std::size_t>(a.dim(0)), 0.0);
  if (a.dim(0) == 0) return total;
  const Taps fa = features(a);
  const Taps fb = features(b);
  for (int k = 0; k < kTaps; ++k) {
    const std::vector<double> d =
        lpips_tap_distance(fa[static_cast<std::size_t>(k)], fb[static_cast<std::size_t>(k)], lin_[static_cast<std::size_t>(k)]);
    for (std::size_t i = 0; i < total.size(); ++i) total[i] += d[i];
  }
  return total;
}

std::vector<double> lpips_tap_distance(const Tensor& a, const Tensor& b, const std::vector<float>& lin) {
  BIGCOLOR_CHECK(a.ndim() == 4 && a.shape() == b.shape() && a.dtype() == DType::F32 && b.dtype() == DType::F32,
                 "lpips: tap features ", a.describe(), " and ", b.describe(), ", expected two equal (B, C, H, W) F32");
  BIGCOLOR_CHECK(static_cast<std::int64_t>(lin.size()) == a.dim(1), "lpips: ", lin.size(), " lin weights for ",
                 a.dim(1), " channels");
  const std::int64_t batch = a.dim(0), channels = a.dim(1), plane = a.dim(2) * a.dim(3);
  BIGCOLOR_CHECK(plane > 0, "lpips: tap features ", a.describe(), " are empty");
  const std::vector<float> va = a.to_vector();
  const std::vector<float> vb = b.to_vector();
  std::vector<double> out(static_cast<std::size_t>(batch), 0.0);
  std::vector<double> na(static_cast<std::size_t>(plane)), nb(static_cast<std::size_t>(plane)),
      acc(static_cast<std::size_t>(plane));
  for (std::int64_t n = 0; n < batch; ++n) {
    const float* pa = va.data() + n * channels * plane;
    const float* pb = vb.data() + n * channels * plane;
    std::fill(na.begin(), na.end(), 0.0);
    std::fill(nb.begin(), nb.end(), 0.0);
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t p = 0; p < plane; ++p) {
        const double x = pa[c * plane + p], y = pb[c * plane + p];
        na[static_cast<std::size_t>(p)] += x * x;
        nb[static_cast<std::size_t>(p)] += y * y;
      }
    for (std::int64_t p = 0; p < plane; ++p) {
      na[static_cast<std::size_t>(p)] = std::sqrt(na[static_cast<std::size_t>(p)]) + kEps;
      nb[static_cast<std::size_t>(p)] = std::sqrt(nb[static_cast<std::size_t>(p)]) + kEps;
    }
    for (std::int64_t c = 0; c < channels; ++c) {
      const double w = lin[static_cast<std::size_t>(c)];
      for (std::int64_t p = 0; p < plane; ++p) {
        // Divisions (as lpips), not products with reciprocals: a product could be fused into the subtraction
        // (FMA contraction), and identical features would then not give exactly 0.
        const double diff = pa[c * plane + p] / na[static_cast<std::size_t>(p)] - pb[c * plane + p] / nb[static_cast<std::size_t>(p)];
        acc[static_cast<std::size_t>(p)] += w * diff * diff;
      }
    }
    double sum = 0.0;
    for (const double x : acc) sum += x;
    out[static_cast<std::size_t>(n)] = sum / static_cast<double>(plane);
  }
  return out;
}

}  // namespace bigcolor
