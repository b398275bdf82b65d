// timm's ResNet with Bottleneck blocks, forward in eval mode: ResNet-D (resnet50d: stem_type 'deep', stem_width
// 32, avg_down) and the plain ResNet (resnet50 of timm and torchvision).
//
//   stem   ResNet-D: conv1.0 3×3/2 (3→32) BN conv1.1 ReLU, conv1.3 3×3 (32→32) BN conv1.4 ReLU, conv1.6 3×3 (32→64),
//          then bn1, ReLU;  plain: conv1 7×7/2 pad 3 (3→64), bn1, ReLU.   Then max pool 3×3/2 pad 1.
//   layerL.i (L = 1..4, Bottleneck): conv1 1×1 (in→width) bn1 ReLU, conv2 3×3 stride s (width→width) bn2 ReLU,
//          conv3 1×1 (width→out) bn3, + shortcut, ReLU. s = 2 in the first block of layers 2–4. Shortcut of the
//          first block: ResNet-D: downsample.0 AvgPool2d(2, s, ceil_mode, count_include_pad=False) (identity when
//          s = 1), downsample.1 1×1 conv, downsample.2 BN;  plain: downsample.0 1×1 conv stride s, downsample.1 BN.
//   head   global average pool, fc.
// Batch-norm eps 1e-5 (PyTorch's default).
#include <sstream>

#include "kernels/ops.h"
#include "layers/functional.h"
#include "models/classifier_nets.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {

constexpr double kEps = 1e-5;

std::string block_name(std::size_t layer, std::size_t i) {
  return "layer" + std::to_string(layer + 1) + "." + std::to_string(i);
}
std::string downsample_conv(const ResNetShape& a, const std::string& b) {
  return b + (a.avg_down ? ".downsample.1" : ".downsample.0");
}
std::string downsample_bn(const ResNetShape& a, const std::string& b) {
  return b + (a.avg_down ? ".downsample.2" : ".downsample.1");
}

}  // namespace

ResNetShape infer_resnet(const StateShapes& shapes, const std::string& source) {
  ResNetShape a;
  a.deep_stem = shapes.count("conv1.0.weight") != 0;
  if (a.deep_stem) {
    const Shape s1 = conv_shape(shapes, "conv1.0.weight", source, 3);
    const Shape s2 = conv_shape(shapes, "conv1.3.weight", source, s1[0]);
    const Shape s3 = conv_shape(shapes, "conv1.6.weight", source, s2[0]);
    a.stem1 = s1[0], a.stem2 = s2[0], a.stem_out = s3[0];
  } else {
    a.stem_out = conv_shape(shapes, "conv1.weight", source, 3)[0];
  }
  BIGCOLOR_CHECK(shapes.count("layer1.0.conv1.weight") != 0, source,
                 ": no 'layer1.0.conv1.weight': not a timm/torchvision ResNet state dict");
  BIGCOLOR_CHECK(shapes.count("layer1.0.conv3.weight") != 0, source,
                 ": a ResNet with basic blocks (resnet18/34 style, no layer1.0.conv3); only Bottleneck ResNets "
                 "(resnet50d, resnet50, ...) are supported");
  a.avg_down = shapes.count("layer1.0.downsample.1.weight") != 0 && shapes.count("layer1.0.downsample.2.weight");
  std::int64_t in = a.stem_out;
  const std::vector<std::size_t> counts = count_blocks(shapes, "layer", 1, source);
  BIGCOLOR_CHECK(counts.size() == 4, source, ": ", counts.size(), " ResNet layers (layer1..), expected 4");
  for (std::size_t layer = 0; layer < counts.size(); ++layer) {
    a.layers.emplace_back();
    for (std::size_t i = 0; i < counts[layer]; ++i) {
      const std::string b = block_name(layer, i);
      ResNetBlockShape blk;
      blk.in = in;
      blk.width = conv_shape(shapes, b + ".conv1.weight", source, in)[0];
      blk.out = conv_shape(shapes, b + ".conv3.weight", source, blk.width)[0];
      blk.stride = (layer > 0 && i == 0) ? 2 : 1;
      a.layers.back().push_back(blk);
      in = blk.out;
    }
  }
  const Shape& fc = shape_of(shapes, "fc.weight", source);
  BIGCOLOR_CHECK(fc.size() == 2 && fc[1] == in, source, ": 'fc.weight' has shape ", shape_string(fc),
                 ", expected (classes, ", in, ")");
  a.features = in, a.classes = fc[0];
  return a;
}

