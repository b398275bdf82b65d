// timm's TF-ported EfficientNets (tf_efficientnet_b0 … b7, tf_efficientnet_l2), forward in eval mode.
//
//   stem     conv_stem 3×3/2 (3→stem), bn1, SiLU
//   blocks.S.I, S = 0..6 (first block of stage S has stride 1, 2, 2, 2, 1, 2, 1; the others stride 1):
//     S = 0  depthwise-separable: conv_dw k×k (C), bn1, SiLU, se, conv_pw 1×1 (C→out), bn2
//     S > 0  inverted residual:   conv_pw 1×1 (in→mid), bn1, SiLU, conv_dw k×k (mid), bn2, SiLU, se,
//                                 conv_pwl 1×1 (mid→out), bn3
//     se: mean over H, W -> conv_reduce 1×1 (+bias) -> SiLU -> conv_expand 1×1 (+bias) -> x · sigmoid(·)
//     + the input when stride 1 and in == out (drop-path is the identity in eval)
//   head     conv_head 1×1 (→head), bn2, SiLU, global average pool, classifier (linear)
// Every convolution pads TF-"same" (timm's Conv2dSame, or static (k−1)/2 where that is the same thing);
// batch-norm eps 1e-3 (timm's BN_ARGS_TF).
#include <sstream>

#include "kernels/ops.h"
#include "models/classifier_nets.h"
#include "tensor/error.h"

