// The gradient check and the CUDA-against-CPU comparison of an op-table case; see op_harness.h for the method.
#include "op_harness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <sstream>

#include "golden_file.h"
#include "tensor/error.h"
#include "test_util.h"

namespace bigcolor::test {

namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

}  // namespace


bool gradients_agree(double finite_difference, double analytic, double tol) {
  if (!std::isfinite(finite_difference) || !std::isfinite(analytic)) return false;
  const double scale = std::max(std::abs(finite_difference), std::abs(analytic));
  if (scale < kVacuousScale) return false;
  return std::abs(finite_difference - analytic) <= tol * scale;
}

std::string CheckResult::describe() const {
  std::ostringstream s;
  s << what << (full ? ": ‖finite differences‖ " : ": finite difference ") << finite_difference
    << (full ? ", ‖backward‖ " : ", backward ") << analytic << ", relative error " << error << " (tolerance "
    << kGradRelativeTolerance << ")";
  return s.str();
}

std::vector<CheckResult> gradient_checks(OpCase& op, Rng& rng, const Tamper& tamper) {
  const std::string loss_name = op.loss_output.empty() ? op.outputs.at(0) : op.loss_output;
  op.forward(op.t);  // the real forward once: saved results a gradcheck_forward holds constant
  const auto forward = [&] { (op.gradcheck_forward ? op.gradcheck_forward : op.forward)(op.t); };
  const Tensor out = op.t.at(loss_name);
  const Tensor r = random_normal(out.shape(), rng);
  const std::vector<float> r_values = r.to_vector();

  forward();
  std::vector<std::vector<float>> start(op.grads.size());
  for (std::size_t i = 0; i < op.grads.size(); ++i) {
    const GradSpec& g = op.grads[i];
    const Tensor grad = op.t.at(g.grad);
    if (g.accumulates) {
      const Tensor init = random_normal(grad.shape(), rng);
      grad.copy_from(init);
      start[i] = init.to_vector();
    } else {
      poison(grad);
    }
  }
  op.t["d_out"] = r;
  op.backward(op.t);

  std::vector<CheckResult> results;
  for (std::size_t i = 0; i < op.grads.size(); ++i) {
    const GradSpec& g = op.grads[i];
    const Tensor value = op.t.at(g.input);
    const std::vector<float> grad_values = op.t.at(g.grad).to_vector();
    std::vector<double> gradient(grad_values.size());
    for (std::size_t j = 0; j < gradient.size(); ++j) {
      gradient[j] = static_cast<double>(grad_values[j]) - (g.accumulates ? static_cast<double>(start[i][j]) : 0.0);
    }
    if (tamper) tamper(gradient, i);

    const Tensor original = value.clone();
    const std::vector<float> x0 = original.to_vector();
    const auto h = static_cast<float>(op.h);
    // L at x0 + delta and x0 − delta; returns L⁺ − L⁻ and ⟨∇L, x⁺ − x⁻⟩ (the perturbation actually applied).
    const auto central = [&](const std::vector<float>& delta, double& difference, double& analytic) {
      std::vector<float> plus(x0.size()), minus(x0.size());
      for (std::size_t j = 0; j < x0.size(); ++j) {
        plus[j] = x0[j] + delta[j];
        minus[j] = x0[j] - delta[j];
      }
      value.copy_from(Tensor::from_vector(plus, value.shape()));
      forward();
      const double loss_plus = dot(out.to_vector(), r_values);
      value.copy_from(Tensor::from_vector(minus, value.shape()));
      forward();
      const double loss_minus = dot(out.to_vector(), r_values);
      value.copy_from(original);
      difference = loss_plus - loss_minus;
      analytic = 0.0;
      for (std::size_t j = 0; j < x0.size(); ++j) {
        if (delta[j] != 0.0f) analytic += gradient[j] * (static_cast<double>(plus[j]) - static_cast<double>(minus[j]));
      }
    };

    for (int k = 0; k < kGradDirections; ++k) {
      std::vector<float> delta = random_uniform(value.shape(), rng, -1.0f, 1.0f).to_vector();
      for (float& d : delta) d *= h;
      double difference = 0.0, analytic = 0.0;
      central(delta, difference, analytic);
      CheckResult result;
      result.what = op.name + " " + g.grad + " direction " + std::to_string(k);
      result.finite_difference = difference / (2.0 * op.h);
      result.analytic = analytic / (2.0 * op.h);
      result.error = std::abs(result.finite_difference - result.analytic) /
                     std::max(std::abs(result.finite_difference), std::abs(result.analytic));
      result.agree = gradients_agree(result.finite_difference, result.analytic);
      results.push_back(result);
    }

    if (x0.size() <= kFullCheckMaxElements) {
      // A random direction dilutes an error confined to a few directions (a batch-norm backward that forgets the
      // statistics path is off by a per-channel rank-2 term: ~2% along a random direction when n = 60); the
      // coordinate-wise check sees the whole gradient.
      double diff2 = 0.0, fd2 = 0.0, an2 = 0.0;
      std::vector<float> delta(x0.size(), 0.0f);
      for (std::size_t j = 0; j < x0.size(); ++j) {
        delta[j] = h;
        double difference = 0.0, analytic = 0.0;
        central(delta, difference, analytic);
        delta[j] = 0.0f;
        diff2 += (difference - analytic) * (difference - analytic);
        fd2 += difference * difference;
        an2 += analytic * analytic;
      }
      CheckResult result;
      result.what = op.name + " " + g.grad + " every coordinate";
      result.full = true;
      result.finite_difference = std::sqrt(fd2) / (2.0 * op.h);
      result.analytic = std::sqrt(an2) / (2.0 * op.h);
      result.error = fd2 > 0.0 ? std::sqrt(diff2 / fd2) : INFINITY;
      result.agree = std::isfinite(result.error) && std::isfinite(an2) && result.error <= kGradRelativeTolerance &&
                     result.finite_difference >= kVacuousScale;
      results.push_back(result);
    }
  }
  forward();  // leave the outputs consistent with the unperturbed inputs
  return results;
}

