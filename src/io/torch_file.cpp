// torch.save archives (zip and legacy) and plain pickles: see torch_file.h.
#include "io/torch_file.h"

#include <sys/types.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <unordered_set>

#include "io/zip_archive.h"
#include "tensor/half.h"
#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor {

namespace {

using Kind = PickleValue::Kind;

// ---- storage types ----------------------------------------------------------------------------------------------

enum class SourceType { F32, F16, BF16, F64, I32, I64, Unsupported };

struct StorageType {
  const char* name;
  SourceType type;
  std::size_t element_size;
};

constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", SourceType::F32, 4},  {"HalfStorage", SourceType::F16, 2},
    {"BFloat16Storage", SourceType::BF16, 2}, {"DoubleStorage", SourceType::F64, 8},
    {"IntStorage", SourceType::I32, 4},    {"LongStorage", SourceType::I64, 8},
    {"ShortStorage", SourceType::Unsupported, 2}, {"CharStorage", SourceType::Unsupported, 1},
    {"ByteStorage", SourceType::Unsupported, 1},  {"BoolStorage", SourceType::Unsupported, 1},
};

const StorageType& storage_type(const std::string& name) {
  for (const StorageType& t : kStorageTypes)
    if (name == t.name) return t;
  detail::throw_error("unknown storage type ", name);  // unreachable: the unpickler admits only the names above
}

DType output_dtype(SourceType t) {
  switch (t) {
    case SourceType::I32: return DType::I32;
    case SourceType::I64: return DType::I64;
    default: return DType::F32;
  }
}


// A view may repeat its storage's elements (zero strides) up to this many elements in all.
constexpr std::uint64_t kMaxBroadcastElements = std::uint64_t(1) << 24;
// What all the tensors of one file may expand to: twice the file's size (views may share a storage, as tied weights
// do) plus room for broadcast views. A crafted file whose thousand tensors all view one large storage would
// otherwise materialize a thousand copies of it.
constexpr std::uint64_t kMaxMaterializedSlack = std::uint64_t(256) << 20;
constexpr std::size_t kMaxTensorName = 4096;  // "G.blocks.0.0.conv1.weight" is 25

// ---- where storage bytes come from ------------------------------------------------------------------------------

class StorageSource {
 public:
  virtual ~StorageSource() = default;
  // Copies bytes [offset, offset + n) of the storage to dst; the range has been checked against the storage.
  virtual void read(const StorageRecord& storage, std::uint64_t offset, void* dst, std::uint64_t n) = 0;
};

class ZipStorageSource : public StorageSource {
 public:
  ZipStorageSource(const ZipArchive& archive, std::string prefix) : archive_(archive), prefix_(std::move(prefix)) {}
  std::string entry_name(const std::string& key) const { return prefix_ + "data/" + key; }
  void read(const StorageRecord& storage, std::uint64_t offset, void* dst, std::uint64_t n) override {
    archive_.read(archive_.at(entry_name(storage.key)), offset, dst, n);
  }

 private:
  const ZipArchive& archive_;
  std::string prefix_;
};

class LegacyStorageSource : public StorageSource {
 public:
  explicit LegacyStorageSource(const std::string& path) : path_(path) {
    file_ = open_regular_file(path);
  }
  ~LegacyStorageSource() override { std::fclose(file_); }
  LegacyStorageSource(const LegacyStorageSource&) = delete;
  LegacyStorageSource& operator=(const LegacyStorageSource&) = delete;

  std::map<std::string, std::uint64_t> data_offsets;  // key -> offset of the storage's first byte

