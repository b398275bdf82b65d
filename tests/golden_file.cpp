// The golden files of the primitive ops; see golden_file.h.
#include "golden_file.h"

#include <cstddef>

#include "tensor/error.h"
#include "test_util.h"

namespace bigcolor::test {

GoldenFile::GoldenFile(const std::string& family)
    : family_(family), file_(load_safetensors(golden_path(family + ".safetensors"))) {}

std::vector<std::string> GoldenFile::cases() const {
  std::set<std::string> names;
  for (const auto& [key, tensor] : file_.tensors) {
    const auto dot = key.rfind('.');
    if (dot == std::string::npos || dot == 0) throw Error(family_ + ": key without a case: " + key);
    names.insert(key.substr(0, dot));
  }
  return {names.begin(), names.end()};
}

const Tensor& GoldenFile::tensor(const std::string& c, const std::string& name) const {
  const std::string key = c + "." + name;
  if (!file_.contains(key)) throw Error(family_ + ".safetensors: missing tensor " + key);
  used_.insert(key);
  return file_.at(key);
}

std::string GoldenFile::meta(const std::string& c, const std::string& name) const {
  const auto it = file_.metadata.find(c + "." + name);
  if (it == file_.metadata.end()) throw Error(family_ + ".safetensors: missing metadata " + c + "." + name);
  return it->second;
}

int GoldenCase::meta_int(const std::string& setting) const {
  const std::string value = meta(setting);
  std::size_t used = 0;
  const int result = std::stoi(value, &used);
  if (used != value.size()) throw Error(file.family() + ": bad integer " + name + "." + setting + " = " + value);
  return result;
}

float GoldenCase::meta_float(const std::string& setting) const {
  const std::string value = meta(setting);
  std::size_t used = 0;
  const float result = std::stof(value, &used);
  if (used != value.size()) throw Error(file.family() + ": bad number " + name + "." + setting + " = " + value);
  return result;
}

bool GoldenCase::meta_bool(const std::string& setting) const {
  const std::string value = meta(setting);
  if (value == "1" || value == "true" || value == "True") return true;
  if (value == "0" || value == "false" || value == "False") return false;
  throw Error(file.family() + ": bad flag " + name + "." + setting + " = " + value);
}

}  // namespace bigcolor::test
