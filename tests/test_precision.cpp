// Reduced precision (issue 11), op by op: every op of the op table (op_table.h) at its CUDA-comparison shapes, run
// in FP32, bf16 and fp16 from the same inputs, forward and backward.
//
// The bars, derived once (kernels/ops_lowp.h says what the reduced precisions compute):
// - Ops outside the autocast list (batch norm, ccbn, spectral norm, softmax, losses, pooling, elementwise, ...) stay
//   FP32 under every policy: their bf16 and fp16 results must equal the FP32 results bit for bit.
// - The autocast ops (conv2d, upconv3x3, linear, bmm, attention) multiply operands rounded to the format, each with
//   a relative error of at most u (the unit roundoff: 2^-8 for bf16, 2^-11 for fp16), and accumulate in F32. A
//   product of two rounded operands is off by at most 2u relative; for zero-mean data these errors are independent
//   and add like the terms themselves, so the normalized error ‖low − fp32‖ / ‖fp32‖ of a sum of K products is
//   about sqrt(2/3)·u whatever K, and the bar is 5u (6 standard deviations): bf16 0.0195, fp16 0.00244. The
//   attention core rounds its scores' operands, and exp turns a score's error into a relative error of the
//   probability: its bar is 5u times the root-mean-square score of the case (measured from the FP32 inputs).
//   Their bias gradients are plain sums of d_out, so they too stay FP32, bit for bit.
// - The result must also differ from FP32 by at least u/64: an op that silently ran FP32 fails.
// - Where the native bf16 engine runs (oneDNN on a CPU with AVX512-BF16 or AMX), it must agree with the emulated
//   engine (the same rounded operands through the FP32 kernels) to the FP32 bar, 1e-5: the two differ only in the
//   order of their F32 sums.
// The FP32 results and the FP32 tests elsewhere are untouched: FP32 is the default and takes none of these routes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/dnnl_engine.h"
#include "kernels/ops.h"
#include "kernels/ops_lowp.h"
#include "kernels/precision.h"
#include "op_harness.h"
#include "op_table.h"
#include "tensor/error.h"
#include "tensor/half.h"
#include "tensor/rng.h"
#include "test_util.h"
#include "train/grad_scaler.h"