void check_case_gradients(OpCase op, Rng& rng) {
  INFO("gradcheck ", op.name);
  REQUIRE_FALSE(op.grads.empty());
  const auto results = gradient_checks(op, rng);
  std::size_t expected = 0;
  for (const auto& g : op.grads) {
    const auto n = static_cast<std::size_t>(op.t.at(g.input).numel());
    expected += kGradDirections + (n <= kFullCheckMaxElements ? 1 : 0);
  }
  CHECK(results.size() == expected);
  for (const auto& result : results) CHECK_MESSAGE(result.agree, result.describe());
}

// ---- CUDA against CPU ---------------------------------------------------------------------------------------------

Pair to_pair(const Tensor& cpu) { return {cpu, cpu.to(Device::CUDA)}; }

Pair poisoned_pair(const Shape& shape) { return {poisoned(shape), poisoned(shape, Device::CUDA)}; }

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](float u, float v) {
           return std::memcmp(&u, &v, sizeof(float)) == 0;
         });
}

namespace {

// Every gradient tensor of the case set up on both devices: NaN (overwritten) or the same random start (accumulated).
void prepare_grads(const OpCase& op, Tensors& cpu, Tensors& gpu, const std::vector<std::string>& wanted, Rng& rng,
                   Tensors* starts = nullptr) {
  for (const GradSpec& g : op.grads) {
    cpu.erase(g.grad);
    gpu.erase(g.grad);
    if (std::find(wanted.begin(), wanted.end(), g.grad) == wanted.end()) continue;
    const Shape shape = op.t.at(g.grad).shape();
    const Pair p = g.accumulates ? to_pair(random_normal(shape, rng)) : poisoned_pair(shape);
    if (g.accumulates && starts != nullptr) (*starts)[g.grad] = p.cpu.clone();
    cpu[g.grad] = p.cpu;
    gpu[g.grad] = p.gpu;
  }
}

}  // namespace