namespace bigcolor {

namespace {

constexpr double kEps = 1e-3;
constexpr int kStageStrides[7] = {1, 2, 2, 2, 1, 2, 1};
constexpr std::int64_t kStageKernels[7] = {3, 3, 5, 3, 5, 5, 3};

std::string block_name(std::size_t stage, std::size_t i) {
  return "blocks." + std::to_string(stage) + "." + std::to_string(i);
}

}  // namespace

EfficientNetShape infer_efficientnet(const StateShapes& shapes, const std::string& source) {
  EfficientNetShape a;
  a.stem = conv_shape(shapes, "conv_stem.weight", source, 3)[0];
  std::int64_t in = a.stem;
  const std::vector<std::size_t> counts = count_blocks(shapes, "blocks.", 0, source);
  BIGCOLOR_CHECK(counts.size() == 7, source, ": ", counts.size(), " stages (blocks.0 ..), an EfficientNet has 7");
  for (std::size_t stage = 0; stage < counts.size(); ++stage) {
    a.stages.emplace_back();
    for (std::size_t i = 0; i < counts[stage]; ++i) {
      const std::string b = block_name(stage, i);
      EfficientBlockShape blk;
      blk.depthwise_separable = shapes.count(b + ".conv_pwl.weight") == 0;
      blk.in = in;
      blk.mid = blk.depthwise_separable ? in : conv_shape(shapes, b + ".conv_pw.weight", source, in)[0];
      const Shape dw = conv_shape(shapes, b + ".conv_dw.weight", source, 1);
      BIGCOLOR_CHECK(dw[0] == blk.mid && dw[2] == dw[3], source, ": '", b, ".conv_dw.weight' has shape ",
                     shape_string(dw), ", expected (", blk.mid, ", 1, k, k)");
      blk.kernel = dw[2];
      if (shapes.count(b + ".se.conv_reduce.weight"))
        blk.se = conv_shape(shapes, b + ".se.conv_reduce.weight", source, blk.mid)[0];
      blk.out = conv_shape(shapes, b + (blk.depthwise_separable ? ".conv_pw.weight" : ".conv_pwl.weight"), source,
                           blk.mid)[0];
      blk.stride = i == 0 ? kStageStrides[stage] : 1;
      a.stages.back().push_back(blk);
      in = blk.out;
    }
  }
  a.head = conv_shape(shapes, "conv_head.weight", source, in)[0];
  const Shape& fc = shape_of(shapes, "classifier.weight", source);
  BIGCOLOR_CHECK(fc.size() == 2 && fc[1] == a.head, source, ": 'classifier.weight' has shape ", shape_string(fc),
                 ", expected (classes, ", a.head, ")");
  a.classes = fc[0];
  return a;
}

StateShapes efficientnet_state_shapes(const EfficientNetShape& a) {
  StateShapes s;
  s["conv_stem.weight"] = {a.stem, 3, 3, 3};
  add_batchnorm_shapes(s, "bn1", a.stem);
  for (std::size_t stage = 0; stage < a.stages.size(); ++stage)
    for (std::size_t i = 0; i < a.stages[stage].size(); ++i) {
      const EfficientBlockShape& blk = a.stages[stage][i];
      const std::string b = block_name(stage, i);
      s[b + ".conv_dw.weight"] = {blk.mid, 1, blk.kernel, blk.kernel};
      if (blk.se) {
        s[b + ".se.conv_reduce.weight"] = {blk.se, blk.mid, 1, 1};
        s[b + ".se.conv_reduce.bias"] = {blk.se};
        s[b + ".se.conv_expand.weight"] = {blk.mid, blk.se, 1, 1};
        s[b + ".se.conv_expand.bias"] = {blk.mid};
      }
      if (blk.depthwise_separable) {
        add_batchnorm_shapes(s, b + ".bn1", blk.mid);
        s[b + ".conv_pw.weight"] = {blk.out, blk.mid, 1, 1};
        add_batchnorm_shapes(s, b + ".bn2", blk.out);
      } else {
        s[b + ".conv_pw.weight"] = {blk.mid, blk.in, 1, 1};
        add_batchnorm_shapes(s, b + ".bn1", blk.mid);
        add_batchnorm_shapes(s, b + ".bn2", blk.mid);
        s[b + ".conv_pwl.weight"] = {blk.out, blk.mid, 1, 1};
        add_batchnorm_shapes(s, b + ".bn3", blk.out);
      }
    }
  const std::int64_t last = a.stages.back().back().out;
  s["conv_head.weight"] = {a.head, last, 1, 1};
  add_batchnorm_shapes(s, "bn2", a.head);
  s["classifier.weight"] = {a.classes, a.head};
  s["classifier.bias"] = {a.classes};
  return s;
}

ClassifierInfo describe_efficientnet(const EfficientNetShape& a) {
  ClassifierInfo info;
  info.family = "tf_efficientnet";
  info.num_classes = a.classes;
  info.parameters = count_parameters(efficientnet_state_shapes(a));
  std::vector<std::size_t> counts;
  for (const auto& stage : a.stages) counts.push_back(stage.size());
  struct Known { std::int64_t stem, head; std::vector<std::size_t> counts; const char* name; int size; };
  // timm's tf_efficientnet_* (channel and depth multipliers applied to the B0 table) and their input sizes;
  // the L2's 475 is the official colorize_real.py's tf_efficientnet_l2_ns_475 (the same weights run at 800 too).
  const Known known[] = {
      {32, 1280, {1, 2, 2, 3, 3, 4, 1}, "tf_efficientnet_b0", 224},
      {32, 1280, {2, 3, 3, 4, 4, 5, 2}, "tf_efficientnet_b1", 240},
      {32, 1408, {2, 3, 3, 4, 4, 5, 2}, "tf_efficientnet_b2", 260},
      {40, 1536, {2, 3, 3, 5, 5, 6, 2}, "tf_efficientnet_b3", 300},
      {48, 1792, {2, 4, 4, 6, 6, 8, 2}, "tf_efficientnet_b4", 380},
      {48, 2048, {3, 5, 5, 7, 7, 9, 3}, "tf_efficientnet_b5", 456},
      {56, 2304, {3, 6, 6, 8, 8, 11, 3}, "tf_efficientnet_b6", 528},
      {64, 2560, {4, 7, 7, 10, 10, 13, 4}, "tf_efficientnet_b7", 600},
      {136, 5504, {6, 11, 11, 16, 16, 22, 6}, "tf_efficientnet_l2_ns_475", 475},
  };
  // A named variant also has the B0 table's kernel sizes, block kinds and squeeze-and-excitation everywhere.
  bool standard_blocks = true;
  for (std::size_t stage = 0; stage < a.stages.size(); ++stage)
    for (const EfficientBlockShape& blk : a.stages[stage])
      standard_blocks = standard_blocks && blk.kernel == kStageKernels[stage] && blk.se > 0 &&
                        blk.depthwise_separable == (stage == 0) && (stage == 0 || blk.mid == 6 * blk.in);
  info.variant = "custom tf_efficientnet";
  for (const Known& k : known)
    if (standard_blocks && k.stem == a.stem && k.head == a.head && k.counts == counts)
      info.variant = k.name, info.input_size = k.size;
  std::ostringstream s;
  s << "stem " << a.stem << ", blocks";
  for (std::size_t c : counts) s << ' ' << c;
  s << ", head " << a.head << ", " << a.classes << " classes";
  info.structure = s.str();
  return info;
}

namespace {

struct SqueezeExcite {
  Tensor reduce_w, reduce_b, expand_w, expand_b;  // (rd, C), (rd), (C, rd), (C): the 1×1 convs as linears
};

struct Block {
  EfficientBlockShape shape;
  FoldedConv pw, dw, pwl;  // DS blocks: dw then pw (the projection); IR: pw, dw, pwl
  bool has_se = false;
  SqueezeExcite se;
};

Tensor silu(const Tensor& x) {
  ops::silu_forward(x, x);  // in place: every caller owns x
  return x;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor out = Tensor::empty({x.dim(0), w.dim(0)}, DType::F32, x.device());
  ops::linear_forward(out, x, w, b);
  return out;
}

Tensor global_mean(const Tensor& x) {
  Tensor out = Tensor::empty({x.dim(0), x.dim(1)}, DType::F32, x.device());
  ops::mean_forward(out, x);
  return out;
}

class EfficientNet final : public ClassifierNet {
 public:
  EfficientNet(const EfficientNetShape& a, const TensorMap& state) {
    stem_ = fold_conv_bn(state, "conv_stem.weight", "bn1", kEps);
    stem_.stride = 2, stem_.tf_same = true;
    for (std::size_t stage = 0; stage < a.stages.size(); ++stage)
      for (std::size_t i = 0; i < a.stages[stage].size(); ++i) {
        const std::string b = block_name(stage, i);
        Block blk;
        blk.shape = a.stages[stage][i];
        if (blk.shape.depthwise_separable) {
          blk.dw = fold_conv_bn(state, b + ".conv_dw.weight", b + ".bn1", kEps);
          blk.pw = fold_conv_bn(state, b + ".conv_pw.weight", b + ".bn2", kEps);
        } else {
          blk.pw = fold_conv_bn(state, b + ".conv_pw.weight", b + ".bn1", kEps);
          blk.dw = fold_conv_bn(state, b + ".conv_dw.weight", b + ".bn2", kEps);
          blk.pwl = fold_conv_bn(state, b + ".conv_pwl.weight", b + ".bn3", kEps);
        }
        blk.dw.depthwise = true, blk.dw.stride = blk.shape.stride;
        for (FoldedConv* c : {&blk.pw, &blk.dw, &blk.pwl}) c->tf_same = true;
        blk.has_se = blk.shape.se > 0;
        if (blk.has_se) {
          auto as_matrix = [&](const std::string& name) {
            const Tensor& w = state.at(name);
            return w.clone().reshape({w.dim(0), w.dim(1)});
          };
          blk.se = {as_matrix(b + ".se.conv_reduce.weight"), state.at(b + ".se.conv_reduce.bias").clone(),
                    as_matrix(b + ".se.conv_expand.weight"), state.at(b + ".se.conv_expand.bias").clone()};
        }
        blocks_.push_back(std::move(blk));
      }
    head_ = fold_conv_bn(state, "conv_head.weight", "bn2", kEps);
    head_.tf_same = true;
    fc_weight_ = state.at("classifier.weight").clone();
    fc_bias_ = state.at("classifier.bias").clone();
  }