namespace {

using namespace bigcolor;
using bigcolor::test::OpCase;
using bigcolor::test::OpEntry;
using bigcolor::test::Tensors;

constexpr double kFp32Bar = 1e-5;

double unit_roundoff(Precision p) { return p == Precision::BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }

bool autocast_op(const std::string& op) {
  return op == "conv2d" || op == "upconv3x3" || op == "linear" || op == "bmm" || op == "attention";
}

struct Results {
  Tensors all;             // every output, state and gradient, by name
  std::string engine;      // the engine of the last autocast call
  std::string forward_engine;  // the engine of the forward's last autocast call
};

// One forward and backward of `op` under `precision` on `device`: inputs are copies of the case's, outputs and
// overwritten gradients start poisoned, accumulating gradients at zero; d_out is the given one. Results on the CPU.
Results run_case(const OpCase& op, Precision precision, const Tensor& d_out, Device device = Device::CPU) {
  Tensors t;
  for (const auto& [name, tensor] : op.t) {
    const bool is_output = std::find(op.outputs.begin(), op.outputs.end(), name) != op.outputs.end();
    t[name] = (is_output ? test::poisoned(tensor.shape()) : tensor.clone()).to(device);
  }
  Results r;
  PrecisionScope scope(precision);
  op.forward(t);
  r.forward_engine = ops::lowp::last_engine();
  if (!op.grads.empty()) {
    t["d_out"] = d_out.to(device);
    for (const test::GradSpec& g : op.grads) {
      const Shape shape = op.t.at(g.grad).shape();
      t[g.grad] = (g.accumulates ? Tensor::zeros(shape) : test::poisoned(shape)).to(device);
    }
    op.backward(t);
  }
  for (const std::string& name : op.outputs) r.all[name] = t.at(name).to(Device::CPU);
  for (const std::string& name : op.state) r.all[name] = t.at(name).to(Device::CPU);
  for (const test::GradSpec& g : op.grads) r.all[g.grad] = t.at(g.grad).to(Device::CPU);
  r.engine = ops::lowp::last_engine();
  return r;
}

// The attention bar's growth: the root-mean-square score θᵀφ of the case.
double attention_growth(const OpCase& op) {
  const Tensor theta = op.t.at("theta"), phi = op.t.at("phi");
  const std::int64_t b = theta.dim(0), ck = theta.dim(1), n = theta.dim(2), m = phi.dim(2);
  Tensor scores = Tensor::empty({b, n, m});
  ops::bmm_forward(scores, theta, phi, true, false);
  double sum = 0.0;
  for (float s : scores.to_vector()) sum += static_cast<double>(s) * s;
  (void)ck;
  return std::max(1.0, std::sqrt(sum / static_cast<double>(scores.numel())));
}

// On the GPU the native engine's cuDNN convolutions round their results to the format once (lowp_engine.h): their
// distance from the emulated engine is at most u per element; cuBLAS's products keep F32 results (the FP32 bar).
// The native attention (the CPU's oneDNN, the GPU's tensor-core kernel) rounds the probabilities P to the format
// before P·g: out moves by about u, and the backward, which reads that out, likewise; the GPU's backward also
// rounds P and dS to the format for its products, each by at most u/2 relative.
double native_vs_emulated_bar(const std::string& op, Precision precision, Device device) {
  const bool rounded_result =
      op == "attention" || (device == Device::CUDA && (op == "conv2d" || op == "upconv3x3"));
  return rounded_result ? unit_roundoff(precision) : kFp32Bar;
}

// `device`'s results under `precision` against its own FP32 results, and its native engine against its emulated
// one. On the GPU every autocast op must take the native engine, forward and backward.
void check_entry(const OpEntry& entry, Precision precision, Device device = Device::CPU) {
  Rng rng(entry.cuda_seed + 7);
  for (const OpCase& op : entry.cuda_cases(rng)) {
    CAPTURE(op.name);
    const std::string pname = precision_name(precision);
    CAPTURE(pname);
    const Tensor d_out = op.grads.empty() ? Tensor{} : test::random_normal(op.t.at("d_out").shape(), rng);
    const Results ref = run_case(op, Precision::FP32, d_out, device);
    ops::lowp::set_force_emulation(false);
    const Results low = run_case(op, precision, d_out, device);
    if (device == Device::CUDA && autocast_op(entry.op)) {
      // low.engine is the backward's last call; the attention core's forward is a separate kernel, checked too.
      CHECK_MESSAGE(low.engine == "native", op.name, ": the GPU ran the ", low.engine, " engine");
      if (entry.op == "attention")
        CHECK_MESSAGE(low.forward_engine == "native", op.name, ": the GPU's forward ran ", low.forward_engine);
    }
    for (const auto& [name, expected] : ref.all) {
      const Tensor& got = low.all.at(name);
      // Bias gradients are sums of d_out, not products: F32 in every engine.
      if (!autocast_op(entry.op) || name == "d_bias") {
        // Bit for bit on the CPU; on the GPU to the FP32 bar, since a kernel with atomics need not repeat its bits
        // (a rounded operand would be off by far more: about u/2).
        if (device == Device::CPU)
          CHECK_MESSAGE(test::bitwise_equal(got, expected), op.name, " ", name, ": an FP32-list op changed under ",
                        precision_name(precision));
        else
          test::check_close(got, expected, kFp32Bar, op.name + " " + name + " (FP32-list op) under " + pname);
        continue;
      }
      const double growth = entry.op == "attention" ? attention_growth(op) : 1.0;
      const double bar = 5.0 * unit_roundoff(precision) * growth;
      const test::Comparison c = test::compare(got, expected);
      CHECK_MESSAGE(c.normalized_error <= bar, op.name, " ", name, " ", precision_name(precision), ": ",
                    c.describe(), " (bar ", bar, ")");
      CHECK_MESSAGE(c.normalized_error >= unit_roundoff(precision) / 64, op.name, " ", name, " ",
                    precision_name(precision), " equals FP32 (", c.normalized_error, "): was it rounded at all?");
    }
    if (autocast_op(entry.op) && (low.engine == "native" || low.forward_engine == "native")) {
      ops::lowp::set_force_emulation(true);
      const Results emulated = run_case(op, precision, d_out, device);
      ops::lowp::set_force_emulation(false);
      const double bar = native_vs_emulated_bar(entry.op, precision, device);
      for (const auto& [name, native] : low.all)
        test::check_close(native, emulated.all.at(name), bar, op.name + " " + name + " native vs emulated");
    }
  }
}

}  // namespace