StateShapes resnet_state_shapes(const ResNetShape& a) {
  StateShapes s;
  if (a.deep_stem) {
    s["conv1.0.weight"] = {a.stem1, 3, 3, 3};
    add_batchnorm_shapes(s, "conv1.1", a.stem1);
    s["conv1.3.weight"] = {a.stem2, a.stem1, 3, 3};
    add_batchnorm_shapes(s, "conv1.4", a.stem2);
    s["conv1.6.weight"] = {a.stem_out, a.stem2, 3, 3};
  } else {
    s["conv1.weight"] = {a.stem_out, 3, 7, 7};
  }
  add_batchnorm_shapes(s, "bn1", a.stem_out);
  for (std::size_t layer = 0; layer < a.layers.size(); ++layer)
    for (std::size_t i = 0; i < a.layers[layer].size(); ++i) {
      const ResNetBlockShape& blk = a.layers[layer][i];
      const std::string b = block_name(layer, i);
      s[b + ".conv1.weight"] = {blk.width, blk.in, 1, 1};
      add_batchnorm_shapes(s, b + ".bn1", blk.width);
      s[b + ".conv2.weight"] = {blk.width, blk.width, 3, 3};
      add_batchnorm_shapes(s, b + ".bn2", blk.width);
      s[b + ".conv3.weight"] = {blk.out, blk.width, 1, 1};
      add_batchnorm_shapes(s, b + ".bn3", blk.out);
      // timm and torchvision give a block a shortcut convolution exactly when its shape changes.
      if (blk.stride != 1 || blk.in != blk.out) {
        s[downsample_conv(a, b) + ".weight"] = {blk.out, blk.in, 1, 1};
        add_batchnorm_shapes(s, downsample_bn(a, b), blk.out);
      }
    }
  s["fc.weight"] = {a.classes, a.features};
  s["fc.bias"] = {a.classes};
  return s;
}

ClassifierInfo describe_resnet(const ResNetShape& a) {
  ClassifierInfo info;
  info.family = "resnet";
  info.num_classes = a.classes;
  info.parameters = count_parameters(resnet_state_shapes(a));
  std::vector<std::size_t> counts;
  for (const auto& layer : a.layers) counts.push_back(layer.size());
  const bool standard_widths = a.stem_out == 64 && a.layers[0][0].width == 64 && a.layers[3][0].width == 512 &&
                               a.features == 2048 && (!a.deep_stem || (a.stem1 == 32 && a.stem2 == 32));
  struct Known { std::vector<std::size_t> counts; const char* name; int size; };
  // timm's default input sizes (pretrained_cfg); the official colorize_real.py uses resnet50d at 224.
  const Known d_variants[] = {{{3, 4, 6, 3}, "resnet50d", 224}, {{3, 4, 23, 3}, "resnet101d", 256},
                              {{3, 8, 36, 3}, "resnet152d", 256}, {{3, 24, 36, 3}, "resnet200d", 256}};
  const Known plain_variants[] = {{{3, 4, 6, 3}, "resnet50", 224}, {{3, 4, 23, 3}, "resnet101", 224},
                                  {{3, 8, 36, 3}, "resnet152", 224}};
  info.variant = a.deep_stem && a.avg_down ? "custom resnet-d" : "custom resnet";
  if (standard_widths && a.deep_stem == a.avg_down)
    for (const Known& k : a.deep_stem ? std::vector<Known>(std::begin(d_variants), std::end(d_variants))
                                      : std::vector<Known>(std::begin(plain_variants), std::end(plain_variants)))
      if (k.counts == counts) info.variant = k.name, info.input_size = k.size;
  std::ostringstream s;
  s << (a.deep_stem ? "deep stem " : "7x7 stem ") << a.stem_out << ", blocks";
  for (std::size_t c : counts) s << ' ' << c;
  s << (a.avg_down ? ", avg-pool shortcut" : ", strided shortcut") << ", " << a.features << " features, "
    << a.classes << " classes";
  info.structure = s.str();
  return info;
}

