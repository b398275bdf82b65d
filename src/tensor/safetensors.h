// Safetensors files (https://huggingface.co/docs/safetensors): 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then
// the raw little-endian data. Every structural promise of the header is checked against the file: a lying file
// (offsets past the end, sizes that do not match the shape, overlapping tensors, unknown dtypes, a header longer
// than 100 MB or than the file) is a bigcolor::Error naming the file and the problem.
// Dtypes: F32, F16, BF16, I32, I64 as stored; F64 is read as F32, rounded to nearest (the runtime computes in F32;
// the torch reader does the same with DoubleStorage).
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.h"

namespace bigcolor {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // CPU tensors
  std::map<std::string, std::string> metadata;

  // The named tensor, or an Error naming the file's missing key.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  std::string path;  // where it was read from (for messages)
};

inline constexpr std::size_t kMaxSafetensorsHeaderBytes = 100u << 20;

SafetensorsFile load_safetensors(const std::string& path);

// Writes atomically: a temporary file beside `path`, then a rename, so an interrupted write never leaves a
// truncated file where a good one was. CUDA tensors are copied to the host first.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace bigcolor
