// Inception-v3 for FID (models/inception.h): the layouts' names and shapes, strict loading, and the forward of
// torchvision's Inception3 up to the global average pool, with pytorch-fid's FID block variants.
//
// Layers (torchvision/models/inception.py; every convolution a BasicConv2d "<name>.conv.weight" + "<name>.bn"):
//   Conv2d_1a_3x3 3→32 3×3/2, Conv2d_2a_3x3 32→32 3×3, Conv2d_2b_3x3 32→64 3×3 pad 1, max pool 3/2,
//   Conv2d_3b_1x1 64→80 1×1, Conv2d_4a_3x3 80→192 3×3, max pool 3/2,
//   Mixed_5b/5c/5d  InceptionA(192/256/288, pool features 32/64/64)   -> 256, 288, 288 channels (35×35)
//   Mixed_6a        InceptionB(288)                                    -> 768 (17×17)
//   Mixed_6b..6e    InceptionC(768, c7 = 128, 160, 160, 192)           -> 768
//   Mixed_7a        InceptionD(768)                                    -> 1280 (8×8)
//   Mixed_7b/7c     InceptionE(1280/2048)                              -> 2048
//   global average pool -> the 2048 features (fc 2048→classes is in the file, checked, unused).
// Branches are concatenated along channels in the order of each block's `outputs` list (below, per block).
#include "models/inception.h"

#include <vector>

#include "imaging/resize.h"
#include "kernels/ops.h"
#include "models/classifier_nets.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {

constexpr double kEps = 1e-3;  // BasicConv2d's BatchNorm2d(eps=0.001)
constexpr std::int64_t kFidClasses = 1008, kTorchvisionClasses = 1000;

// One BasicConv2d: in → out channels, a kh × kw kernel, a stride and zero padding (pad_h above and below, pad_w
// left and right).
struct ConvSpec {
  std::string name;
  std::int64_t in = 0, out = 0, kh = 1, kw = 1;
  int stride = 1, pad_h = 0, pad_w = 0;
};