TEST_SUITE("precision") {

TEST_CASE("precision names parse and scopes nest") {
  CHECK(parse_precision("bf16") == Precision::BF16);
  CHECK(parse_precision("fp16") == Precision::FP16);
  CHECK(parse_precision("fp32") == Precision::FP32);
  CHECK_FALSE(parse_precision("BF16").has_value());
  CHECK_FALSE(parse_precision("fp8").has_value());
  CHECK(compute_precision() == Precision::FP32);
  {
    PrecisionScope a(Precision::BF16);
    CHECK(compute_precision() == Precision::BF16);
    {
      PrecisionScope b(Precision::FP16);
      CHECK(compute_precision() == Precision::FP16);
    }
    CHECK(compute_precision() == Precision::BF16);
  }
  CHECK(compute_precision() == Precision::FP32);
}

TEST_CASE("round_to rounds to the nearest bf16 and fp16 value, ties to even") {
  // 1 + 2^-8 is a bf16 tie between 1 and 1 + 2^-7: even is 1. 1 + 3·2^-8 ties to 1 + 2^-6 (even mantissa).
  // 70000 overflows fp16 to Inf; 2^-26 flushes to 0 in fp16; bf16 keeps both (to 8 bits).
  const std::vector<float> in{1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 70000.0f, 0x1p-26f, -2.5f};
  const Tensor x = Tensor::from_vector(in, {5});
  Tensor b = Tensor::empty({5}), h = Tensor::empty({5});
  ops::round_to(b, x, DType::BF16);
  ops::round_to(h, x, DType::F16);
  const std::vector<float> bv = b.to_vector(), hv = h.to_vector();
  CHECK(bv[0] == 1.0f);
  CHECK(bv[1] == 1.0f + 0x1p-6f);
  CHECK(bv[2] == 70144.0f);  // 70000 = 1.0001000101110000b·2^16 -> 8 bits: 1.0001001b·2^16
  CHECK(bv[3] == 0x1p-26f);
  CHECK(hv[0] == 1.0f + 0x1p-8f);  // exact in fp16 (10 fraction bits)
  CHECK(std::isinf(hv[2]));
  CHECK(hv[3] == 0.0f);
  CHECK(hv[4] == -2.5f);
  CHECK_THROWS_WITH_AS(ops::round_to(b, x, DType::F32), doctest::Contains("round_to"), bigcolor::Error);
}

TEST_CASE("every op of the op table in bf16 and fp16 against its FP32 results") {
  for (const OpEntry& entry : test::op_table()) {
    if (!entry.cuda_cases) continue;
    SUBCASE(entry.op.c_str()) {
      for (Precision p : {Precision::BF16, Precision::FP16}) check_entry(entry, p);
    }
  }
}

TEST_CASE("bf16 convolutions take the native engine where the CPU has one") {
  Rng rng(5);
  const Tensor in = test::random_normal({1, 16, 12, 12}, rng), w = test::random_normal({32, 16, 3, 3}, rng);
  Tensor out = Tensor::empty({1, 32, 12, 12});
  {
    PrecisionScope scope(Precision::BF16);
    ops::conv2d_forward(out, in, w, Tensor{}, 1);
  }
  const bool native = cpu::dnnl_engine::bf16_native();
  MESSAGE("oneDNN ISA: ", std::string(cpu::dnnl_engine::isa_name()), ", native bf16: ", native);
  CHECK(std::string(ops::lowp::last_engine()) == (native ? "native" : "emulated"));
  {
    PrecisionScope scope(Precision::FP16);  // fp16 on the CPU is always emulated
    ops::conv2d_forward(out, in, w, Tensor{}, 1);
  }
  CHECK(std::string(ops::lowp::last_engine()) == "emulated");
}

TEST_CASE("a convolution over one input channel (the photo) stays FP32 in bf16 and fp16; two channels do not") {
  // ops_lowp.h (conv_stays_fp32) gives the measurement behind the rule.
  Rng rng(17);
  for (std::int64_t cin : {1, 2}) {
    CAPTURE(cin);
    const Tensor in = test::random_normal({2, cin, 12, 10}, rng), w = test::random_normal({8, cin, 3, 3}, rng);
    const Tensor b = test::random_normal({8}, rng), d_out = test::random_normal({2, 8, 12, 10}, rng);
    const auto run = [&](Precision p) {
      PrecisionScope scope(p);
      Tensor out = Tensor::empty({2, 8, 12, 10}), d_in = Tensor::empty(in.shape());
      Tensor d_w = Tensor::zeros(w.shape()), d_b = Tensor::zeros({8});
      ops::conv2d_forward(out, in, w, b, 1);
      ops::conv2d_backward(d_in, d_w, d_b, d_out, in, w, 1);
      return std::vector<Tensor>{out, d_in, d_w, d_b};
    };
    const std::vector<Tensor> ref = run(Precision::FP32);
    for (Precision p : {Precision::BF16, Precision::FP16}) {
      const std::vector<Tensor> got = run(p);
      for (std::size_t i = 0; i < 3; ++i) {  // out, d_in, d_weight (d_bias is FP32 in every case)
        CAPTURE(i);
        if (cin == 1)
          CHECK(test::bitwise_equal(got[i], ref[i]));
        else
          CHECK(test::compare(got[i], ref[i]).normalized_error >= unit_roundoff(p) / 64);
      }
    }
  }
}

}  // TEST_SUITE

