// Finite-difference gradient checks of every op of the op table (op_table.h), on its small gradcheck shapes on the
// CPU, by the harness of op_harness.h (central differences along random directions and coordinate by coordinate,
// relative 1e-2; accumulating parameter gradients, overwritten activation gradients). One SUBCASE per op
// (`-sc=conv2d` runs one). First, the self-test of the harness's pass/fail rule and of the harness end to end.
// Inputs stay away from kinks: relu inputs away from 0, max-pool windows without near-ties, ccbn pre-activations
// at least 0.2 from 0 (the table's builders draw them so).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "op_harness.h"
#include "op_table.h"
#include "test_util.h"

namespace {

using bigcolor::Rng;
using bigcolor::Shape;
namespace test = bigcolor::test;
using test::gradients_agree;
using test::kGradDirections;

}  // namespace

TEST_SUITE("gradcheck") {

TEST_CASE("gradcheck self-test: the predicate rejects wrong gradients") {
  CHECK(gradients_agree(1.0, 1.0));
  CHECK(gradients_agree(-3.0, -3.01));
  CHECK(gradients_agree(1e-4, 1.001e-4));
  CHECK_FALSE(gradients_agree(1.0, 2.0));    // scaled by 2
  CHECK_FALSE(gradients_agree(2.0, 1.0));    // halved
  CHECK_FALSE(gradients_agree(1.0, -1.0));   // sign flipped
  CHECK_FALSE(gradients_agree(1.0, 0.0));    // missing
  CHECK_FALSE(gradients_agree(0.0, 0.0));    // vacuous
  CHECK_FALSE(gradients_agree(1e-12, 1e-12));  // vacuous too: below kVacuousScale
  CHECK_FALSE(gradients_agree(1.0, 1.05));   // 5% off
  CHECK_FALSE(gradients_agree(1.0, std::nan("")));
  CHECK_FALSE(gradients_agree(std::nan(""), 1.0));
  CHECK_FALSE(gradients_agree(1.0, INFINITY));
}

TEST_CASE("gradcheck self-test: a deliberately wrong backward fails end to end") {
  // The harness itself must detect a gradient scaled by 2 or with its sign flipped, on a nonlinear op (tanh) and
  // on an accumulating parameter gradient (linear's weight).
  const std::vector<std::pair<std::string, double>> tampers = {{"x2", 2.0}, {"negated", -1.0}, {"zeroed", 0.0}};
  for (const auto& [label, factor] : tampers) {
    INFO("tamper ", label);
    {
      Rng rng(101);
      test::OpCase op = test::tanh_case(test::random_normal({3, 4}, rng));
      const auto results = test::gradient_checks(op, rng, [f = factor](std::vector<double>& g, std::size_t) {
        for (double& x : g) x *= f;
      });
      REQUIRE_FALSE(results.empty());
      for (const auto& r : results) CHECK_MESSAGE(!r.agree, r.what, " passed with a ", label, " gradient");
    }
    {
      Rng rng(102);
      test::OpCase op = test::linear_case(rng, 3, 4, 2, true);
      REQUIRE(op.grads.at(1).grad == "d_weight");
      const auto results = test::gradient_checks(op, rng, [f = factor](std::vector<double>& g, std::size_t index) {
        if (index == 1) {  // weight only
          for (double& x : g) x *= f;
        }
      });
      int wrong_detected = 0;
      for (const auto& r : results) {
        if (r.what.find("d_weight") != std::string::npos) {
          CHECK_MESSAGE(!r.agree, r.what, " passed with a ", label, " gradient");
          ++wrong_detected;
        }
      }
      CHECK(wrong_detected == kGradDirections + 1);  // every direction and the coordinate-wise check
    }
  }
  // A subtle error: a per-channel constant added to batch norm's d_in (what a backward that forgets part of the
  // statistics path looks like), 20% of the gradient's RMS. Random directions barely see it; the coordinate-wise
  // check must.
  {
    Rng rng(103);
    const Shape shape{3, 2, 4, 5};
    test::OpCase op = test::batchnorm_gradcheck_case(rng, shape, true, true);
    REQUIRE(op.grads.at(0).grad == "d_in");
    const auto results = test::gradient_checks(op, rng, [&shape](std::vector<double>& g, std::size_t index) {
      if (index != 0) return;
      double sum2 = 0.0;
      for (const double x : g) sum2 += x * x;
      const double rms = std::sqrt(sum2 / static_cast<double>(g.size()));
      const std::int64_t inner = shape[2] * shape[3];
      for (std::size_t j = 0; j < g.size(); ++j) {
        const std::int64_t channel = (static_cast<std::int64_t>(j) / inner) % shape[1];
        g[j] += (channel == 0 ? 0.2 : -0.2) * rms;
      }
    });
    bool full_check_seen = false;
    for (const auto& r : results) {
      if (r.full && r.what.find("d_in") != std::string::npos) {
        full_check_seen = true;
        CHECK_MESSAGE(!r.agree, r.describe(), " passed with a per-channel offset in d_in");
      }
    }
    CHECK(full_check_seen);
  }
  // And the untampered harness passes on the same ops (so the failures above are the tampering's).
  {
    Rng rng(101);
    test::check_case_gradients(test::tanh_case(test::random_normal({3, 4}, rng)), rng);
  }
  {
    Rng rng(102);
    test::check_case_gradients(test::linear_case(rng, 3, 4, 2, true), rng);
  }
}

TEST_CASE("gradcheck every op of the op table") {
  for (const test::OpEntry& entry : test::op_table()) {
    if (!entry.gradcheck_cases) continue;  // a forward-only op (op_table_inference.cpp): nothing to differentiate
    SUBCASE(entry.op.c_str()) {
      Rng rng(entry.gradcheck_seed);
      const std::vector<test::OpCase> cases = entry.gradcheck_cases(rng);
      REQUIRE_FALSE(cases.empty());
      for (const test::OpCase& c : cases) test::check_case_gradients(c, rng);
    }
  }
}

}  // TEST_SUITE("gradcheck")
