// Golden tests: every primitive CPU op of the op table (op_table.h), forward and backward, against PyTorch's float32
// results stored in tests/golden/ (written by tools/make_golden_ops.py; see its header for the file layout and how to
// regenerate). Each op's golden spec (OpEntry::golden, op_table_golden.cpp) names its file and turns a case of it
// into an OpCase; check_golden_family (op_harness.h) runs them with the rules: reference shapes, NaN-poisoned
// outputs and activation gradients, zeroed parameter gradients, the reference's saved tensors fed to the backward,
// check_close at normalized error <= 1e-5, and a failure for a missing file, case setting or tensor, for too few
// cases and for a stored tensor no check read. One SUBCASE per golden file (`-sc=batchnorm` runs one).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "op_harness.h"
#include "op_table.h"

namespace test = bigcolor::test;

TEST_SUITE("golden") {

TEST_CASE("golden every primitive op of the op table against PyTorch") {
  std::vector<std::string> families;  // in table order
  std::map<std::string, std::vector<const test::OpEntry*>> entries;
  for (const test::OpEntry& entry : test::op_table()) {
    const std::string& family = entry.golden.family;
    if (family.empty()) continue;
    if (entries.count(family) == 0) families.push_back(family);
    entries[family].push_back(&entry);
  }
  for (const std::string& family : families) {
    const auto& claimed = entries.at(family);
    SUBCASE(claimed.front()->golden.family.c_str()) { test::check_golden_family(family, claimed); }  // table-owned name
  }
}

TEST_CASE("golden every primitive op of the op table has a golden spec") {
  for (const test::OpEntry& entry : test::primitive_op_entries()) {
    INFO("op ", entry.op);
    CHECK((!entry.golden.family.empty() && entry.golden.min_cases > 0 && entry.golden.build));
  }
}

}  // TEST_SUITE("golden")