void block_a(std::vector<ConvSpec>& v, const std::string& p, std::int64_t in, std::int64_t pool_features) {
  v.push_back({p + ".branch1x1", in, 64, 1, 1});
  v.push_back({p + ".branch5x5_1", in, 48, 1, 1});
  v.push_back({p + ".branch5x5_2", 48, 64, 5, 5, 1, 2, 2});
  v.push_back({p + ".branch3x3dbl_1", in, 64, 1, 1});
  v.push_back({p + ".branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1});
  v.push_back({p + ".branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1});
  v.push_back({p + ".branch_pool", in, pool_features, 1, 1});
}

void block_b(std::vector<ConvSpec>& v, const std::string& p, std::int64_t in) {
  v.push_back({p + ".branch3x3", in, 384, 3, 3, 2});
  v.push_back({p + ".branch3x3dbl_1", in, 64, 1, 1});
  v.push_back({p + ".branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1});
  v.push_back({p + ".branch3x3dbl_3", 96, 96, 3, 3, 2});
}

void block_c(std::vector<ConvSpec>& v, const std::string& p, std::int64_t in, std::int64_t c7) {
  v.push_back({p + ".branch1x1", in, 192, 1, 1});
  v.push_back({p + ".branch7x7_1", in, c7, 1, 1});
  v.push_back({p + ".branch7x7_2", c7, c7, 1, 7, 1, 0, 3});
  v.push_back({p + ".branch7x7_3", c7, 192, 7, 1, 1, 3, 0});
  v.push_back({p + ".branch7x7dbl_1", in, c7, 1, 1});
  v.push_back({p + ".branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0});
  v.push_back({p + ".branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3});
  v.push_back({p + ".branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0});
  v.push_back({p + ".branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3});
  v.push_back({p + ".branch_pool", in, 192, 1, 1});
}

void block_d(std::vector<ConvSpec>& v, const std::string& p, std::int64_t in) {
  v.push_back({p + ".branch3x3_1", in, 192, 1, 1});
  v.push_back({p + ".branch3x3_2", 192, 320, 3, 3, 2});
  v.push_back({p + ".branch7x7x3_1", in, 192, 1, 1});
  v.push_back({p + ".branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3});
  v.push_back({p + ".branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0});
  v.push_back({p + ".branch7x7x3_4", 192, 192, 3, 3, 2});
}

void block_e(std::vector<ConvSpec>& v, const std::string& p, std::int64_t in) {
  v.push_back({p + ".branch1x1", in, 320, 1, 1});
  v.push_back({p + ".branch3x3_1", in, 384, 1, 1});
  v.push_back({p + ".branch3x3_2a", 384, 384, 1, 3, 1, 0, 1});
  v.push_back({p + ".branch3x3_2b", 384, 384, 3, 1, 1, 1, 0});
  v.push_back({p + ".branch3x3dbl_1", in, 448, 1, 1});
  v.push_back({p + ".branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1});
  v.push_back({p + ".branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1});
  v.push_back({p + ".branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0});
  v.push_back({p + ".branch_pool", in, 192, 1, 1});
}

// Every BasicConv2d on the way to the features, in torchvision's order.
const std::vector<ConvSpec>& feature_convs() {
  static const std::vector<ConvSpec> convs = [] {
    std::vector<ConvSpec> v;
    v.push_back({"Conv2d_1a_3x3", 3, 32, 3, 3, 2});
    v.push_back({"Conv2d_2a_3x3", 32, 32, 3, 3});
    v.push_back({"Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1});
    v.push_back({"Conv2d_3b_1x1", 64, 80, 1, 1});
    v.push_back({"Conv2d_4a_3x3", 80, 192, 3, 3});
    block_a(v, "Mixed_5b", 192, 32);
    block_a(v, "Mixed_5c", 256, 64);
    block_a(v, "Mixed_5d", 288, 64);
    block_b(v, "Mixed_6a", 288);
    block_c(v, "Mixed_6b", 768, 128);
    block_c(v, "Mixed_6c", 768, 160);
    block_c(v, "Mixed_6d", 768, 160);
    block_c(v, "Mixed_6e", 768, 192);
    block_d(v, "Mixed_7a", 768);
    block_e(v, "Mixed_7b", 1280);
    block_e(v, "Mixed_7c", 2048);
    return v;
  }();
  return convs;
}

void add_basic_conv(StateShapes& s, const ConvSpec& c) {
  s[c.name + ".conv.weight"] = {c.out, c.in, c.kh, c.kw};
  add_batchnorm_shapes(s, c.name + ".bn", c.out);
}

const char* variant_name(InceptionProtocol layout) {
  return layout == InceptionProtocol::Torchvision ? "inception_v3_google (torchvision)"
                                                  : "pt_inception-2015-12-05 (pytorch-fid)";
}

}  // namespace

const char* inception_protocol_name(InceptionProtocol protocol) {
  switch (protocol) {
    case InceptionProtocol::Auto: return "auto";
    case InceptionProtocol::PytorchFid: return "pytorch-fid";
    case InceptionProtocol::Torchvision: return "torchvision";
  }
  return "?";
}

InceptionProtocol parse_inception_protocol(const std::string& name) {
  for (InceptionProtocol p : {InceptionProtocol::Auto, InceptionProtocol::PytorchFid, InceptionProtocol::Torchvision})
    if (name == inception_protocol_name(p)) return p;
  detail::throw_error("unknown FID protocol '", name, "' (auto, pytorch-fid or torchvision)");
}

StateShapes inception_state_shapes(InceptionProtocol layout) {
  BIGCOLOR_CHECK(layout != InceptionProtocol::Auto, "inception_state_shapes: give a layout, not auto");
  StateShapes s;
  for (const ConvSpec& c : feature_convs()) add_basic_conv(s, c);
  const bool torchvision = layout == InceptionProtocol::Torchvision;
  const std::int64_t classes = torchvision ? kTorchvisionClasses : kFidClasses;
  if (torchvision) {  // InceptionAux(768, classes): conv0 1×1 768→128, conv1 5×5 128→768, fc 768→classes
    add_basic_conv(s, {"AuxLogits.conv0", 768, 128, 1, 1});
    add_basic_conv(s, {"AuxLogits.conv1", 128, 768, 5, 5});
    s["AuxLogits.fc.weight"] = {classes, 768};
    s["AuxLogits.fc.bias"] = {classes};
  }
  s["fc.weight"] = {classes, InceptionFeatures::kFeatures};
  s["fc.bias"] = {classes};
  return s;
}

InceptionInfo identify_inception(const StateShapes& shapes, const std::string& source, InceptionProtocol protocol) {
  if (!shapes.count("Conv2d_1a_3x3.conv.weight") || !shapes.count("fc.weight")) {
    std::string some;
    for (auto it = shapes.begin(); it != shapes.end() && std::distance(shapes.begin(), it) < 3; ++it)
      some += (some.empty() ? "'" : ", '") + it->first + "'";
    detail::throw_error(source, ": not an Inception-v3 state dict (no 'Conv2d_1a_3x3.conv.weight' or 'fc.weight'",
                        some.empty() ? std::string(", no tensors at all") : ", it starts with " + some, ")");
  }
  const Shape& fc = shape_of(shapes, "fc.weight", source);
  BIGCOLOR_CHECK(fc.size() == 2 && (fc[0] == kFidClasses || fc[0] == kTorchvisionClasses), source,
                 ": 'fc.weight' has shape ", shape_string(fc), ": neither pytorch-fid's FID Inception (1008, 2048) ",
                 "nor torchvision's inception_v3_google (1000, 2048)");
  InceptionInfo info;
  info.layout = fc[0] == kFidClasses ? InceptionProtocol::PytorchFid : InceptionProtocol::Torchvision;
  info.protocol = protocol == InceptionProtocol::Auto ? info.layout : protocol;
  info.variant = variant_name(info.layout);
  const StateShapes expected = inception_state_shapes(info.layout);
  require_same_names_and_shapes(shapes, expected, source, info.variant);
  info.num_classes = fc[0];
  info.aux_logits = info.layout == InceptionProtocol::Torchvision;
  info.parameters = count_parameters(expected);
  return info;
}

// ---- the network ----------------------------------------------------------------------------------------------

struct InceptionNet {
  std::map<std::string, FoldedConv> convs;

  // conv + folded batch norm + ReLU (in place)
  Tensor run(const std::string& name, const Tensor& x) const {
    Tensor y = convs.at(name)(x);
    ops::relu_forward(y, y);
    return y;
  }

  Tensor forward(const Tensor& input, InceptionProtocol protocol) const;
  void to(Device device) {
    for (auto& [name, c] : convs) c.to(device);
  }
};

namespace {

// torch.cat(parts, 1) of (B, Ci, H, W) tensors: each part is a column block of the (B, ΣCi·H·W) view.
Tensor concat_channels(const std::vector<Tensor>& parts) {
  const std::int64_t b = parts[0].dim(0), h = parts[0].dim(2), w = parts[0].dim(3);
  std::int64_t channels = 0;
  for (const Tensor& p : parts) {
    BIGCOLOR_CHECK(p.dim(0) == b && p.dim(2) == h && p.dim(3) == w, "inception: branch ", p.describe(),
                   " does not match ", parts[0].describe());
    channels += p.dim(1);
  }
  const Tensor out = Tensor::empty({b, channels, h, w}, DType::F32, parts[0].device());
  const Tensor flat = out.reshape({b, channels * h * w});
  std::int64_t offset = 0;
  for (const Tensor& p : parts) {
    const std::int64_t width = p.dim(1) * h * w;
    ops::copy_columns(flat, offset, p.reshape({b, width}), 0, width);
    offset += width;
  }
  return out;
}

Tensor max_pool(const Tensor& x, int kernel, int stride, int pad) {
  const Tensor out = Tensor::empty({x.dim(0), x.dim(1), (x.dim(2) + 2 * pad - kernel) / stride + 1,
                                    (x.dim(3) + 2 * pad - kernel) / stride + 1}, DType::F32, x.device());
  ops::maxpool2d_forward(out, x, kernel, stride, pad);
  return out;
}

// F.avg_pool2d(x, 3, 1, 1, count_include_pad=include_pad): the same size as x.
Tensor avg_pool_3x3(const Tensor& x, bool include_pad) {
  const Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  ops::avgpool2d_forward(out, x, 3, 1, 1, include_pad);
  return out;
}

// InceptionE's pool branch: torchvision avg (kernel² divisor), FIDInceptionE_1 avg (cells inside), FIDInceptionE_2
// max 3/1/1.
enum class PoolKind { AvgIncludePad, AvgInside, Max };

Tensor pool_3x3(const Tensor& x, PoolKind kind) {
  return kind == PoolKind::Max ? max_pool(x, 3, 1, 1) : avg_pool_3x3(x, kind == PoolKind::AvgIncludePad);
}

// outputs = [branch1x1, branch5x5, branch3x3dbl, branch_pool]
Tensor inception_a(const InceptionNet& n, const std::string& p, const Tensor& x, PoolKind pool) {
  const Tensor b1 = n.run(p + ".branch1x1", x);
  const Tensor b5 = n.run(p + ".branch5x5_2", n.run(p + ".branch5x5_1", x));
  const Tensor b3 =
      n.run(p + ".branch3x3dbl_3", n.run(p + ".branch3x3dbl_2", n.run(p + ".branch3x3dbl_1", x)));
  const Tensor bp = n.run(p + ".branch_pool", pool_3x3(x, pool));
  return concat_channels({b1, b5, b3, bp});
}

// outputs = [branch3x3, branch3x3dbl, branch_pool (max 3/2)]
Tensor inception_b(const InceptionNet& n, const std::string& p, const Tensor& x) {
  const Tensor b3 = n.run(p + ".branch3x3", x);
  const Tensor bd =
      n.run(p + ".branch3x3dbl_3", n.run(p + ".branch3x3dbl_2", n.run(p + ".branch3x3dbl_1", x)));
  return concat_channels({b3, bd, max_pool(x, 3, 2, 0)});
}

// outputs = [branch1x1, branch7x7, branch7x7dbl, branch_pool]
Tensor inception_c(const InceptionNet& n, const std::string& p, const Tensor& x, PoolKind pool) {
  const Tensor b1 = n.run(p + ".branch1x1", x);
  const Tensor b7 = n.run(p + ".branch7x7_3", n.run(p + ".branch7x7_2", n.run(p + ".branch7x7_1", x)));
  Tensor bd = n.run(p + ".branch7x7dbl_1", x);
  for (const char* s : {".branch7x7dbl_2", ".branch7x7dbl_3", ".branch7x7dbl_4", ".branch7x7dbl_5"})
    bd = n.run(p + s, bd);
  const Tensor bp = n.run(p + ".branch_pool", pool_3x3(x, pool));
  return concat_channels({b1, b7, bd, bp});
}

// outputs = [branch3x3, branch7x7x3, branch_pool (max 3/2)]
Tensor inception_d(const InceptionNet& n, const std::string& p, const Tensor& x) {
  const Tensor b3 = n.run(p + ".branch3x3_2", n.run(p + ".branch3x3_1", x));
  Tensor b7 = n.run(p + ".branch7x7x3_1", x);
  for (const char* s : {".branch7x7x3_2", ".branch7x7x3_3", ".branch7x7x3_4"}) b7 = n.run(p + s, b7);
  return concat_channels({b3, b7, max_pool(x, 3, 2, 0)});
}

// outputs = [branch1x1, cat(branch3x3_2a, _2b), cat(branch3x3dbl_3a, _3b), branch_pool]: the nested cats flatten
// into one, in that order.
Tensor inception_e(const InceptionNet& n, const std::string& p, const Tensor& x, PoolKind pool) {
  const Tensor b1 = n.run(p + ".branch1x1", x);
  const Tensor t = n.run(p + ".branch3x3_1", x);
  const Tensor b3a = n.run(p + ".branch3x3_2a", t), b3b = n.run(p + ".branch3x3_2b", t);
  const Tensor d = n.run(p + ".branch3x3dbl_2", n.run(p + ".branch3x3dbl_1", x));
  const Tensor d3a = n.run(p + ".branch3x3dbl_3a", d), d3b = n.run(p + ".branch3x3dbl_3b", d);
  const Tensor bp = n.run(p + ".branch_pool", pool_3x3(x, pool));
  return concat_channels({b1, b3a, b3b, d3a, d3b, bp});
}

}  // namespace

Tensor InceptionNet::forward(const Tensor& input, InceptionProtocol protocol) const {
  const bool fid = protocol == InceptionProtocol::PytorchFid;
  const PoolKind avg = fid ? PoolKind::AvgInside : PoolKind::AvgIncludePad;
  Tensor x = run("Conv2d_2b_3x3", run("Conv2d_2a_3x3", run("Conv2d_1a_3x3", input)));
  x = max_pool(x, 3, 2, 0);
  x = max_pool(run("Conv2d_4a_3x3", run("Conv2d_3b_1x1", x)), 3, 2, 0);
  for (const char* b : {"Mixed_5b", "Mixed_5c", "Mixed_5d"}) x = inception_a(*this, b, x, avg);
  x = inception_b(*this, "Mixed_6a", x);
  for (const char* b : {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"}) x = inception_c(*this, b, x, avg);
  x = inception_d(*this, "Mixed_7a", x);
  x = inception_e(*this, "Mixed_7b", x, avg);
  x = inception_e(*this, "Mixed_7c", x, fid ? PoolKind::Max : PoolKind::AvgIncludePad);
  const Tensor features = Tensor::empty({x.dim(0), x.dim(1)}, DType::F32, x.device());
  ops::mean_forward(features, x);  // AdaptiveAvgPool2d((1, 1)), flattened
  return features;
}

// ---- loading and the pipelines ----------------------------------------------------------------------------------

InceptionFeatures InceptionFeatures::from_state(const std::map<std::string, Tensor>& raw, const std::string& source,
                                                Device device, InceptionProtocol protocol) {
  const TensorMap state = strip_common_prefix(raw);
  InceptionFeatures f;
  f.info_ = identify_inception(shapes_of(state), source, protocol);
  require_finite_f32(state, source);
  auto net = std::make_shared<InceptionNet>();
  for (const ConvSpec& c : feature_convs()) {
    FoldedConv conv = fold_conv_bn(state, c.name + ".conv.weight", c.name + ".bn", kEps);
    conv.stride = c.stride;
    conv.pad = c.pad_h;
    conv.pad_w = c.pad_w;
    net->convs.emplace(c.name, std::move(conv));
  }
  if (device != Device::CPU) net->to(device);
  f.device_ = device;
  f.net_ = std::move(net);
  return f;
}

InceptionFeatures InceptionFeatures::load(const std::string& path, Device device, InceptionProtocol protocol) {
  return from_state(read_state_file(path), path, device, protocol);
}

Tensor InceptionFeatures::network_input(const Tensor& images) const {
  BIGCOLOR_CHECK(images.ndim() == 4 && images.dim(1) == 3 && images.dtype() == DType::F32 && images.dim(0) >= 1,
                 "inception: images ", images.describe(), ", expected (B, 3, H, W) F32 in [0, 1]");
  const Tensor cpu = images.device() == Device::CPU ? images : images.to(Device::CPU);
  const Tensor x = resize_bilinear(cpu, kInputSize, kInputSize);
  const std::int64_t planes = x.dim(0) * 3, hw = x.dim(2) * x.dim(3);
  float* v = x.data<float>();
  if (info_.protocol == InceptionProtocol::PytorchFid) {
    for (std::int64_t i = 0; i < planes * hw; ++i) v[i] = 2.0f * v[i] - 1.0f;  // pytorch-fid: 2 * x - 1
    return x;
  }
  // torchvision: Normalize (float32 mean/std: (x − mean) / std), then Inception3._transform_input, whose factors
  // are Python doubles applied to a float32 tensor: x·(std/0.5) + (mean − 0.5)/0.5.
  const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
  for (std::int64_t p = 0; p < planes; ++p) {
    const int c = static_cast<int>(p % 3);
    const float m = static_cast<float>(mean[c]), s = static_cast<float>(stdev[c]);
    const float scale = static_cast<float>(stdev[c] / 0.5), shift = static_cast<float>((mean[c] - 0.5) / 0.5);
    float* plane = v + p * hw;
    for (std::int64_t i = 0; i < hw; ++i) plane[i] = ((plane[i] - m) / s) * scale + shift;
  }
  return x;
}

Tensor InceptionFeatures::features_of_input(const Tensor& x) const {
  BIGCOLOR_CHECK(x.ndim() == 4 && x.dim(1) == 3 && x.dtype() == DType::F32 && x.dim(0) >= 1, "inception: input ",
                 x.describe(), ", expected (B, 3, H, W) F32");
  BIGCOLOR_CHECK(x.dim(2) >= 75 && x.dim(3) >= 75, "inception: input ", x.describe(),
                 " is smaller than 75x75 (Inception-v3's smallest)");
  const Tensor on_device = x.device() == device_ ? x : x.to(device_);
  return net_->forward(on_device, info_.protocol).to(Device::CPU);
}

Tensor InceptionFeatures::features(const Tensor& images_0_1) const {
  return features_of_input(network_input(images_0_1));
}

}  // namespace bigcolor