void check_case_cuda_vs_cpu(const OpCase& op, Rng& rng) {
  if (!cuda_available()) return;
  CAPTURE(op.name);
  const auto tolerance = [&](const std::string& name) {
    const auto it = op.tolerance_of.find(name);
    return it == op.tolerance_of.end() ? op.tolerance : it->second;
  };
  Tensors cpu, gpu;
  for (const auto& [name, tensor] : op.t) {
    const bool is_output = std::find(op.outputs.begin(), op.outputs.end(), name) != op.outputs.end();
    if (is_output) {
      const Pair p = poisoned_pair(tensor.shape());
      cpu[name] = p.cpu, gpu[name] = p.gpu;
    } else {
      cpu[name] = tensor.clone();  // the case's tensors stay as built (state is updated in place)
      gpu[name] = tensor.to(Device::CUDA);
    }
  }
  op.forward(cpu);
  op.forward(gpu);
  for (const std::string& name : op.outputs) check_close(gpu.at(name), cpu.at(name), tolerance(name), op.name + " " + name);
  for (const std::string& name : op.state) check_close(gpu.at(name), cpu.at(name), tolerance(name), op.name + " " + name);
  if (op.deterministic) {  // a second forward gives the same bits
    Tensors again = gpu;
    for (const std::string& name : op.outputs) again[name] = poisoned(cpu.at(name).shape(), Device::CUDA);
    for (const std::string& name : op.state) again[name] = op.t.at(name).to(Device::CUDA);
    op.forward(again);
    for (const std::string& name : op.outputs) {
      CHECK_MESSAGE(bitwise_equal(again.at(name), gpu.at(name)), op.name, " ", name, " differs on a second run");
    }
  }
  for (const auto& [out, in] : op.in_place) {  // the GPU forward with out aliasing (a copy of) in
    Tensors aliased = gpu;
    const Tensor x = op.t.at(in).to(Device::CUDA);
    aliased[in] = x;
    aliased[out] = x;
    op.forward(aliased);
    check_close(x, cpu.at(out), tolerance(out), op.name + " " + out + " (in place)");
  }
  if (op.grads.empty()) return;

  if (op.backward_from_cpu_forward) {
    for (const std::string& name : op.outputs) gpu[name] = cpu.at(name).to(Device::CUDA);
  }
  const Pair d_out = to_pair(random_normal(op.t.at("d_out").shape(), rng));
  cpu["d_out"] = d_out.cpu, gpu["d_out"] = d_out.gpu;
  std::vector<std::string> all;
  for (const GradSpec& g : op.grads) all.push_back(g.grad);
  Tensors starts;
  prepare_grads(op, cpu, gpu, all, rng, &starts);
  op.backward(cpu);
  op.backward(gpu);
  for (const GradSpec& g : op.grads) {
    check_close(gpu.at(g.grad), cpu.at(g.grad), tolerance(g.grad), op.name + " " + g.grad);
    if (op.compare_increments && g.accumulates) {
      const std::vector<float> s = starts.at(g.grad).to_vector();
      std::vector<float> ig = gpu.at(g.grad).to_vector(), ic = cpu.at(g.grad).to_vector();
      for (std::size_t j = 0; j < s.size(); ++j) ig[j] -= s[j], ic[j] -= s[j];
      const Shape shape = cpu.at(g.grad).shape();
      check_close(Tensor::from_vector(ig, shape), Tensor::from_vector(ic, shape), tolerance(g.grad),
                  op.name + " " + g.grad + " increment");
    }
  }

  for (const Partial& partial : op.partials) {
    std::string label;
    for (const std::string& g : partial.grads) label += " " + g;
    Tensors pc = cpu, pg = gpu;
    if (partial.bitwise) {  // the GPU alone, from the full run's start values
      for (const GradSpec& g : op.grads) {
        pg.erase(g.grad);
        if (std::find(partial.grads.begin(), partial.grads.end(), g.grad) == partial.grads.end()) continue;
        pg[g.grad] = g.accumulates ? starts.at(g.grad).to(Device::CUDA)
                                   : poisoned(cpu.at(g.grad).shape(), Device::CUDA);
      }
      op.backward(pg);
      for (const std::string& g : partial.grads) {
        CHECK_MESSAGE(bitwise_equal(pg.at(g), gpu.at(g)), op.name, " ", g, " alone (", label,
                      ") differs from the full run");
      }
    } else {
      prepare_grads(op, pc, pg, partial.grads, rng);
      op.backward(pc);
      op.backward(pg);
      for (const std::string& g : partial.grads) {
        check_close(pg.at(g), pc.at(g), tolerance(g), op.name + " " + g + " alone (" + label + " )");
      }
    }
  }
}

}  // namespace bigcolor::test

// ---- golden -------------------------------------------------------------------------------------------------------