  Tensor logits(const Tensor& x_in) const override {
    Tensor x = silu(stem_(x_in));
    for (const Block& blk : blocks_) {
      Tensor y = blk.shape.depthwise_separable ? silu(blk.dw(x)) : silu(blk.dw(silu(blk.pw(x))));
      if (blk.has_se) {
        Tensor gate = linear(silu(linear(global_mean(y), blk.se.reduce_w, blk.se.reduce_b)), blk.se.expand_w,
                             blk.se.expand_b);
        ops::channel_gate_forward(y, y, gate);
      }
      y = blk.shape.depthwise_separable ? blk.pw(y) : blk.pwl(y);
      if (blk.shape.skip()) ops::add_forward(y, y, x);
      x = y;
    }
    return linear(global_mean(silu(head_(x))), fc_weight_, fc_bias_);
  }

  void to(Device device) override {
    stem_.to(device), head_.to(device);
    for (Block& b : blocks_) {
      b.dw.to(device), b.pw.to(device);
      if (!b.shape.depthwise_separable) b.pwl.to(device);
      if (b.has_se)
        for (Tensor* t : {&b.se.reduce_w, &b.se.reduce_b, &b.se.expand_w, &b.se.expand_b}) *t = t->to(device);
    }
    fc_weight_ = fc_weight_.to(device);
    fc_bias_ = fc_bias_.to(device);
  }

 private:
  FoldedConv stem_, head_;
  std::vector<Block> blocks_;
  Tensor fc_weight_, fc_bias_;
};

}  // namespace

std::unique_ptr<ClassifierNet> build_efficientnet(const EfficientNetShape& arch, const TensorMap& state) {
  return std::make_unique<EfficientNet>(arch, state);
}

}  // namespace bigcolor