TEST_SUITE("precision") {

TEST_CASE("grad scaler: unscales, skips Inf/NaN, backs off and grows as PyTorch's GradScaler") {
  train::GradScalerOptions o;
  o.growth_interval = 3;
  train::GradScaler scaler(true, o);
  CHECK(scaler.scale() == 65536.0f);
  const Tensor g = Tensor::from_vector({65536.0f, -131072.0f}, {2});
  CHECK(scaler.unscale_and_check({g}));
  CHECK(g.to_vector() == std::vector<float>{1.0f, -2.0f});
  scaler.update();
  scaler.update();
  CHECK(scaler.scale() == 65536.0f);
  scaler.update();  // the third clean iteration in a row: doubled
  CHECK(scaler.scale() == 131072.0f);
  const Tensor bad = Tensor::from_vector({1.0f, std::numeric_limits<float>::infinity()}, {2});
  const Tensor nan = Tensor::from_vector({std::numeric_limits<float>::quiet_NaN()}, {1});
  CHECK_FALSE(scaler.unscale_and_check({g, bad}));
  CHECK_FALSE(scaler.unscale_and_check({nan}));  // two skipped steps in one iteration: one back-off
  CHECK(scaler.skipped_steps() == 2);
  scaler.update();
  CHECK(scaler.scale() == 65536.0f);
  CHECK(scaler.state().growth_tracker == 0);
  train::GradScaler off(false);
  CHECK(off.scale() == 1.0f);
  const std::vector<float> before = bad.to_vector();
  CHECK(off.unscale_and_check({bad}));  // disabled: nothing checked, nothing scaled
  CHECK(bad.to_vector()[0] == before[0]);
}

}  // TEST_SUITE

// The same checks on the GPU (the native engine there: cuDNN and cuBLAS on the tensor cores, lowp_engine.h), and the
// GPU's reduced-precision results against the CPU's FP32 ones, so a GPU engine that is self-consistent but wrong
// fails too. Skipped, never passed, without a GPU.
TEST_SUITE("cuda" * doctest::skip(!bigcolor::cuda_available())) {

TEST_CASE("cuda every op of the op table in bf16 and fp16, native and emulated, against FP32") {
  for (const OpEntry& entry : test::op_table()) {
    if (!entry.cuda_cases) continue;
    SUBCASE(entry.op.c_str()) {
      for (Precision p : {Precision::BF16, Precision::FP16}) check_entry(entry, p, Device::CUDA);
    }
  }
}

TEST_CASE("cuda reduced-precision results agree with the CPU's FP32 results") {
  for (const OpEntry& entry : test::op_table()) {
    if (!entry.cuda_cases || !autocast_op(entry.op)) continue;
    SUBCASE(entry.op.c_str()) {
      Rng rng(entry.cuda_seed + 7);
      for (const OpCase& op : entry.cuda_cases(rng)) {
        const Tensor d_out = op.grads.empty() ? Tensor{} : test::random_normal(op.t.at("d_out").shape(), rng);
        const Results cpu = run_case(op, Precision::FP32, d_out, Device::CPU);
        for (Precision p : {Precision::BF16, Precision::FP16}) {
          const Results gpu = run_case(op, p, d_out, Device::CUDA);
          const double growth = entry.op == "attention" ? attention_growth(op) : 1.0;
          const double bar = 5.0 * unit_roundoff(p) * growth;
          for (const auto& [name, expected] : cpu.all) {
            const test::Comparison c = test::compare(gpu.all.at(name), expected);
            CHECK_MESSAGE(c.normalized_error <= bar, op.name, " ", name, " ", precision_name(p), " on the GPU: ",
                          c.describe(), " (bar ", bar, ")");
          }
        }
      }
    }
  }
}

}  // TEST_SUITE("cuda")
