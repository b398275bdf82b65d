// Safetensors reader and writer. The reader trusts nothing in the file: see safetensors.h for what is checked.
#include "tensor/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>
#include <vector>

#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor {

namespace {

using Json = nlohmann::json;

bool parse_dtype(const std::string& name, DType& dtype) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64}) {
    if (name == dtype_name(d)) {
      dtype = d;
      return true;
    }
  }
  return false;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
  bool f64 = false;  // stored as F64, held as F32 (rounded to nearest)
};

// Reads one header entry, checking every field's type and the size the shape implies.
Entry parse_entry(const std::string& path, const std::string& name, const Json& value) {
  auto fail = [&](const std::string& why) { detail::throw_error(path, ": tensor '", name, "': ", why); };
  if (!value.is_object()) fail("header entry is not an object");
  if (!value.contains("dtype") || !value["dtype"].is_string()) fail("missing dtype");
  if (!value.contains("shape") || !value["shape"].is_array()) fail("missing shape");
  if (!value.contains("data_offsets") || !value["data_offsets"].is_array() || value["data_offsets"].size() != 2)
    fail("missing or malformed data_offsets");
  Entry e{name, DType::F32, {}, 0, 0};
  std::string dtype = value["dtype"].get<std::string>();
  e.f64 = dtype == "F64";
  if (!e.f64 && !parse_dtype(dtype, e.dtype))
    fail("unsupported dtype " + dtype + " (supported: F32, F64, F16, BF16, I32, I64)");
  const std::uint64_t element_size = e.f64 ? 8 : dtype_size(e.dtype);
  std::uint64_t elements = 1;
  for (const Json& d : value["shape"]) {
    if (!d.is_number_unsigned()) fail("shape has a non-integer or negative dimension");
    std::uint64_t dim = d.get<std::uint64_t>();
    if (dim > (1ull << 40) || (dim != 0 && elements > (1ull << 40) / dim)) fail("shape is implausibly large");
    elements *= dim;
    e.shape.push_back(static_cast<std::int64_t>(dim));
  }
  for (const Json& o : value["data_offsets"])
    if (!o.is_number_unsigned()) fail("data_offsets are not non-negative integers");
  e.begin = value["data_offsets"][0].get<std::uint64_t>();
  e.end = value["data_offsets"][1].get<std::uint64_t>();
  if (e.end < e.begin) fail("data_offsets end before they begin");
  if (e.end - e.begin != elements * element_size)
    fail("data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " + shape_string(e.shape) +
         " of " + dtype + " needs " + std::to_string(elements * element_size));
  return e;
}

}  // namespace

const Tensor& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  BIGCOLOR_CHECK(it != tensors.end(), path, ": no tensor named '", name, "'");
  return it->second;
}

SafetensorsFile load_safetensors(const std::string& path) {
  const ReadFile file(path);  // a regular file, or an Error naming what it is
  const std::uint64_t file_size = file.size();
  // Reads n bytes at `offset`; false on a short read (the file shrank while open).
  const auto read_at = [&file](std::uint64_t offset, void* out, std::size_t n) {
    if (n == 0) return true;
    return ::fseeko(file.get(), static_cast<off_t>(offset), SEEK_SET) == 0 && std::fread(out, 1, n, file.get()) == n;
  };
  BIGCOLOR_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes, shorter than its header)");

  unsigned char length_bytes[8];
  BIGCOLOR_CHECK(read_at(0, length_bytes, 8), path, ": read error in header");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length_bytes[i];  // little-endian
  BIGCOLOR_CHECK(header_len <= kMaxSafetensorsHeaderBytes, path, ": header of ", header_len,
                 " bytes exceeds the 100 MB limit (corrupt or not a safetensors file)");
  BIGCOLOR_CHECK(header_len <= file_size - 8, path, ": truncated: header claims ", header_len,
                 " bytes but the file has ", file_size - 8, " after the length");

  std::string header_text(header_len, '\0');
  BIGCOLOR_CHECK(read_at(8, header_text.data(), header_text.size()), path, ": read error in header");
  Json header;
  try {
    header = Json::parse(header_text);
  } catch (const Json::exception& e) {
    detail::throw_error(path, ": header is not valid JSON (", e.what(), ")");
  }
  BIGCOLOR_CHECK(header.is_object(), path, ": header is not a JSON object");

  SafetensorsFile result;
  result.path = path;
  std::vector<Entry> entries;
  for (auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      BIGCOLOR_CHECK(value.is_object(), path, ": __metadata__ is not an object");
      for (auto& [mkey, mvalue] : value.items()) {
        BIGCOLOR_CHECK(mvalue.is_string(), path, ": metadata '", mkey, "' is not a string");
        result.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }

  const std::uint64_t data_size = file_size - 8 - header_len;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    BIGCOLOR_CHECK(e.end <= data_size, path, ": tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end,
                   ") run past the end of the data (", data_size, " bytes; truncated file?)");
    if (i > 0)
      BIGCOLOR_CHECK(e.begin >= entries[i - 1].end || entries[i - 1].begin == entries[i - 1].end, path,
                     ": tensors '", entries[i - 1].name, "' and '", e.name, "' overlap");
  }
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::CPU);
    if (e.f64) {
      std::vector<double> values(static_cast<std::size_t>(t.numel()));
      BIGCOLOR_CHECK(read_at(8 + header_len + e.begin, values.data(), values.size() * sizeof(double)), path,
                     ": read error in tensor '", e.name, "'");
      std::transform(values.begin(), values.end(), t.data<float>(), [](double v) { return static_cast<float>(v); });
      result.tensors.emplace(e.name, std::move(t));
      continue;
    }
    BIGCOLOR_CHECK(read_at(8 + header_len + e.begin, t.nbytes() ? t.raw() : nullptr, t.nbytes()), path,
                   ": read error in tensor '", e.name, "'");
    result.tensors.emplace(e.name, std::move(t));
  }
  return result;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    BIGCOLOR_CHECK(t.defined(), "save_safetensors ", path, ": tensor '", name, "' is undefined");
    BIGCOLOR_CHECK(name != "__metadata__", "save_safetensors ", path, ": '__metadata__' is reserved");
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned, as the format advises

  write_file_atomically(path, [&](int fd) {
    unsigned char length_bytes[8];
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
    write_all(fd, length_bytes, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const auto& [name, t] : tensors) {
      const Tensor host = t.device() == Device::CPU ? t : t.to(Device::CPU);
      if (host.nbytes() > 0) write_all(fd, host.raw(), host.nbytes(), path);
    }
  });
}

}  // namespace bigcolor
