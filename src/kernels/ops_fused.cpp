// Checked dispatch of the fused BigGAN kernels (see fused_signatures.inc).
#include <string>

#include "kernels/op_checks.h"
#include "kernels/ops_lowp.h"
#include "kernels/ops.h"

namespace bigcolor::ops {

using namespace detail;

void spectral_norm_forward(const Tensor& weight_sn, const Tensor& sigma, const Tensor& u_new, const Tensor& v,
                           const Tensor& weight, const Tensor& u, float eps) {
  const char* op = "spectral_norm_forward";
  Device d = check_common(op, {{"weight_sn", weight_sn}, {"sigma", sigma}, {"u_new", u_new}, {"v", v},
                               {"weight", weight}, {"u", u}},
                          {"weight_sn", "sigma", "u_new", "v", "weight", "u"});
  check_ndim(op, "weight", weight, 2);
  check_shape(op, "weight_sn", weight_sn, weight.shape());
  check_shape(op, "u", u, {weight.dim(0)});
  check_shape(op, "u_new", u_new, {weight.dim(0)});
  check_shape(op, "v", v, {weight.dim(1)});
  check_scalar(op, "sigma", sigma);
  BIGCOLOR_CHECK(eps > 0.0f, op, ": eps must be positive");
  BIGCOLOR_DISPATCH(d, spectral_norm_forward(weight_sn, sigma, u_new, v, weight, u, eps));
}

void spectral_norm_backward(const Tensor& d_weight, const Tensor& d_weight_sn, const Tensor& weight,
                            const Tensor& u_new, const Tensor& v, const Tensor& sigma) {
  const char* op = "spectral_norm_backward";
  Device d = check_common(op, {{"d_weight", d_weight}, {"d_weight_sn", d_weight_sn}, {"weight", weight},
                               {"u_new", u_new}, {"v", v}, {"sigma", sigma}},
                          {"d_weight", "d_weight_sn", "weight", "u_new", "v", "sigma"});
  check_ndim(op, "weight", weight, 2);
  check_shape(op, "d_weight", d_weight, weight.shape());
  check_shape(op, "d_weight_sn", d_weight_sn, weight.shape());
  check_shape(op, "u_new", u_new, {weight.dim(0)});
  check_shape(op, "v", v, {weight.dim(1)});
  check_scalar(op, "sigma", sigma);
  BIGCOLOR_DISPATCH(d, spectral_norm_backward(d_weight, d_weight_sn, weight, u_new, v, sigma));
}

namespace {
void check_ccbn_shapes(const char* op, const Tensor& in, const Tensor& gain, std::initializer_list<Arg> per_sample,
                       std::initializer_list<Arg> per_channel) {
  check_ndim(op, "in", in, 4);
  for (const Arg& a : per_sample) check_shape(op, a.name, a.t, {in.dim(0), in.dim(1)});
  for (const Arg& a : per_channel) check_shape(op, a.name, a.t, {in.dim(1)});
  check_shape(op, "gain", gain, {in.dim(0), in.dim(1)});
}
}  // namespace

void ccbn_forward(const Tensor& out, const Tensor& saved_mean, const Tensor& saved_invstd,
                  const Tensor& running_mean, const Tensor& running_var, const Tensor& in, const Tensor& gain,
                  const Tensor& bias, bool training, float momentum, float eps, bool relu) {
  const char* op = "ccbn_forward";
  Device d = check_common(op, {{"out", out}, {"saved_mean", saved_mean}, {"saved_invstd", saved_invstd},
                               {"running_mean", running_mean}, {"running_var", running_var}, {"in", in},
                               {"gain", gain}, {"bias", bias}},
                          {"out", "saved_mean", "saved_invstd", "running_mean", "running_var", "in", "gain", "bias"});
  check_ccbn_shapes(op, in, gain, {{"bias", bias}},
                    {{"saved_mean", saved_mean}, {"saved_invstd", saved_invstd}, {"running_mean", running_mean},
                     {"running_var", running_var}});
  check_shape(op, "out", out, in.shape());
  BIGCOLOR_CHECK(out.raw() != in.raw(), op, ": out must not alias in");
  BIGCOLOR_CHECK(!training || in.numel() / in.dim(1) > 1, op,
                 ": training needs more than one value per channel, got ", in.describe());
  BIGCOLOR_CHECK(eps > 0.0f, op, ": eps must be positive");
  BIGCOLOR_DISPATCH(d, ccbn_forward(out, saved_mean, saved_invstd, running_mean, running_var, in, gain, bias, training,
                                    momentum, eps, relu));
}

void ccbn_backward(const Tensor& d_in, const Tensor& d_gain, const Tensor& d_bias, const Tensor& d_out,
                   const Tensor& in, const Tensor& gain, const Tensor& out, const Tensor& saved_mean,
                   const Tensor& saved_invstd, bool training, bool relu) {
  const char* op = "ccbn_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_gain", d_gain}, {"d_bias", d_bias}, {"d_out", d_out}, {"in", in},
                               {"gain", gain}, {"out", out}, {"saved_mean", saved_mean},
                               {"saved_invstd", saved_invstd}},
                          {"d_out", "in", "gain", "out", "saved_mean", "saved_invstd"});
  check_ccbn_shapes(op, in, gain, {{"d_gain", d_gain}, {"d_bias", d_bias}},
                    {{"saved_mean", saved_mean}, {"saved_invstd", saved_invstd}});
  check_same_shape(op, {{"in", in}, {"d_out", d_out}, {"out", out}, {"d_in", d_in}});
  BIGCOLOR_DISPATCH(d, ccbn_backward(d_in, d_gain, d_bias, d_out, in, gain, out, saved_mean, saved_invstd, training,
                                     relu));
}

