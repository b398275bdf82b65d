// Internal to the classifiers (models/classifier.h): the architectures inferred from a state dict, the strict
// name/shape comparison, batch norm folded into convolutions, and the two networks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv_window.h"
#include "models/classifier.h"
#include "tensor/tensor.h"

namespace bigcolor {

// ---- reading a state dict strictly ----------------------------------------------------------------------------

using TensorMap = std::map<std::string, Tensor>;
// The tensors of a state-dict file: torch.save (zip or legacy) or safetensors, told apart by content.
TensorMap read_state_file(const std::string& path);
// Checkpoints saved from a training script often wrap the state dict ({"state_dict": ...}, {"model": ...}) or
// keep DataParallel's "module." prefix: one such prefix on every name is removed (repeatedly).
TensorMap strip_common_prefix(TensorMap state);
// The names and shapes of a state (num_batches_tracked, a training counter eval ignores, left out).
StateShapes shapes_of(const TensorMap& state);
// Every tensor but the num_batches_tracked counters is F32 and finite, else an Error naming the file and tensor.
void require_finite_f32(const TensorMap& state, const std::string& source);

// The shape of `name`, or an Error "<source>: missing tensor 'name' (a <what>)".
const Shape& shape_of(const StateShapes& shapes, const std::string& name, const std::string& source);
// The 4-D shape of a convolution weight, checked: (out, in, kh, kw) with in == expected_in when given (≥ 0).
Shape conv_shape(const StateShapes& shapes, const std::string& name, const std::string& source,
                 std::int64_t expected_in = -1);
// The file's names and shapes must equal `expected` exactly: the first missing, unexpected or misshapen tensor is
// an Error naming it.
void require_same_names_and_shapes(const StateShapes& file, const StateShapes& expected, const std::string& source,
                                   const std::string& variant);
// Expected shapes of a batch norm `prefix` over `channels`: weight, bias, running_mean, running_var.
void add_batchnorm_shapes(StateShapes& out, const std::string& prefix, std::int64_t channels);
std::int64_t count_parameters(const StateShapes& shapes);  // running statistics excluded
// The number of blocks in each group of names "<group_prefix><g>.<i>.…" (ResNet "layer1.0.", EfficientNet
// "blocks.0.0."): groups[g] = 1 + the highest i present. `first_group` is the lowest group number (1 or 0); group
// numbers must run without a gap, and a block index without its tensors is then found missing by name.
std::vector<std::size_t> count_blocks(const StateShapes& shapes, const std::string& group_prefix, int first_group,
                                      const std::string& source);

// A convolution with its batch norm folded in (eval mode): w' = w·γ/√(var+eps) per output channel,
// b' = β − mean·γ/√(var+eps) (+ the convolution's own bias, scaled likewise), computed in double.
struct FoldedConv {
  Tensor weight, bias;  // (Cout, Cin or 1, KH, KW), (Cout)
  int stride = 1;
  bool depthwise = false;
  bool tf_same = false;  // TF "same" padding, computed from each input's size (timm's Conv2dSame)
  int pad = 0;           // else zero padding: `pad` on every side, or
  int pad_w = -1;        // when ≥ 0, `pad` above and below and pad_w left and right (Inception's 1×7 with (0, 3))
  Tensor operator()(const Tensor& x) const;
  void to(Device device);
};
// conv `conv_name` (a weight, optionally "<prefix>.bias" beside it when conv_has_bias) + batch norm `bn_prefix`.
FoldedConv fold_conv_bn(const TensorMap& state, const std::string& conv_name, const std::string& bn_prefix,
                        double eps, bool conv_has_bias = false);

// ---- the networks --------------------------------------------------------------------------------------------

struct ClassifierNet {
  virtual ~ClassifierNet() = default;
  virtual Tensor logits(const Tensor& x) const = 0;  // x (B, 3, h, w) on the net's device
  virtual void to(Device device) = 0;
};

// ResNet with Bottleneck blocks: ResNet-D (deep 3-conv stem, average-pool shortcut) or the plain ResNet.
struct ResNetBlockShape {
  std::int64_t in = 0, width = 0, out = 0;
  int stride = 1;  // a shortcut convolution exists exactly when stride ≠ 1 or in ≠ out (timm, torchvision)
};
struct ResNetShape {
  bool deep_stem = true, avg_down = true;
  std::int64_t stem1 = 0, stem2 = 0, stem_out = 0;  // deep stem widths (plain stem: stem_out only)
  std::vector<std::vector<ResNetBlockShape>> layers;
  std::int64_t features = 0, classes = 0;
};
ResNetShape infer_resnet(const StateShapes& shapes, const std::string& source);
StateShapes resnet_state_shapes(const ResNetShape& arch);
ClassifierInfo describe_resnet(const ResNetShape& arch);
std::unique_ptr<ClassifierNet> build_resnet(const ResNetShape& arch, const TensorMap& state);

// TF EfficientNet: 7 stages of depthwise-separable (stage 0) or inverted-residual blocks, each with SE.
struct EfficientBlockShape {
  bool depthwise_separable = false;  // DS block (conv_dw, se, conv_pw) else IR (conv_pw, conv_dw, se, conv_pwl)
  std::int64_t in = 0, mid = 0, out = 0, kernel = 3, se = 0;  // se: the squeeze width (0: none)
  int stride = 1;
  bool skip() const { return stride == 1 && in == out; }
};
struct EfficientNetShape {
  std::int64_t stem = 0, head = 0, classes = 0;
  std::vector<std::vector<EfficientBlockShape>> stages;
};
EfficientNetShape infer_efficientnet(const StateShapes& shapes, const std::string& source);
StateShapes efficientnet_state_shapes(const EfficientNetShape& arch);
ClassifierInfo describe_efficientnet(const EfficientNetShape& arch);
std::unique_ptr<ClassifierNet> build_efficientnet(const EfficientNetShape& arch, const TensorMap& state);

}  // namespace bigcolor