  void read(const StorageRecord& storage, std::uint64_t offset, void* dst, std::uint64_t n) override {
    if (n == 0) return;
    auto it = data_offsets.find(storage.key);
    BIGCOLOR_CHECK(it != data_offsets.end(), path_, ": storage '", printable(storage.key), "' has no data in the file");
    BIGCOLOR_CHECK(fseeko(file_, static_cast<off_t>(it->second + offset), SEEK_SET) == 0 &&
                       std::fread(dst, 1, n, file_) == n,
                   path_, ": read error in storage '", printable(storage.key), "'");
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// ---- persistent ids ---------------------------------------------------------------------------------------------

// Resolves ('storage', torch.<T>Storage, key, location, numel[, view_metadata]) to one Storage value per key.
// `check` validates a new storage against the file (zip: the entry exists and has the right size).
class StorageResolver {
 public:
  StorageResolver(std::string path, bool legacy, std::function<void(const StorageRecord&)> check)
      : path_(std::move(path)), legacy_(legacy), check_(std::move(check)) {}

  const PickleValue* operator()(PickleArena& arena, const PickleValue& pid) {
    const std::size_t expected = legacy_ ? 6 : 5;
    BIGCOLOR_CHECK(pid.is(Kind::Tuple) && pid.size() == expected, path_, ": persistent id is not a ", expected,
                   "-tuple ('storage', type, key, location, numel", legacy_ ? ", view" : "", ")");
    const PickleValue& tag = pid[0];
    BIGCOLOR_CHECK(tag.is(Kind::String) && tag.as_string() == "storage", path_,
                   ": persistent id of an unknown kind (only 'storage' is known)");
    const PickleValue& type = pid[1];
    BIGCOLOR_CHECK(type.is(Kind::Global) && type.class_name().rfind("torch.", 0) == 0 &&
                       type.class_name().size() > 13 &&
                       type.class_name().compare(type.class_name().size() - 7, 7, "Storage") == 0,
                   path_, ": persistent id names a ", type.kind_name(), " instead of a torch storage type");
    BIGCOLOR_CHECK(pid[2].is(Kind::String) && pid[3].is(Kind::String) && pid[4].is(Kind::Int) &&
                       pid[4].as_int() >= 0,
                   path_, ": persistent id has a malformed key, location or element count");
    if (legacy_)
      BIGCOLOR_CHECK(pid[5].is_none(), path_, ": storage '", printable(pid[2].as_string()),
                     "' is a view of another storage (torch.save before PyTorch 0.4), which is not supported");
    StorageRecord record;
    record.type_name = type.class_name().substr(6);
    record.key = pid[2].as_string();
    record.location = pid[3].as_string();
    record.numel = pid[4].as_int();
    const StorageType& st = storage_type(record.type_name);
    BIGCOLOR_CHECK(static_cast<std::uint64_t>(record.numel) <= (std::uint64_t(1) << 62) / st.element_size, path_,
                   ": storage '", printable(record.key), "' claims an implausible ", record.numel, " elements");

    auto it = storages_.find(record.key);
    if (it != storages_.end()) {
      const StorageRecord& old = it->second->storage();
      BIGCOLOR_CHECK(old.type_name == record.type_name && old.numel == record.numel, path_, ": storage '",
                     printable(record.key), "' is described twice, as ", old.numel, " ", old.type_name, " and as ", record.numel,
                     " ", record.type_name);
      return it->second;
    }
    check_(record);
    const PickleValue* v = arena.make_storage(record);
    storages_.emplace(record.key, v);
    return v;
  }

  const std::map<std::string, const PickleValue*>& storages() const { return storages_; }

 private:
  std::string path_;
  bool legacy_;
  std::function<void(const StorageRecord&)> check_;
  std::map<std::string, const PickleValue*> storages_;
};

// ---- tensors ----------------------------------------------------------------------------------------------------

template <typename Dst, typename Convert>
void gather(const unsigned char* src, std::size_t src_element, const Shape& size, const Shape& stride, Dst* dst,
            Convert convert) {
  const std::size_t nd = size.size();
  const std::int64_t numel = shape_numel(size);
  std::vector<std::int64_t> index(nd, 0);
  std::int64_t at = 0;  // element offset into src of the current multi-index
  for (std::int64_t i = 0; i < numel; ++i) {
    dst[i] = convert(src + static_cast<std::size_t>(at) * src_element);
    for (std::size_t d = nd; d-- > 0;) {  // odometer step
      if (++index[d] < size[d]) {
        at += stride[d];
        break;
      }
      at -= stride[d] * (size[d] - 1);
      index[d] = 0;
    }
  }
}

Tensor materialize(const TensorRecord& record, const std::string& name, const std::string& path,
                   StorageSource& source) {
  const StorageRecord& storage = record.storage->storage();
  const StorageType& st = storage_type(storage.type_name);
  BIGCOLOR_CHECK(st.type != SourceType::Unsupported, path, ": tensor '", printable(name), "' has ", storage.type_name,
                 " data, which bigcolor does not read (supported: Float, Half, BFloat16, Double, Int, Long)");
  const DType out_dtype = output_dtype(st.type);

  // The element count and the last element the view reaches, in overflow-checked arithmetic.
  std::uint64_t numel = 1;
  for (std::size_t d = 0; d < record.size.size(); ++d) {
    const bool overflow = __builtin_mul_overflow(numel, static_cast<std::uint64_t>(record.size[d]), &numel);
    BIGCOLOR_CHECK(!overflow && numel <= (std::uint64_t(1) << 40), path, ": tensor '", printable(name),
                   "' has an implausible shape ", shape_string(record.size));
  }
  if (numel == 0) return Tensor::empty(record.size, out_dtype);
  // Only a broadcast view (a zero stride) has more elements than its storage; copying one must stay modest.
  BIGCOLOR_CHECK(numel <= std::max<std::uint64_t>(static_cast<std::uint64_t>(storage.numel), kMaxBroadcastElements),
                 path, ": tensor '", printable(name), "' of shape ", shape_string(record.size),
                 " is a broadcast view too large to copy (its storage '", printable(storage.key), "' holds ",
                 storage.numel, " elements)");
  std::uint64_t last = static_cast<std::uint64_t>(record.storage_offset);
  bool overflow = false;
  for (std::size_t d = 0; d < record.size.size(); ++d) {
    std::uint64_t reach = 0;
    overflow = overflow ||
               __builtin_mul_overflow(static_cast<std::uint64_t>(record.size[d] - 1),
                                      static_cast<std::uint64_t>(record.stride[d]), &reach) ||
               __builtin_add_overflow(last, reach, &last);
  }
  BIGCOLOR_CHECK(!overflow && last < static_cast<std::uint64_t>(storage.numel), path, ": tensor '", printable(name),
                 "' (shape ", shape_string(record.size), ", stride ", shape_string(record.stride), ", offset ",
                 record.storage_offset, ") reaches past the end of its storage '", printable(storage.key), "' of ",
                 storage.numel, " elements");

  bool contiguous = true;
  std::int64_t expected = 1;
  for (std::size_t d = record.size.size(); d-- > 0;) {
    if (record.size[d] == 1) continue;  // the stride of a size-1 dimension is irrelevant
    contiguous = contiguous && record.stride[d] == expected;
    expected *= record.size[d];
  }

  Tensor out = Tensor::empty(record.size, out_dtype);
  const std::uint64_t es = st.element_size;
  const std::uint64_t first = static_cast<std::uint64_t>(record.storage_offset);
  if (contiguous && output_dtype(st.type) == out_dtype && dtype_size(out_dtype) == es) {
    source.read(storage, first * es, out.raw(), out.nbytes());  // straight into the tensor
    return out;
  }
  const std::uint64_t span = last - first + 1;
  std::vector<unsigned char> buffer(span * es);
  source.read(storage, first * es, buffer.data(), buffer.size());
  Shape stride = record.stride;
  if (contiguous) {  // a contiguous view of converted data: walk it as one flat run
    stride.assign(record.size.size(), 0);
    std::int64_t step = 1;
    for (std::size_t d = record.size.size(); d-- > 0;) {
      stride[d] = step;
      step *= record.size[d];
    }
  }
  auto load = [](const unsigned char* p, auto zero) {
    decltype(zero) v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (st.type) {
    case SourceType::F32:
      gather(buffer.data(), es, record.size, stride, out.data<float>(),
             [&](const unsigned char* p) { return load(p, 0.0f); });
      break;
    case SourceType::F16:
      gather(buffer.data(), es, record.size, stride, out.data<float>(),
             [&](const unsigned char* p) { return half_to_float(load(p, std::uint16_t(0))); });
      break;
    case SourceType::BF16:
      gather(buffer.data(), es, record.size, stride, out.data<float>(), [&](const unsigned char* p) {
        return bf16_to_float(load(p, std::uint16_t(0)));
      });
      break;
    case SourceType::F64:
      gather(buffer.data(), es, record.size, stride, out.data<float>(),
             [&](const unsigned char* p) { return static_cast<float>(load(p, 0.0)); });
      break;
    case SourceType::I32:
      gather(buffer.data(), es, record.size, stride, out.data<std::int32_t>(),
             [&](const unsigned char* p) { return load(p, std::int32_t(0)); });
      break;
    case SourceType::I64:
      gather(buffer.data(), es, record.size, stride, out.data<std::int64_t>(),
             [&](const unsigned char* p) { return load(p, std::int64_t(0)); });
      break;
    case SourceType::Unsupported: break;
  }
  return out;
}

// Walks the tree from the root, naming and materializing every tensor once.
class TensorWalker {
 public:
  TensorWalker(const std::string& path, StorageSource* source, NamedTensors& out)
      : path_(path), source_(source), out_(out) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    budget_ = kMaxMaterializedSlack + 2 * static_cast<std::uint64_t>(ec ? 0 : size);
  }

  void walk(const PickleValue& v, const std::string& name, int depth) {
    BIGCOLOR_CHECK(depth <= kMaxPickleDepth, path_, ": pickled data nested deeper than ", kMaxPickleDepth,
                   " levels (at '", printable(name), "')");
    BIGCOLOR_CHECK(name.size() <= kMaxTensorName, path_, ": a tensor name longer than ", kMaxTensorName,
                   " bytes ('", printable(name), "')");
    switch (v.kind()) {
      case Kind::List:
      case Kind::Tuple:
      case Kind::Set:
        if (!visited_.insert(&v).second) return;
        for (std::size_t i = 0; i < v.items().size(); ++i)
          walk(*v.items()[i], name + "[" + std::to_string(i) + "]", depth + 1);
        return;
      case Kind::Dict:
        if (!visited_.insert(&v).second) return;
        for (const PickleValue::Entry& e : v.entries()) {
          std::string child;
          if (e.key->is(Kind::String)) {
            child = name.empty() ? e.key->as_string() : name + "." + e.key->as_string();
          } else if (e.key->is(Kind::Int)) {
            child = name + "[" + std::to_string(e.key->as_int()) + "]";
          } else {
            child = name + "[<" + e.key->kind_name() + " key>]";
          }
          walk(*e.value, child, depth + 1);
        }
        if (v.state() != nullptr) walk(*v.state(), name, depth + 1);
        return;
      case Kind::Object:
        if (!visited_.insert(&v).second) return;
        if (v.args() != nullptr) walk(*v.args(), name + "(args)", depth + 1);
        if (v.state() != nullptr) walk(*v.state(), name, depth + 1);
        return;
      case Kind::Tensor: {
        if (!visited_.insert(&v).second) return;
        const std::string tensor_name = name.empty() ? "<root>" : name;
        BIGCOLOR_CHECK(source_ != nullptr, path_, ": tensor '", printable(tensor_name), "' in a file without storages");
        const TensorRecord& record = v.tensor_record();
        record.tensor = materialize(record, tensor_name, path_, *source_);
        materialized_ += record.tensor.nbytes();
        BIGCOLOR_CHECK(materialized_ <= budget_, path_, ": its tensors expand to more than ", budget_,
                       " bytes, over twice the file's size (many tensors viewing the same storage?), at '",
                       printable(tensor_name), "'");
        out_.emplace_back(tensor_name, record.tensor);
        return;
      }
      default: return;
    }
  }

 private:
  const std::string& path_;
  StorageSource* source_;
  NamedTensors& out_;
  std::unordered_set<const PickleValue*> visited_;
  std::uint64_t materialized_ = 0, budget_ = 0;
};

// ---- formats ----------------------------------------------------------------------------------------------------

enum class Format { Empty, Zip, Legacy, Pickle, Unknown };

// The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c (PROTO 2, LONG1 of 10 bytes).
constexpr unsigned char kLegacyPrefix[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                           0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

Format detect(const std::string& path, std::string& first_bytes) {
  std::FILE* f = open_regular_file(path);
  unsigned char head[sizeof kLegacyPrefix] = {};
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  // "50 4b 03 04": written whole, since appending piecewise trips a false -Wrestrict in GCC 12's std::string.
  char hex[16] = {};
  int written = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 4); ++i)
    written += std::snprintf(hex + written, sizeof hex - static_cast<std::size_t>(written), i ? " %02x" : "%02x",
                             head[i]);
  first_bytes.assign(hex);
  if (n == 0) return Format::Empty;
  if (n >= 4 && head[0] == 'P' && head[1] == 'K' &&
      ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
    return Format::Zip;
  if (n == sizeof kLegacyPrefix && std::memcmp(head, kLegacyPrefix, n) == 0) return Format::Legacy;
  if (head[0] == 0x80) return Format::Pickle;
  return Format::Unknown;
}

void finish(TorchFile& file, StorageSource* source) {
  TensorWalker walker(file.path, source, file.tensors);
  walker.walk(file.root(), "", 0);
}

TorchFile load_zip(const std::string& path) {
  ZipArchive archive(path);
  // The record folder: the one "<top>/data.pkl" (or a bare "data.pkl").
  const ZipArchive::Entry* pkl = nullptr;
  for (const ZipArchive::Entry& e : archive.entries()) {
    const std::size_t slash = e.name.find('/');
    const bool top_level = e.name == "data.pkl" ||
                           (slash != std::string::npos && slash > 0 && e.name.compare(slash, std::string::npos, "/data.pkl") == 0);
    if (!top_level) continue;
    BIGCOLOR_CHECK(pkl == nullptr, path, ": zip archive holds two records ('", printable(pkl ? pkl->name : ""), "' and '",
                   printable(e.name), "')");
    pkl = &e;
  }
  BIGCOLOR_CHECK(pkl != nullptr, path, ": zip archive has no <name>/data.pkl (not a torch.save checkpoint)");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
  if (const ZipArchive::Entry* order = archive.find(prefix + "byteorder")) {
    const std::string text = archive.read_all(*order, 64);
    BIGCOLOR_CHECK(text == "little", path, ": byte order '", printable(text), "' is not supported (only little-endian)");
  }

  ZipStorageSource source(archive, prefix);
  auto check = [&](const StorageRecord& r) {
    const std::string entry_name = source.entry_name(r.key);
    const ZipArchive::Entry* entry = archive.find(entry_name);
    BIGCOLOR_CHECK(entry != nullptr, path, ": storage '", printable(r.key), "' has no entry '", printable(entry_name),
                   "' in the archive");
    const std::uint64_t need = static_cast<std::uint64_t>(r.numel) * storage_type(r.type_name).element_size;
    BIGCOLOR_CHECK(entry->size == need, path, ": storage entry '", printable(entry_name), "' holds ", entry->size,
                   " bytes but its record says ", r.numel, " elements of ", r.type_name, " (", need, " bytes)");
  };
  StorageResolver resolver(path, false, check);
  UnpickleOptions options;
  options.source = path + ": " + printable(pkl->name);
  options.persistent_load = std::ref(resolver);
  const std::string bytes = archive.read_all(*pkl);

  TorchFile file;
  file.path = path;
  file.format = "zip";
  file.pickle = unpickle(bytes.data(), bytes.size(), options);
  finish(file, &source);
  return file;
}

TorchFile load_legacy(const std::string& path) {
  UnpickleOptions plain;
  plain.source = path;
  std::uint64_t pos = 0;
  Pickle magic = unpickle_file(path, pos, plain, &pos);
  BIGCOLOR_CHECK(magic.value().is(Kind::BigInt) &&
                     magic.value().as_bytes() == std::string(reinterpret_cast<const char*>(kLegacyPrefix) + 4, 10),
                 path, ": bad legacy torch.save magic number");
  Pickle protocol = unpickle_file(path, pos, plain, &pos);
  BIGCOLOR_CHECK(protocol.value().is(Kind::Int) && protocol.value().as_int() == 1001, path,
                 ": unsupported legacy torch.save protocol (expected 1001)");
  Pickle sys_info = unpickle_file(path, pos, plain, &pos);
  BIGCOLOR_CHECK(sys_info.value().is(Kind::Dict), path, ": legacy torch.save sys_info is not a dict");
  if (const PickleValue* le = sys_info.value().find("little_endian"))
    BIGCOLOR_CHECK(le->is(Kind::Bool) && le->as_bool(), path, ": big-endian checkpoints are not supported");

  StorageResolver resolver(path, true, [](const StorageRecord&) {});
  UnpickleOptions options;
  options.source = path;
  options.persistent_load = std::ref(resolver);
  TorchFile file;
  file.path = path;
  file.format = "legacy";
  file.pickle = unpickle_file(path, pos, options, &pos);
  Pickle keys = unpickle_file(path, pos, plain, &pos);
  BIGCOLOR_CHECK(keys.value().is(Kind::List), path, ": legacy torch.save storage key list is not a list");

  // The storages follow in the order of the key list, each an int64 element count and its data.
  LegacyStorageSource source(path);
  std::FILE* f = open_regular_file(path);
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  BIGCOLOR_CHECK(fseeko(f, 0, SEEK_END) == 0, path, ": cannot seek");
  const std::uint64_t file_size = static_cast<std::uint64_t>(ftello(f));
  for (const PickleValue* key_value : keys.value().items()) {
    BIGCOLOR_CHECK(key_value->is(Kind::String), path, ": legacy storage key is a ", key_value->kind_name());
    const std::string& key = key_value->as_string();
    auto it = resolver.storages().find(key);
    BIGCOLOR_CHECK(it != resolver.storages().end(), path, ": storage '", printable(key), "' is listed but never used");
    const StorageRecord& r = it->second->storage();
    BIGCOLOR_CHECK(pos <= file_size && file_size - pos >= 8, path, ": truncated: storage '", key,
                   "' header lies past the end of the file");
    unsigned char header[8];
    BIGCOLOR_CHECK(fseeko(f, static_cast<off_t>(pos), SEEK_SET) == 0 && std::fread(header, 1, 8, f) == 8, path,
                   ": read error in storage '", printable(key), "'");
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | header[i];
    BIGCOLOR_CHECK(count == static_cast<std::uint64_t>(r.numel), path, ": storage '", printable(key), "' holds ", count,
                   " elements but its record says ", r.numel);
    const std::uint64_t bytes = count * storage_type(r.type_name).element_size;
    pos += 8;
    BIGCOLOR_CHECK(bytes <= file_size - pos, path, ": truncated: storage '", printable(key), "' (", bytes,
                   " bytes) runs past the end of the file");
    BIGCOLOR_CHECK(source.data_offsets.emplace(key, pos).second, path, ": storage '", printable(key), "' is listed twice");
    pos += bytes;
  }
  finish(file, &source);
  return file;
}

TorchFile load_plain(const std::string& path) {
  UnpickleOptions options;
  options.source = path;
  TorchFile file;
  file.path = path;
  file.format = "pickle";
  file.pickle = unpickle_file(path, 0, options);
  finish(file, nullptr);
  return file;
}

TorchFile load_any(const std::string& path, bool allow_plain) {
  std::string first_bytes;
  switch (detect(path, first_bytes)) {
    case Format::Empty: detail::throw_error(path, ": empty file (not a torch.save checkpoint or a pickle)");
    case Format::Zip: return load_zip(path);
    case Format::Legacy: return load_legacy(path);
    case Format::Pickle:
      BIGCOLOR_CHECK(allow_plain, path, ": a plain pickle, not a torch.save checkpoint");
      return load_plain(path);
    case Format::Unknown: break;
  }
  detail::throw_error(path, ": not a torch.save checkpoint or a pickle (starts with bytes ", first_bytes, ")");
}

// Runs `get` on the field, prefixing any error with the context and the key.
template <typename Get>
auto typed_field(const PickleValue& container, std::string_view key, const std::string& context, Get get) {
  const PickleValue& v = pickle_field(container, key, context);
  try {
    return get(v);
  } catch (const Error& e) {
    detail::throw_error(context, ": '", printable(key), "': ", e.what());
  }
}

}  // namespace

// ---- public helpers ---------------------------------------------------------------------------------------------

const PickleValue& pickle_field(const PickleValue& container, std::string_view key, const std::string& context) {
  const PickleValue* v = nullptr;
  try {
    v = container.find(key);
  } catch (const Error& e) {
    detail::throw_error(context, ": cannot look up '", printable(key), "': ", e.what());
  }
  BIGCOLOR_CHECK(v != nullptr, context, ": no entry '", printable(key), "'");
  return *v;
}

std::int64_t pickle_int(const PickleValue& container, std::string_view key, const std::string& context) {
  return typed_field(container, key, context, [](const PickleValue& v) { return v.as_int(); });
}
double pickle_float(const PickleValue& container, std::string_view key, const std::string& context) {
  return typed_field(container, key, context, [](const PickleValue& v) { return v.as_float(); });
}
std::string pickle_string(const PickleValue& container, std::string_view key, const std::string& context) {
  return typed_field(container, key, context, [](const PickleValue& v) { return v.as_string(); });
}
bool pickle_bool(const PickleValue& container, std::string_view key, const std::string& context) {
  return typed_field(container, key, context, [](const PickleValue& v) { return v.as_bool(); });
}

bool TorchFile::has(std::string_view key) const {
  try {
    return root().find(key) != nullptr;
  } catch (const Error&) {
    return false;
  }
}
const PickleValue& TorchFile::at(std::string_view key) const { return pickle_field(root(), key, path); }
std::int64_t TorchFile::get_int(std::string_view key) const { return pickle_int(root(), key, path); }
double TorchFile::get_float(std::string_view key) const { return pickle_float(root(), key, path); }
std::string TorchFile::get_string(std::string_view key) const { return pickle_string(root(), key, path); }
bool TorchFile::get_bool(std::string_view key) const { return pickle_bool(root(), key, path); }

NamedTensors state_dict_tensors(const PickleValue& dict, const std::string& context) {
  BIGCOLOR_CHECK(dict.is(Kind::Dict), context, ": expected a state dict, found a ", dict.kind_name());
  NamedTensors out;
  out.reserve(dict.entries().size());
  for (const PickleValue::Entry& e : dict.entries()) {
    BIGCOLOR_CHECK(e.key->is(Kind::String), context, ": state dict key is a ", e.key->kind_name(), ", not a str");
    BIGCOLOR_CHECK(e.value->is(Kind::Tensor), context, ": state dict entry '", printable(e.key->as_string()), "' is a ",
                   e.value->kind_name(), ", not a tensor");
    BIGCOLOR_CHECK(e.value->tensor_record().tensor.defined(), context, ": tensor '", printable(e.key->as_string()),
                   "' was never read");
    out.emplace_back(e.key->as_string(), e.value->tensor());
  }
  return out;
}

std::vector<Tensor> tensor_list(const PickleValue& list, const std::string& context) {
  BIGCOLOR_CHECK(list.is(Kind::List) || list.is(Kind::Tuple), context, ": expected a list of tensors, found a ",
                 list.kind_name());
  std::vector<Tensor> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    BIGCOLOR_CHECK(list[i].is(Kind::Tensor), context, ": item ", i, " is a ", list[i].kind_name(), ", not a tensor");
    BIGCOLOR_CHECK(list[i].tensor_record().tensor.defined(), context, ": tensor ", i, " was never read");
    out.push_back(list[i].tensor());
  }
  return out;
}

TorchFile load_torch_state(const std::string& path) { return load_any(path, false); }
TorchFile load_pickle_file(const std::string& path) { return load_any(path, true); }

}  // namespace bigcolor