namespace {
// theta (B, Ck, N), phi (B, Ck, M), g (B, Cv, M): returns the shape of out, (B, Cv, N).
Shape attention_out_shape(const char* op, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  check_ndim(op, "theta", theta, 3);
  check_ndim(op, "phi", phi, 3);
  check_ndim(op, "g", g, 3);
  BIGCOLOR_CHECK(phi.dim(0) == theta.dim(0) && phi.dim(1) == theta.dim(1), op, ": phi ", shape_string(phi.shape()),
                 " does not match theta ", shape_string(theta.shape()), " in batch and channels");
  BIGCOLOR_CHECK(g.dim(0) == theta.dim(0) && g.dim(2) == phi.dim(2), op, ": g ", shape_string(g.shape()),
                 " does not match phi ", shape_string(phi.shape()), " in batch and keys");
  BIGCOLOR_CHECK(phi.dim(2) > 0, op, ": no keys");
  return {theta.dim(0), g.dim(1), theta.dim(2)};
}
}  // namespace

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  const char* op = "attention_forward";
  Device d = check_common(op, {{"out", out}, {"lse", lse}, {"theta", theta}, {"phi", phi}, {"g", g}},
                          {"out", "lse", "theta", "phi", "g"});
  check_shape(op, "out", out, attention_out_shape(op, theta, phi, g));
  check_shape(op, "lse", lse, {theta.dim(0), theta.dim(2)});
  if (lowp::active()) return lowp::attention_forward(out, lse, theta, phi, g);
  BIGCOLOR_DISPATCH(d, attention_forward(out, lse, theta, phi, g));
}

void attention_backward(const Tensor& d_theta, const Tensor& d_phi, const Tensor& d_g, const Tensor& d_out,
                        const Tensor& theta, const Tensor& phi, const Tensor& g, const Tensor& out,
                        const Tensor& lse) {
  const char* op = "attention_backward";
  Device d = check_common(op, {{"d_theta", d_theta}, {"d_phi", d_phi}, {"d_g", d_g}, {"d_out", d_out},
                               {"theta", theta}, {"phi", phi}, {"g", g}, {"out", out}, {"lse", lse}},
                          {"d_out", "theta", "phi", "g", "out", "lse"});
  const Shape out_shape = attention_out_shape(op, theta, phi, g);
  check_shape(op, "d_out", d_out, out_shape);
  check_shape(op, "out", out, out_shape);
  check_shape(op, "lse", lse, {theta.dim(0), theta.dim(2)});
  check_shape(op, "d_theta", d_theta, theta.shape());
  check_shape(op, "d_phi", d_phi, phi.shape());
  check_shape(op, "d_g", d_g, g.shape());
  if (lowp::active()) return lowp::attention_backward(d_theta, d_phi, d_g, d_out, theta, phi, g, out, lse);
  BIGCOLOR_DISPATCH(d, attention_backward(d_theta, d_phi, d_g, d_out, theta, phi, g, out, lse));
}

namespace {
// in (B, Cin, H, W), weight (Cout, Cin, 3, 3): returns the shape of out, (B, Cout, 2H, 2W).
Shape upconv_out_shape(const char* op, const Tensor& in, const Tensor& weight) {
  check_ndim(op, "in", in, 4);
  check_ndim(op, "weight", weight, 4);
  BIGCOLOR_CHECK(weight.dim(2) == 3 && weight.dim(3) == 3, op, ": weight ", shape_string(weight.shape()),
                 " is not a 3x3 kernel");
  BIGCOLOR_CHECK(weight.dim(1) == in.dim(1), op, ": weight ", shape_string(weight.shape()), " expects ",
                 weight.dim(1), " input channels, in ", shape_string(in.shape()), " has ", in.dim(1));
  return {in.dim(0), weight.dim(0), 2 * in.dim(2), 2 * in.dim(3)};
}
}  // namespace

void upconv3x3_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  const char* op = "upconv3x3_forward";
  Device d = check_common(op, {{"out", out}, {"in", in}, {"weight", weight}, {"bias", bias}}, {"out", "in", "weight"});
  check_shape(op, "out", out, upconv_out_shape(op, in, weight));
  check_shape(op, "bias", bias, {weight.dim(0)});
  if (lowp::active()) return lowp::upconv3x3_forward(out, in, weight, bias);
  BIGCOLOR_DISPATCH(d, upconv3x3_forward(out, in, weight, bias));
}

void upconv3x3_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                        const Tensor& in, const Tensor& weight) {
  const char* op = "upconv3x3_backward";
  Device d = check_common(op, {{"d_in", d_in}, {"d_weight", d_weight}, {"d_bias", d_bias}, {"d_out", d_out},
                               {"in", in}, {"weight", weight}},
                          {"d_out", "in", "weight"});
  check_shape(op, "d_out", d_out, upconv_out_shape(op, in, weight));
  check_shape(op, "d_in", d_in, in.shape());
  check_shape(op, "d_weight", d_weight, weight.shape());
  check_shape(op, "d_bias", d_bias, {weight.dim(0)});
  if (lowp::active()) return lowp::upconv3x3_backward(d_in, d_weight, d_bias, d_out, in, weight);
  BIGCOLOR_DISPATCH(d, upconv3x3_backward(d_in, d_weight, d_bias, d_out, in, weight));
}

}  // namespace bigcolor::ops
