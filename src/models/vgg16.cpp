#include "models/vgg16.h"

#include <map>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "models/checkpoint.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {
// The forward sequence after each conv: which ReLU outputs are features, and where a max pool follows.
constexpr std::array<int, VGG16Features::kConvs> kFeatureSlot = {0, 1, -1, -1, -1, 2, -1, -1, 3};
constexpr std::array<bool, VGG16Features::kConvs> kPoolAfter = {false, true, false, true, false, false, true,
                                                                false, false};
}  // namespace

VGG16Features::VGG16Features(const std::array<std::int64_t, kConvs>& widths) {
  std::int64_t in = 3;
  for (int i = 0; i < kConvs; ++i) {
    convs.push_back(std::make_unique<Conv2d>(in, widths[static_cast<std::size_t>(i)], 3, 1, /*bias=*/true));
    add_child("features." + std::to_string(kIndex[static_cast<std::size_t>(i)]), *convs.back());
    in = widths[static_cast<std::size_t>(i)];
  }
  freeze();
  set_training(false);
}

VGG16Features::Features VGG16Features::forward(const Tensor& x) {
  BIGCOLOR_CHECK(x.ndim() == 4 && x.dim(1) == 3 && x.dim(2) >= 8 && x.dim(3) >= 8,
                 "VGG16 features: input must be (B, 3, H, W) with H, W >= 8, got ", shape_string(x.shape()));
  const bool keep = grad_enabled();
  relu_out_.clear();
  pool_in_.clear();
  Features features;
  Tensor h = x;
  for (int i = 0; i < kConvs; ++i) {
    h = fn::relu(convs[static_cast<std::size_t>(i)]->forward(h));
    if (keep) relu_out_.push_back(h);
    if (kFeatureSlot[static_cast<std::size_t>(i)] >= 0) features[static_cast<std::size_t>(kFeatureSlot[static_cast<std::size_t>(i)])] = h;
    if (kPoolAfter[static_cast<std::size_t>(i)]) {
      if (keep) pool_in_.push_back(h);
      h = fn::maxpool2x2(h);
    }
  }
  return features;
}

Tensor VGG16Features::backward(const Features& d_features) {
  BIGCOLOR_CHECK(relu_out_.size() == static_cast<std::size_t>(kConvs), "VGG16 features: backward without a saved forward");
  Tensor d;  // gradient of the current ReLU output (undefined while nothing flows yet)
  int pool = static_cast<int>(pool_in_.size());
  for (int i = kConvs - 1; i >= 0; --i) {
    const auto ui = static_cast<std::size_t>(i);
    if (kPoolAfter[ui] && d.defined()) d = fn::maxpool2x2_backward(d, pool_in_[static_cast<std::size_t>(--pool)]);
    else if (kPoolAfter[ui]) --pool;
    if (kFeatureSlot[ui] >= 0) {
      const Tensor& df = d_features[static_cast<std::size_t>(kFeatureSlot[ui])];
      if (df.defined()) {
        if (d.defined()) fn::add_into(d, df);
        else d = df.clone();
      }
    }
    if (!d.defined()) continue;  // nothing flows back through this layer yet (a later feature is unused)
    d = convs[ui]->backward(fn::relu_backward(d, relu_out_[ui]), /*need_d_in=*/true);
  }
  relu_out_.clear();
  pool_in_.clear();
  return d;
}

std::vector<Vgg16Conv> vgg16_convs(const std::map<std::string, Tensor>& state, int count, const std::string& source) {
  BIGCOLOR_CHECK(count >= 1 && count <= static_cast<int>(kVgg16ConvIndex.size()), "vgg16_convs: ", count,
                 " convs asked, VGG16 has ", kVgg16ConvIndex.size());
  std::vector<Vgg16Conv> convs;
  std::int64_t in = 3;
  for (int i = 0; i < count; ++i) {
    const std::string key = "features." + std::to_string(kVgg16ConvIndex[static_cast<std::size_t>(i)]);
    const auto w = state.find(key + ".weight");
    BIGCOLOR_CHECK(w != state.end(), source, ": '", key, ".weight' is missing (not a torchvision vgg16 state dict?)");
    const Shape& s = w->second.shape();
    BIGCOLOR_CHECK(s.size() == 4 && s[1] == in && s[2] == 3 && s[3] == 3, source, ": '", key, ".weight' has shape ",
                   shape_string(s), ", expected (C, ", in, ", 3, 3) for VGG16's layer ", key);
    BIGCOLOR_CHECK(w->second.dtype() == DType::F32, source, ": '", key, ".weight' is ", dtype_name(w->second.dtype()),
                   ", expected F32");
    const auto b = state.find(key + ".bias");
    BIGCOLOR_CHECK(b != state.end(), source, ": '", key, ".bias' is missing");
    BIGCOLOR_CHECK(b->second.shape() == Shape{s[0]}, source, ": '", key, ".bias' has shape ",
                   shape_string(b->second.shape()), ", expected (", s[0], ")");
    BIGCOLOR_CHECK(b->second.dtype() == DType::F32, source, ": '", key, ".bias' is ", dtype_name(b->second.dtype()),
                   ", expected F32");
    convs.push_back({w->second, b->second});
    in = s[0];
  }
  return convs;
}

std::unique_ptr<VGG16Features> load_vgg16_features(const std::string& path) {
  const NamedTensors file = load_state_dict_file(path);
  const std::map<std::string, Tensor> by_name(file.begin(), file.end());
  const std::vector<Vgg16Conv> convs = vgg16_convs(by_name, VGG16Features::kConvs, path);
  std::array<std::int64_t, VGG16Features::kConvs> widths{};
  for (int i = 0; i < VGG16Features::kConvs; ++i)
    widths[static_cast<std::size_t>(i)] = convs[static_cast<std::size_t>(i)].weight.dim(0);
  auto vgg = std::make_unique<VGG16Features>(widths);
  NamedTensors used;
  for (const auto& entry : vgg->state()) {
    const auto it = by_name.find(entry.name);
    BIGCOLOR_CHECK(it != by_name.end(), path, ": '", entry.name, "' is missing");
    used.emplace_back(entry.name, it->second);
  }
  load_state(*vgg, used, path);
  return vgg;
}

}  // namespace bigcolor
