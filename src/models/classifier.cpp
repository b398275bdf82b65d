// Loading a timm classifier strictly, and the official real-photo classification pipeline.
#include "models/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "imaging/resize.h"
#include "io/torch_file.h"
#include "models/classifier_nets.h"
#include "tensor/error.h"
#include "tensor/files.h"
#include "tensor/safetensors.h"

namespace bigcolor {

namespace {

// safetensors: an 8-byte little-endian header length, then the JSON header, which starts with '{'.
bool looks_like_safetensors(const std::string& path) {
  std::FILE* f = open_regular_file(path);
  unsigned char head[9] = {};
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return n == sizeof head && head[8] == '{';
}

struct Identified {
  ClassifierInfo info;
  bool resnet = false;
  ResNetShape resnet_shape;
  EfficientNetShape efficientnet_shape;
};

Identified identify(const StateShapes& shapes, const std::string& source) {
  Identified id;
  if (shapes.count("conv_stem.weight")) {
    id.efficientnet_shape = infer_efficientnet(shapes, source);
    id.info = describe_efficientnet(id.efficientnet_shape);
    require_same_names_and_shapes(shapes, efficientnet_state_shapes(id.efficientnet_shape), source, id.info.variant);
  } else if (shapes.count("conv1.0.weight") || shapes.count("conv1.weight")) {
    id.resnet = true;
    id.resnet_shape = infer_resnet(shapes, source);
    id.info = describe_resnet(id.resnet_shape);
    require_same_names_and_shapes(shapes, resnet_state_shapes(id.resnet_shape), source, id.info.variant);
  } else {
    std::string some;
    for (auto it = shapes.begin(); it != shapes.end() && std::distance(shapes.begin(), it) < 3; ++it)
      some += (some.empty() ? "'" : ", '") + it->first + "'";
    detail::throw_error(source, ": not a timm ResNet or EfficientNet state dict (no 'conv_stem.weight' or 'conv1.*'",
                        some.empty() ? std::string(", no tensors at all") : ", it starts with " + some, ")");
  }
  return id;
}

}  // namespace

TensorMap read_state_file(const std::string& path) {
  TensorMap state;
  if (looks_like_safetensors(path)) {
    state = load_safetensors(path).tensors;
  } else {
    TorchFile file = load_torch_state(path);
    for (auto& [name, t] : file.tensors) state.emplace(name, t);
  }
  return state;
}

TensorMap strip_common_prefix(TensorMap state) {
  for (const std::string prefix : {"state_dict.", "model.", "module.", "state_dict.module.", "model.module."}) {
    const bool all = !state.empty() && std::all_of(state.begin(), state.end(), [&](const auto& kv) {
      return kv.first.starts_with(prefix);
    });
    if (!all) continue;
    TensorMap out;
    for (auto& [name, t] : state) out.emplace(name.substr(prefix.size()), std::move(t));
    return strip_common_prefix(std::move(out));
  }
  return state;
}

StateShapes shapes_of(const TensorMap& state) {
  StateShapes shapes;
  for (const auto& [name, t] : state)
    if (!name.ends_with(".num_batches_tracked")) shapes[name] = t.shape();  // a training counter; eval ignores it
  return shapes;
}

void require_finite_f32(const TensorMap& state, const std::string& source) {
  for (const auto& [name, t] : state)
    if (!name.ends_with(".num_batches_tracked")) {
      BIGCOLOR_CHECK(t.dtype() == DType::F32, source, ": tensor '", name, "' is ", dtype_name(t.dtype()),
                     ", expected floating point");
      const std::vector<float> v = t.to_vector();
      BIGCOLOR_CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }), source,
                     ": tensor '", name, "' holds NaN or Inf");
    }
}

ClassifierInfo identify_classifier(const StateShapes& shapes, const std::string& source) {
  return identify(shapes, source).info;
}

