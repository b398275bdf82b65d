// The golden specs of the primitive ops in the op table (op_table.h): which file of tests/golden/ holds an op's
// PyTorch results (tools/make_golden_ops.py writes them), how many cases it writes, and how one case's tensors and
// settings become an OpCase of the op. The harness (check_golden_family, op_harness.h) does the rest: reference
// shapes, NaN poisoning, the reference's saved tensors for the backward, check_close at 1e-5.
#include <string>
#include <utility>
#include <vector>

#include "golden_file.h"
#include "op_table_builders.h"
#include "tensor/error.h"

namespace bigcolor::test {

namespace {

// A backward run with only these gradients wanted (the golden harness compares them with the full run's references).
Partial only(std::vector<std::string> grads) { return {std::move(grads), false}; }

// The parameter gradients (accumulating) of a case, then its activation gradients: the two partial runs of a layer
// whose input needs no gradient (a first layer) and of one with frozen weights.
std::vector<Partial> parameters_then_input(const OpCase& c) {
  std::vector<std::string> parameters, activations;
  for (const GradSpec& g : c.grads) (g.accumulates ? parameters : activations).push_back(g.grad);
  return {only(parameters), only(activations)};
}

Tensor optional(const GoldenCase& g, bool present, const std::string& name) { return present ? g.t(name) : Tensor{}; }

// An op whose whole golden case is its one input `in`.
GoldenSpec unary(const std::string& family, const std::string& op, std::size_t min_cases,
                 OpCase (*build)(const Tensor&)) {
  return {family, op, min_cases, [build](const GoldenCase& g) { return build(g.t("in")); }};
}

// relu and tanh: the contract lets out alias in.
GoldenSpec activation(const std::string& op, OpCase (*build)(const Tensor&)) {
  return {"activations", op, 3, [build](const GoldenCase& g) {
            OpCase c = build(g.t("in"));
            c.in_place = {{"out", "in"}};
            return c;
          }};
}

}  // namespace

GoldenSpec conv2d_golden() {
  return {"conv2d", "", 12, [](const GoldenCase& g) {
            OpCase c = conv2d_op(g.t("in"), g.t("weight"), optional(g, g.meta_bool("has_bias"), "bias"),
                                 g.meta_int("padding"));
            c.partials = parameters_then_input(c);
            return c;
          }};
}

GoldenSpec linear_golden() {
  return {"linear", "", 5, [](const GoldenCase& g) {
            OpCase c = linear_op(g.t("in"), g.t("weight"), optional(g, g.meta_bool("has_bias"), "bias"));
            c.partials = parameters_then_input(c);
            return c;
          }};
}

GoldenSpec embedding_golden() {
  return {"embedding", "", 4, [](const GoldenCase& g) {
            const Tensor& indices = g.t("indices");
            if (indices.dtype() != DType::I32) throw Error("embedding: " + g.name + ".indices is not I32");
            return embedding_op(g.t("table"), indices);
          }};
}

GoldenSpec bmm_golden() {
  return {"bmm", "", 12, [](const GoldenCase& g) {
            OpCase c = bmm_op(g.t("a"), g.t("b"), g.meta_bool("trans_a"), g.meta_bool("trans_b"));
            c.partials = {only({"d_a"}), only({"d_b"})};
            return c;
          }};
}

GoldenSpec softmax_golden() { return unary("softmax", "", 6, softmax_case); }
GoldenSpec relu_golden() { return activation("relu", relu_case); }
GoldenSpec tanh_golden() { return activation("tanh", tanh_case); }

GoldenSpec add_golden() {
  return {"elementwise", "add", 3, [](const GoldenCase& g) {
            OpCase c = add_case(g.t("a"), g.t("b"));
            c.partials = {only({"d_b"})};  // d_a not wanted
            return c;
          }};
}

GoldenSpec mul_golden() {
  return {"elementwise", "mul", 3, [](const GoldenCase& g) {
            OpCase c = mul_case(g.t("a"), g.t("b"));
            c.partials = {only({"d_a"}), only({"d_b"})};
            return c;
          }};
}

GoldenSpec scale_golden() {
  return {"elementwise", "scale", 4,
          [](const GoldenCase& g) { return scale_case(g.t("in"), g.meta_float("factor")); }};
}

GoldenSpec upsample_golden() { return unary("upsample", "", 3, upsample_case); }
// The dropped odd row / column of pooling must be written (zeros): d_in is poisoned like every activation gradient.
GoldenSpec lab_golden() { return unary("lab", "", 3, rgb_to_ab_case); }
GoldenSpec avgpool_golden() { return unary("pooling", "avg", 4, avgpool_case); }
GoldenSpec maxpool_golden() { return unary("pooling", "max", 5, maxpool_case); }

GoldenSpec batchnorm_golden() {
  return {"batchnorm", "", 11, [](const GoldenCase& g) {
            const bool affine = g.meta_bool("affine");
            const bool training = g.meta_bool("training");
            OpCase c = batchnorm_op(g.t("in"), optional(g, affine, "weight"), optional(g, affine, "bias"),
                                    g.t("running_mean"), g.t("running_var"), training, g.meta_float("momentum"),
                                    g.meta_float("eps"));
            c.golden_name = {{"running_mean0", "running_mean"},
                             {"running_var0", "running_var"},
                             {"running_mean", "running_mean_after"},
                             {"running_var", "running_var_after"}};
            if (!training) c.unchanged = {{"running_mean", "running_mean0"}, {"running_var", "running_var0"}};
            if (affine) c.partials = {only({"d_weight", "d_bias"})};
            return c;
          }};
}

// The reference output's shape picks the reduced axes.
GoldenSpec reduce_golden(bool mean) {
  return {"reduce", mean ? "mean" : "sum", 7,
          [mean](const GoldenCase& g) { return reduce_case(mean, g.t("in"), g.t("out").shape()); }};
}

GoldenSpec mse_golden() {
  return {"mse", "", 4, [](const GoldenCase& g) {
            OpCase c = mse_case(g.t("a"), g.t("b"));
            c.partials = {only({"d_a"})};
            return c;
          }};
}

GoldenSpec l1_golden() {
  return {"l1", "", 4, [](const GoldenCase& g) {
            OpCase c = l1_case(g.t("a"), g.t("b"));
            c.partials = {only({"d_b"})};
            return c;
          }};
}

}  // namespace bigcolor::test