namespace {

struct Bottleneck {
  FoldedConv conv1, conv2, conv3, shortcut;
  bool has_shortcut = false, avg_pool = false;
  int stride = 1;
};

class ResNet final : public ClassifierNet {
 public:
  ResNet(const ResNetShape& a, const TensorMap& state) : arch_(a) {
    if (a.deep_stem) {
      stem_.push_back(fold_conv_bn(state, "conv1.0.weight", "conv1.1", kEps));
      stem_.push_back(fold_conv_bn(state, "conv1.3.weight", "conv1.4", kEps));
      stem_.push_back(fold_conv_bn(state, "conv1.6.weight", "bn1", kEps));
      stem_[0].stride = 2;
      for (FoldedConv& c : stem_) c.pad = 1;
    } else {
      stem_.push_back(fold_conv_bn(state, "conv1.weight", "bn1", kEps));
      stem_[0].stride = 2, stem_[0].pad = 3;
    }
    for (std::size_t layer = 0; layer < a.layers.size(); ++layer)
      for (std::size_t i = 0; i < a.layers[layer].size(); ++i) {
        const ResNetBlockShape& shape = a.layers[layer][i];
        const std::string b = block_name(layer, i);
        Bottleneck blk;
        blk.stride = shape.stride;
        blk.conv1 = fold_conv_bn(state, b + ".conv1.weight", b + ".bn1", kEps);
        blk.conv2 = fold_conv_bn(state, b + ".conv2.weight", b + ".bn2", kEps);
        blk.conv2.stride = shape.stride, blk.conv2.pad = 1;
        blk.conv3 = fold_conv_bn(state, b + ".conv3.weight", b + ".bn3", kEps);
        blk.has_shortcut = shape.stride != 1 || shape.in != shape.out;
        if (blk.has_shortcut) {
          blk.shortcut = fold_conv_bn(state, downsample_conv(a, b) + ".weight", downsample_bn(a, b), kEps);
          blk.avg_pool = a.avg_down && shape.stride != 1;
          if (!a.avg_down) blk.shortcut.stride = shape.stride;
        }
        blocks_.push_back(std::move(blk));
      }
    fc_weight_ = state.at("fc.weight");
    fc_bias_ = state.at("fc.bias");
  }

  Tensor logits(const Tensor& x_in) const override {
    Tensor x = x_in;
    for (const FoldedConv& c : stem_) x = fn::relu(c(x));
    Tensor pooled = Tensor::empty({x.dim(0), x.dim(1), (x.dim(2) - 1) / 2 + 1, (x.dim(3) - 1) / 2 + 1}, DType::F32,
                                  x.device());
    ops::maxpool2d_forward(pooled, x, 3, 2, 1);
    x = pooled;
    for (const Bottleneck& blk : blocks_) {
      Tensor y = blk.conv3(fn::relu(blk.conv2(fn::relu(blk.conv1(x)))));
      Tensor shortcut = x;
      if (blk.has_shortcut) {
        Tensor in = x;
        if (blk.avg_pool) {
          in = Tensor::empty({x.dim(0), x.dim(1), ceil_mode_pool_size(x.dim(2), 2, blk.stride),
                              ceil_mode_pool_size(x.dim(3), 2, blk.stride)}, DType::F32, x.device());
          ops::avgpool2d_ceil_forward(in, x, 2, blk.stride);
        }
        shortcut = blk.shortcut(in);
      }
      ops::add_forward(y, y, shortcut);
      ops::relu_forward(y, y);
      x = y;
    }
    Tensor features = Tensor::empty({x.dim(0), x.dim(1)}, DType::F32, x.device());
    ops::mean_forward(features, x);
    Tensor out = Tensor::empty({x.dim(0), fc_weight_.dim(0)}, DType::F32, x.device());
    ops::linear_forward(out, features, fc_weight_, fc_bias_);
    return out;
  }

  void to(Device device) override {
    for (FoldedConv& c : stem_) c.to(device);
    for (Bottleneck& b : blocks_) {
      b.conv1.to(device), b.conv2.to(device), b.conv3.to(device);
      if (b.has_shortcut) b.shortcut.to(device);
    }
    fc_weight_ = fc_weight_.to(device);
    fc_bias_ = fc_bias_.to(device);
  }

 private:
  ResNetShape arch_;
  std::vector<FoldedConv> stem_;
  std::vector<Bottleneck> blocks_;
  Tensor fc_weight_, fc_bias_;
};

}  // namespace

std::unique_ptr<ClassifierNet> build_resnet(const ResNetShape& arch, const TensorMap& state) {
  return std::make_unique<ResNet>(arch, state);
}

}  // namespace bigcolor
