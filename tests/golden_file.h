// One golden file of the primitive ops, tests/golden/<family>.safetensors (written by tools/make_golden_ops.py; see
// its header for the layout): its cases (every tensor key up to its last '.'), their tensors `<case>.<name>` and
// their settings (metadata `<case>.<setting>`). Reading a tensor marks it used, so the golden harness
// (op_harness.h) can fail every stored tensor that no check read.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace bigcolor::test {

class GoldenFile {
 public:
  explicit GoldenFile(const std::string& family);

  const std::string& family() const { return family_; }
  const SafetensorsFile& data() const { return file_; }
  std::vector<std::string> cases() const;

  // The stored tensor `<c>.<name>` (now marked used); an Error if it is missing.
  const Tensor& tensor(const std::string& c, const std::string& name) const;
  bool used(const std::string& key) const { return used_.count(key) != 0; }
  // The setting `<c>.<name>`; an Error if it is missing.
  std::string meta(const std::string& c, const std::string& name) const;

 private:
  std::string family_;
  SafetensorsFile file_;
  mutable std::set<std::string> used_;
};

// One case of a golden file, as an op's golden builder (OpEntry::golden, op_table.h) reads it.
struct GoldenCase {
  const GoldenFile& file;
  std::string name;

  const Tensor& t(const std::string& tensor) const { return file.tensor(name, tensor); }
  std::string meta(const std::string& setting) const { return file.meta(name, setting); }
  int meta_int(const std::string& setting) const;
  float meta_float(const std::string& setting) const;
  bool meta_bool(const std::string& setting) const;
  // "<family>/<case>/<tensor>", for messages.
  std::string what(const std::string& tensor) const { return file.family() + "/" + name + "/" + tensor; }
};

}  // namespace bigcolor::test