namespace bigcolor::test {

namespace {

// One golden case of one op: forward, in-place and unchanged-state checks, backward, partial backwards.
void check_golden_case(const OpEntry& entry, const GoldenCase& g) {
  const OpCase op = entry.golden.build(g);
  INFO("golden ", entry.op, ": ", op.name);
  const auto file_name = [&](const std::string& name) {
    const auto it = op.golden_name.find(name);
    return it == op.golden_name.end() ? name : it->second;
  };
  const auto ref = [&](const std::string& name) -> const Tensor& { return g.t(file_name(name)); };
  const auto check = [&](const Tensor& out, const std::string& name, const std::string& note) {
    check_close(out, ref(name), kGoldenTolerance, g.what(file_name(name)) + note);
  };

  Tensors t = op.t;
  for (const std::string& name : op.outputs) t[name] = poisoned(ref(name).shape());
  op.forward(t);
  for (const std::string& name : op.outputs) check(t.at(name), name, "");
  for (const std::string& name : op.state) check(t.at(name), name, "");
  for (const auto& [state, input] : op.unchanged) {
    CHECK_MESSAGE(bitwise_equal(t.at(state), t.at(input)), g.what(file_name(input)), " changed by the forward");
  }
  for (const auto& [out, in] : op.in_place) {
    Tensors aliased = t;
    const Tensor x = t.at(in).clone();
    aliased[in] = x;
    aliased[out] = x;
    op.forward(aliased);
    check(x, out, " (in place)");
  }
  if (op.grads.empty()) return;

  for (const std::string& name : op.outputs) t[name] = ref(name);  // the reference's saved tensors
  t["d_out"] = g.t("d_out");
  const auto backward = [&](const std::vector<std::string>& wanted, const std::string& note) {
    Tensors b = t;
    for (const GradSpec& grad : op.grads) {
      b.erase(grad.grad);
      if (std::find(wanted.begin(), wanted.end(), grad.grad) == wanted.end()) continue;
      const Shape shape = ref(grad.grad).shape();
      b[grad.grad] = grad.accumulates ? Tensor::zeros(shape) : poisoned(shape);
    }
    op.backward(b);
    for (const std::string& name : wanted) check(b.at(name), name, note);
  };
  std::vector<std::string> all;
  for (const GradSpec& grad : op.grads) all.push_back(grad.grad);
  backward(all, "");
  for (const Partial& partial : op.partials) {
    std::string note = " (only";
    for (const std::string& name : partial.grads) note += " " + name;
    backward(partial.grads, note + ")");
  }
}

// The entry of `entries` that claims case `c`: the only one, or the one named by the case's "op" setting.
const OpEntry& golden_entry(const GoldenFile& file, const std::string& c, const std::vector<const OpEntry*>& entries) {
  if (entries.size() == 1 && entries.front()->golden.op.empty()) return *entries.front();
  const std::string op = file.meta(c, "op");
  for (const OpEntry* entry : entries) {
    if (entry->golden.op == op) return *entry;
  }
  throw Error(file.family() + ".safetensors: unknown op '" + op + "' in case " + c);
}

}  // namespace

void check_golden_family(const std::string& family, const std::vector<const OpEntry*>& entries) {
  const GoldenFile file(family);
  const auto names = file.cases();
  std::map<const OpEntry*, std::size_t> count;
  std::set<std::string> failed;
  for (const std::string& c : names) {
    INFO("golden case ", family, "/", c);
    try {
      const OpEntry& entry = golden_entry(file, c, entries);
      ++count[&entry];
      check_golden_case(entry, GoldenCase{file, c});
    } catch (const std::exception& e) {
      failed.insert(c);
      const std::string message = family + "/" + c + ": exception: " + e.what();
      FAIL_CHECK(message);
    }
  }
  bool enough = true;
  std::ostringstream count_message;
  count_message << family << ".safetensors holds";
  for (const OpEntry* entry : entries) {
    enough = enough && count[entry] >= entry->golden.min_cases;
    count_message << " " << count[entry] << " cases of " << entry->op << " (expected at least "
                  << entry->golden.min_cases << ")";
  }
  CHECK_MESSAGE(enough, count_message.str(), " (regenerate with tools/make_golden_ops.py)");
  for (const auto& [key, tensor] : file.data().tensors) {
    if (failed.count(key.substr(0, key.rfind('.'))) != 0) continue;  // already failed: no second report
    const std::string message = family + ".safetensors: tensor " + key + " was never checked";
    CHECK_MESSAGE(file.used(key), message);
  }
}

}  // namespace bigcolor::test
