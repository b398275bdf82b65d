// Strict reading of a classifier's state dict by names and shapes, and batch norm folded into convolutions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "models/classifier_nets.h"
#include "tensor/error.h"

namespace bigcolor {

const Shape& shape_of(const StateShapes& shapes, const std::string& name, const std::string& source) {
  auto it = shapes.find(name);
  BIGCOLOR_CHECK(it != shapes.end(), source, ": missing tensor '", name, "'");
  return it->second;
}

Shape conv_shape(const StateShapes& shapes, const std::string& name, const std::string& source,
                 std::int64_t expected_in) {
  const Shape& s = shape_of(shapes, name, source);
  BIGCOLOR_CHECK(s.size() == 4, source, ": '", name, "' has shape ", shape_string(s),
                 ", expected a convolution weight (out, in, kh, kw)");
  BIGCOLOR_CHECK(expected_in < 0 || s[1] == expected_in, source, ": '", name, "' has shape ", shape_string(s),
                 ", expected ", expected_in, " input channels");
  return s;
}

void require_same_names_and_shapes(const StateShapes& file, const StateShapes& expected, const std::string& source,
                                   const std::string& variant) {
  for (const auto& [name, shape] : expected) {
    auto it = file.find(name);
    BIGCOLOR_CHECK(it != file.end(), source, ": missing tensor '", name, "' (", variant, ")");
    BIGCOLOR_CHECK(it->second == shape, source, ": '", name, "' has shape ", shape_string(it->second), ", ", variant,
                   " needs ", shape_string(shape));
  }
  for (const auto& [name, shape] : file)
    BIGCOLOR_CHECK(expected.count(name) != 0, source, ": unexpected tensor '", name, "' ", shape_string(shape),
                   " (not part of ", variant, ")");
}

void add_batchnorm_shapes(StateShapes& out, const std::string& prefix, std::int64_t channels) {
  for (const char* part : {".weight", ".bias", ".running_mean", ".running_var"}) out[prefix + part] = {channels};
}

std::int64_t count_parameters(const StateShapes& shapes) {
  std::int64_t n = 0;
  for (const auto& [name, shape] : shapes) {
    const bool statistic = name.ends_with(".running_mean") || name.ends_with(".running_var");
    if (!statistic) n += shape_numel(shape);
  }
  return n;
}

std::vector<std::size_t> count_blocks(const StateShapes& shapes, const std::string& group_prefix, int first_group,
                                      const std::string& source) {
  std::vector<std::size_t> counts;
  for (const auto& [name, shape] : shapes) {
    if (!name.starts_with(group_prefix)) continue;
    // "<g>.<i>.rest"
    const std::string rest = name.substr(group_prefix.size());
    const std::size_t dot1 = rest.find('.'), dot2 = dot1 == std::string::npos ? dot1 : rest.find('.', dot1 + 1);
    if (dot2 == std::string::npos) continue;
    const std::string g = rest.substr(0, dot1), i = rest.substr(dot1 + 1, dot2 - dot1 - 1);
    auto is_number = [](const std::string& t) {
      return !t.empty() && t.size() < 6 && t.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!is_number(g) || !is_number(i)) continue;
    const int group = std::stoi(g) - first_group;
    BIGCOLOR_CHECK(group >= 0, source, ": unexpected tensor '", name, "'");
    if (counts.size() <= static_cast<std::size_t>(group)) counts.resize(group + 1, 0);
    counts[group] = std::max<std::size_t>(counts[group], std::stoul(i) + 1);
  }
  for (std::size_t g = 0; g < counts.size(); ++g)
    BIGCOLOR_CHECK(counts[g] > 0, source, ": no tensors of '", group_prefix, g + first_group,
                   ".*' although later groups exist");
  return counts;
}

Tensor FoldedConv::operator()(const Tensor& x) const {
  const std::int64_t kh = weight.dim(2), kw = weight.dim(3);
  const ConvWindow win = tf_same      ? ConvWindow::same(stride, x.dim(2), x.dim(3), kh, kw)
                         : pad_w >= 0 ? ConvWindow{stride, pad, pad, pad_w, pad_w}
                                      : ConvWindow::symmetric(stride, pad);
  Tensor out = Tensor::empty({x.dim(0), weight.dim(0), win.out_h(x.dim(2), kh), win.out_w(x.dim(3), kw)},
                             DType::F32, x.device());
  if (depthwise)
    ops::depthwise_conv2d_forward(out, x, weight, bias, win);
  else
    ops::conv2d_window_forward(out, x, weight, bias, win);
  return out;
}

void FoldedConv::to(Device device) {
  weight = weight.to(device);
  bias = bias.to(device);
}

FoldedConv fold_conv_bn(const TensorMap& state, const std::string& conv_name, const std::string& bn_prefix,
                        double eps, bool conv_has_bias) {
  auto get = [&](const std::string& name) -> std::vector<float> { return state.at(name).to_vector(); };
  const Tensor& w = state.at(conv_name);
  const std::vector<float> gamma = get(bn_prefix + ".weight"), beta = get(bn_prefix + ".bias");
  const std::vector<float> mean = get(bn_prefix + ".running_mean"), var = get(bn_prefix + ".running_var");
  std::vector<float> conv_bias;
  if (conv_has_bias) conv_bias = get(conv_name.substr(0, conv_name.size() - 7) + ".bias");  // "<x>.weight"
  const std::int64_t out_c = w.dim(0), per_out = w.numel() / out_c;
  std::vector<float> weight = w.to_vector(), bias(static_cast<std::size_t>(out_c));
  for (std::int64_t o = 0; o < out_c; ++o) {
    const double scale = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (std::int64_t k = 0; k < per_out; ++k)
      weight[o * per_out + k] = static_cast<float>(weight[o * per_out + k] * scale);
    const double b = conv_has_bias ? conv_bias[o] : 0.0;
    bias[o] = static_cast<float>(beta[o] + (b - mean[o]) * scale);
  }
  FoldedConv c;
  c.weight = Tensor::from_vector(weight, w.shape());
  c.bias = Tensor::from_vector(bias, {out_c});
  return c;
}

}  // namespace bigcolor