Classifier Classifier::from_state(const std::map<std::string, Tensor>& raw, const std::string& source,
                                  Device device, int input_size) {
  const std::map<std::string, Tensor> state = strip_common_prefix(raw);
  const Identified id = identify(shapes_of(state), source);
  require_finite_f32(state, source);
  Classifier c;
  c.info_ = id.info;
  BIGCOLOR_CHECK(input_size >= 0 && input_size <= 4096, source, ": input size ", input_size, " (1 to 4096)");
  if (input_size > 0) c.info_.input_size = input_size;
  BIGCOLOR_CHECK(c.info_.input_size > 0, source, ": a ", c.info_.variant, " (", c.info_.structure,
                 ") has no known input size; give one (--classifier-size)");
  std::unique_ptr<ClassifierNet> net =
      id.resnet ? build_resnet(id.resnet_shape, state) : build_efficientnet(id.efficientnet_shape, state);
  if (device != Device::CPU) net->to(device);
  c.device_ = device;
  c.net_ = std::move(net);
  return c;
}

Classifier Classifier::load(const std::string& path, Device device, int input_size) {
  return from_state(read_state_file(path), path, device, input_size);
}

Tensor Classifier::logits(const Tensor& images) const {
  BIGCOLOR_CHECK(images.ndim() == 4 && images.dim(1) == 3, "classifier: images ", images.describe(),
                 ", expected (B, 3, H, W)");
  const Tensor x = images.device() == device_ ? images : images.to(device_);
  return net_->logits(x).to(Device::CPU);
}

std::vector<ClassPrediction> Classifier::classify_gray(const Tensor& gray, int k) const {
  const Tensor row = logits(classifier_input(gray, info_.input_size));
  BIGCOLOR_CHECK(k >= 1 && k <= row.dim(1), "--topk ", k, ": the classifier has ", row.dim(1), " classes");
  return top_classes(row.to_vector(), k);
}

Tensor classifier_input(const Tensor& gray, int size) {
  BIGCOLOR_CHECK(gray.ndim() == 4 && gray.dim(0) == 1 && gray.dim(1) == 1, "classifier input: ", gray.describe(),
                 ", expected a gray (1, 1, H, W)");
  const std::int64_t hw = gray.dim(2) * gray.dim(3);
  Tensor rgb = Tensor::empty({1, 3, gray.dim(2), gray.dim(3)});
  const float* src = gray.data<float>();
  for (int c = 0; c < 3; ++c) std::copy(src, src + hw, rgb.data<float>() + c * hw);
  return resize_bilinear(rgb, size, size);
}

Tensor imagenet_eval_input(const Tensor& rgb, int resize, int crop) {
  BIGCOLOR_CHECK(rgb.ndim() == 4 && rgb.dim(0) == 1 && rgb.dim(1) == 3, "imagenet_eval_input: ", rgb.describe(),
                 ", expected (1, 3, H, W)");
  const ImageSize size = model_input_size(static_cast<int>(rgb.dim(2)), static_cast<int>(rgb.dim(3)),
                                          ResizeMode::Absolute, resize);
  BIGCOLOR_CHECK(size.height >= crop && size.width >= crop, "imagenet_eval_input: ", size.width, "x", size.height,
                 " after the resize is smaller than the ", crop, "x", crop, " crop");
  const Tensor resized = resize_bilinear(rgb, size.height, size.width);
  const int top = static_cast<int>(std::nearbyint((size.height - crop) / 2.0));  // round half to even
  const int left = static_cast<int>(std::nearbyint((size.width - crop) / 2.0));
  constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
  Tensor out = Tensor::empty({1, 3, crop, crop});
  const float* src = resized.data<float>();
  float* dst = out.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < crop; ++y)
      for (int x = 0; x < crop; ++x)
        dst[(c * crop + y) * crop + x] =
            (src[(static_cast<std::int64_t>(c) * size.height + top + y) * size.width + left + x] - kMean[c]) / kStd[c];
  return out;
}

std::vector<ClassPrediction> top_classes(const std::vector<float>& logits, int k) {
  BIGCOLOR_CHECK(k >= 1 && static_cast<std::size_t>(k) <= logits.size(), "top_classes: k = ", k, " of ",
                 logits.size(), " classes");
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const double top = logits[order[0]];
  double total = 0.0;
  for (float l : logits) total += std::exp(static_cast<double>(l) - top);
  std::vector<ClassPrediction> out;
  for (int i = 0; i < k; ++i)
    out.push_back({order[i], logits[order[i]], std::exp(static_cast<double>(logits[order[i]]) - top) / total});
  return out;
}

}  // namespace bigcolor
