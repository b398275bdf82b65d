// The op table: every op of kernels/*_signatures.inc, registered once, with the shapes it is tested at and how its
// inputs are drawn: the ops with a backward (op_signatures.inc, fused_signatures.inc), and the forward-only ones
// (inference_signatures.inc, precision_signatures.inc: op_table_inference.cpp), which have no gradcheck_cases and no
// golden spec (their CPU versions are checked against direct loops in test_classifier_ops.cpp / test_convert.cpp).
// The harnesses loop over it:
//   tests/test_finite_difference.cpp  "gradcheck": central differences against the CPU backward (op_harness.h)
//   tests/test_cuda_vs_cpu.cpp        "cuda": the CUDA backend against the CPU backend, outputs poisoned with NaN
//   tests/test_golden_ops.cpp         "golden": a primitive op against PyTorch's float32 results in tests/golden/
// Adding an op = its kernels + one OpEntry (a builder of one OpCase, the case lists of the gradient check and the
// CUDA comparison, and for a primitive op its golden spec: which golden file, and how one of its cases becomes an
// OpCase; tools/make_golden_ops.py writes the file).
//
// An OpCase is one op at one shape, with its tensors by name, all on the CPU (the CUDA harness copies them):
//   inputs    everything the op reads (input data, weights, saved statistics, running buffers); drawn from the
//             case's seeded Rng, so a case is reproducible
//   outputs   written by the forward: poisoned with NaN before it runs, compared after
//   state     inputs the forward updates in place (running statistics): compared after the forward, not poisoned
//   grads     written by the backward, each the gradient of one input; `accumulates` = a parameter gradient (+=,
//             starts from random values) else an activation gradient (overwritten, starts as NaN). A name absent
//             from the case (get() gives Tensor{}) is a gradient not wanted.
//   "d_out"   the upstream gradient (the harness sets it: R of L = Σ out ⊙ R for gradcheck, random for cuda)
// forward / backward run the op on whatever device the named tensors live on (every harness passes its own map).
//
// A golden OpCase (GoldenSpec::build) takes its inputs from the golden file and names its outputs, state and
// gradients as the file does (golden_name where it does not); the harness replaces their tensors with ones of the
// reference shapes (op_harness.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

using Tensors = std::map<std::string, Tensor>;

// The named tensor, or Tensor{} ("not wanted") when the case has none of that name.
Tensor get(const Tensors& t, const std::string& name);

struct GradSpec {
  std::string grad;   // name of the gradient tensor, e.g. "d_weight"
  std::string input;  // name of the input it is the gradient of, e.g. "weight"
  bool accumulates;   // parameter gradient (+=) or activation gradient (overwritten)
};

// A backward run with only some gradients wanted (the others Tensor{}), on both devices.
struct Partial {
  std::vector<std::string> grads;
  bool bitwise = false;  // the GPU's partial result must equal its full run bit for bit (else: GPU vs CPU partial,
                         // at the case's tolerance)
};

struct OpCase {
  std::string name;  // op and shape, printed with every check
  Tensors t;
  std::vector<std::string> outputs, state;
  std::vector<GradSpec> grads;
  std::function<void(const Tensors&)> forward, backward;

  // ---- gradcheck ----
  std::string loss_output;  // L = Σ t[loss_output] ⊙ R (default: outputs[0])
  double h = 1e-2;          // finite-difference step (0.1 for ops linear in each argument: exact up to rounding)
  // Replaces `forward` while perturbing (after one real forward): for a backward defined with some forward results
  // held constant (spectral norm: u_new, v). Writes t[loss_output].
  std::function<void(const Tensors&)> gradcheck_forward;

  // ---- cuda ----
  double tolerance = 1e-5;                          // normalized error, the project's float32 bar
  std::map<std::string, double> tolerance_of;       // per output / gradient, where rounding allows more
  bool backward_from_cpu_forward = false;  // both devices' backward get the CPU's outputs (identical saved
                                           // statistics and ReLU masks); else each device uses its own
  std::vector<Partial> partials;    // golden: the backward runs with only these gradients wanted, too
  bool deterministic = false;        // a second GPU forward gives the same bits
  bool compare_increments = false;   // also compare (accumulated gradient − its start) of accumulating gradients

  // ---- golden ----
  std::map<std::string, std::string> golden_name;  // a tensor's name in the golden file, where it differs
  // (output, input) the contract lets alias: the forward is rerun with both the same copy of the input.
  std::vector<std::pair<std::string, std::string>> in_place;
  // (state, input it starts from) that the forward must leave bit for bit as it was (batch norm in eval mode).
  std::vector<std::pair<std::string, std::string>> unchanged;
};

struct GoldenCase;  // golden_file.h

// Where an op's golden checks come from: the cases of tests/golden/<family>.safetensors (make_golden_ops.py).
struct GoldenSpec {
  std::string family;         // empty: the op has no golden file (the fused kernels: see test_golden_layers.cpp)
  std::string op;             // the cases' "op" setting that selects this op, where one file holds several ops
  std::size_t min_cases = 0;  // the cases of this op make_golden_ops.py writes: a file with fewer is a failure
  std::function<OpCase(const GoldenCase&)> build;  // inputs and settings from the file; poisoned by the harness
};

struct OpEntry {
  std::string op;  // as in op_signatures.inc / fused_signatures.inc, e.g. "conv2d"
  std::function<std::vector<OpCase>(Rng&)> gradcheck_cases;  // small shapes (up to ~500 elements per input);
                                                             // empty for a forward-only op

  std::function<std::vector<OpCase>(Rng&)> cuda_cases;       // odd sizes, tile boundaries, real layer shapes
  std::uint64_t gradcheck_seed, cuda_seed;
  GoldenSpec golden = {};  // every primitive op has one (checked by test_golden_ops.cpp)
};

// Primitive ops (op_table.cpp), the fused BigGAN kernels (op_table_fused.cpp) and the forward-only ops
// (op_table_inference.cpp), in one list.
const std::vector<OpEntry>& op_table();
std::vector<OpEntry> primitive_op_entries();
std::vector<OpEntry> fused_op_entries();
std::vector<OpEntry> inference_op_entries();  // forward only (op_table_inference.cpp)

// Builders the self-tests of the harness reuse (test_finite_difference.cpp).
OpCase linear_case(Rng& rng, std::int64_t b, std::int64_t i, std::int64_t o, bool bias, bool want_d_in = true);
OpCase tanh_case(const Tensor& in);
OpCase batchnorm_gradcheck_case(Rng& rng, const Shape& shape, bool affine, bool training);

}  // namespace bigcolor::test
