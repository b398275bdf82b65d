// The two checks every entry of the op table (op_table.h) goes through.
//
// Gradient check (gradient_checks / check_case_gradients), on the CPU: for an op with output `out` and a fixed
// random R of out's shape, L(x) = Σ out ⊙ R, so ∂L/∂out = R is the d_out given to the backward. For each
// differentiable input x and kDirections random directions v (uniform in [-1, 1]) the central difference
//     L(x⁺) − L(x⁻),  x⁺ = fl(x + h·v), x⁻ = fl(x − h·v)
// is compared with ⟨∇ₓL, x⁺ − x⁻⟩ from the backward (using the perturbation actually applied in float32, so the
// rounding of x ± h·v does not count as error); both are printed divided by 2h. L is accumulated in double.
// They must agree to a relative 1e-2 (gradients_agree), which a gradient scaled by 2, by 0 or with its sign flipped
// fails (see the self-test in test_finite_difference.cpp). Since a random direction dilutes an error confined to a
// few directions, every input of up to kFullCheckMaxElements elements is also checked coordinate by coordinate
// (x ± h·e_j for every j): the whole finite-difference gradient against the backward's, normalized error <= 1e-2.
// The contract is checked too: parameter gradients start at a random value and must ACCUMULATE into it (the check
// uses grad − start); activation gradients start as NaN and must be overwritten.
//
// CUDA comparison (check_case_cuda_vs_cpu): the case's CPU tensors are copied to the GPU, so both backends see the
// same values; outputs and overwritten gradients are poisoned with NaN on both devices, accumulating gradients
// start from the same random values; every output, state and gradient of the GPU is compared with the CPU's by
// check_close (normalized error, the case's tolerance), then the partial backward runs and the determinism
// re-runs the case asks for.
//
// Golden check (check_golden_family), on the CPU: every case of a golden file (tests/golden/<family>.safetensors,
// tools/make_golden_ops.py) goes to the op-table entry whose GoldenSpec claims it (by its "op" setting where the
// file holds several ops), whose build makes it an OpCase with the file's inputs. Outputs are allocated with the
// reference shapes and poisoned (NaN); activation gradients are poisoned (they overwrite), parameter gradients start
// at zero (they accumulate); the backward is fed the reference's saved tensors (its outputs: forward result,
// batch-norm statistics) and its d_out, so a backward failure is the backward's; then each partial run. Everything
// is compared with check_close at the project's float32 bar, normalized error <= 1e-5 (kGoldenTolerance). A missing
// file, case setting or tensor is a failure, so is a file with fewer cases of an op than its min_cases, a case no
// entry claims, and a stored tensor that no check read.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "op_table.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

constexpr double kGradRelativeTolerance = 1e-2;
constexpr int kGradDirections = 3;
// The whole-gradient check costs two forwards per element: done for inputs up to this size.
constexpr std::size_t kFullCheckMaxElements = 512;
// Below this magnitude (per unit h) a finite difference and its analytic twin are "both vanishing": a vacuous check,
// counted as a failure.
constexpr double kVacuousScale = 1e-10;

// The comparison predicate: finite, not both vanishing, and within `tol` relative.
bool gradients_agree(double finite_difference, double analytic, double tol = kGradRelativeTolerance);

// One comparison: a random direction (finite difference vs backward, both per unit h), or, for a small input, the
// whole gradient against central differences along every coordinate (normalized error ‖backward − fd‖ / ‖fd‖).
struct CheckResult {
  std::string what;
  bool full = false;               // the coordinate-wise check of the whole gradient
  double finite_difference = 0.0;  // direction: (L(x⁺) − L(x⁻)) / 2h; full: ‖fd‖
  double analytic = 0.0;           // direction: ⟨∇L, x⁺ − x⁻⟩ / 2h; full: ‖∇L‖
  double error = 0.0;              // relative error
  bool agree = false;
  std::string describe() const;
};

// Optional hook for the self-test: alters the analytic gradient of grads[index] before the comparison.
using Tamper = std::function<void(std::vector<double>& gradient, std::size_t index)>;

// Runs the gradient check of one case (its tensors are perturbed in place and restored) and returns every
// comparison, without asserting.
std::vector<CheckResult> gradient_checks(OpCase& op, Rng& rng, const Tamper& tamper = {});

// gradient_checks, then CHECKs that every comparison agrees and that none is missing.
void check_case_gradients(OpCase op, Rng& rng);

// The CUDA backend against the CPU backend on one case (returns at once without a GPU).
void check_case_cuda_vs_cpu(const OpCase& op, Rng& rng);

constexpr double kGoldenTolerance = 1e-5;  // the project's bar for a float32 op: never widen it

// Every case of tests/golden/<family>.safetensors against the entries whose golden spec names that family.
void check_golden_family(const std::string& family, const std::vector<const OpEntry*>& entries);

// The same tensor on both devices. An undefined pair (both Tensor{}) stands for "not wanted".
struct Pair {
  Tensor cpu, gpu;
};
Pair to_pair(const Tensor& cpu);
Pair poisoned_pair(const Shape& shape);
bool bitwise_equal(const Tensor& a, const Tensor& b);

}  // namespace bigcolor::test
