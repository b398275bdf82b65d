// The restricted unpickler. Opcode semantics follow the documentation of Python's pickletools module (the
// "pickle machine": a stack, a MARK stack and a memo); see pickle.h for what is supported.
#include "io/pickle.h"

#include <sys/types.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor {

using Kind = PickleValue::Kind;

// ---- PickleValue accessors --------------------------------------------------------------------------------------

const char* PickleValue::kind_name() const {
  switch (kind_) {
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int (beyond 64 bits)";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "Tensor";
  }
  return "?";
}

void PickleValue::type_error(const char* expected) const {
  if (kind_ == Kind::Object || kind_ == Kind::Global)
    detail::throw_error("expected ", expected, ", found ", kind_name(), " ", text_);
  detail::throw_error("expected ", expected, ", found ", kind_name());
}

bool PickleValue::as_bool() const {
  if (kind_ != Kind::Bool) type_error("bool");
  return boolean_;
}

std::int64_t PickleValue::as_int() const {
  if (kind_ == Kind::BigInt) detail::throw_error("integer does not fit in 64 bits");
  if (kind_ != Kind::Int) type_error("int");
  return integer_;
}

double PickleValue::as_float() const {
  if (kind_ == Kind::Int) return static_cast<double>(integer_);
  if (kind_ != Kind::Float) type_error("float");
  return number_;
}

const std::string& PickleValue::as_string() const {
  if (kind_ != Kind::String) type_error("str");
  return text_;
}

const std::string& PickleValue::as_bytes() const {
  if (kind_ != Kind::Bytes && kind_ != Kind::BigInt) type_error("bytes");
  return text_;
}

std::size_t PickleValue::size() const {
  if (kind_ == Kind::Dict) return entries_.size();
  if (kind_ != Kind::List && kind_ != Kind::Tuple && kind_ != Kind::Set) type_error("a container");
  return items_.size();
}

const std::vector<const PickleValue*>& PickleValue::items() const {
  if (kind_ != Kind::List && kind_ != Kind::Tuple && kind_ != Kind::Set) type_error("list, tuple or set");
  return items_;
}

const PickleValue& PickleValue::operator[](std::size_t i) const {
  const auto& all = items();
  BIGCOLOR_CHECK(i < all.size(), "index ", i, " out of range for a ", kind_name(), " of ", all.size(), " items");
  return *all[i];
}

const std::vector<PickleValue::Entry>& PickleValue::entries() const {
  if (kind_ != Kind::Dict) type_error("dict");
  return entries_;
}

const PickleValue* PickleValue::find(std::string_view key) const {
  if (kind_ == Kind::Object) {
    if (state_ == nullptr) return nullptr;
    if (state_->kind_ != Kind::Dict) detail::throw_error("object ", text_, " has no attribute dict");
    return state_->find(key);
  }
  if (kind_ != Kind::Dict) type_error("dict or object");
  if (!index_) return nullptr;
  // The same canonical form the unpickler indexes str keys by (Unpickler::key_string).
  std::string canonical = "s";
  canonical += std::to_string(key.size());
  canonical += ':';
  canonical += key;
  auto it = index_->find(canonical);
  return it == index_->end() ? nullptr : entries_[it->second].value;
}

const PickleValue& PickleValue::at(std::string_view key) const {
  const PickleValue* v = find(key);
  if (v == nullptr) detail::throw_error("no key '", printable(key), "'");
  return *v;
}

const std::string& PickleValue::class_name() const {
  if (kind_ != Kind::Global && kind_ != Kind::Object) type_error("object");
  return text_;
}

const StorageRecord& PickleValue::storage() const {
  if (kind_ != Kind::Storage) type_error("storage");
  return *storage_;
}

const TensorRecord& PickleValue::tensor_record() const {
  if (kind_ != Kind::Tensor) type_error("Tensor");
  return *tensor_;
}

const Tensor& PickleValue::tensor() const {
  const TensorRecord& r = tensor_record();
  BIGCOLOR_CHECK(r.tensor.defined(), "tensor data was never read (a pickle read without its torch archive?)");
  return r.tensor;
}

PickleValue* PickleArena::make(Kind kind) {
  values_.emplace_back(PickleValue(kind));
  return &values_.back();
}

PickleValue* PickleArena::make_storage(StorageRecord record) {
  PickleValue* v = make(Kind::Storage);
  v->storage_ = std::make_unique<StorageRecord>(std::move(record));
  return v;
}

std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (text.size() > 200) out += "...";
  return out;
}

// ---- input ------------------------------------------------------------------------------------------------------

namespace {

// The bytes of one pickle: a memory span, or a file read through a window that grows only as far as the pickle
// goes. Offsets are relative to the start of the pickle.
class Input {
 public:
  Input(const unsigned char* data, std::size_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}
  Input(std::FILE* file, std::uint64_t start, std::uint64_t size, const std::string& source)
      : file_(file), start_(start), size_(size), source_(source) {}

  std::uint64_t offset() const { return pos_; }
  std::uint64_t remaining() const { return size_ - pos_; }

  // The next n bytes (valid until the next call), or an Error when fewer remain.
  const unsigned char* take(std::uint64_t n, const char* what, std::uint64_t op_offset) {
    BIGCOLOR_CHECK(n <= remaining(), source_, ": truncated pickle: ", what, " needs ", n, " bytes but only ",
                   remaining(), " remain (at byte ", op_offset, " of the pickle)");
    const unsigned char* p;
    if (file_ == nullptr) {
      p = data_ + pos_;
    } else {
      if (pos_ < window_begin_ || pos_ + n > window_begin_ + window_.size()) {
        const std::uint64_t chunk = std::min<std::uint64_t>(remaining(), std::max<std::uint64_t>(n, 1u << 16));
        window_.resize(chunk);
        window_begin_ = pos_;
        BIGCOLOR_CHECK(fseeko(file_, static_cast<off_t>(start_ + pos_), SEEK_SET) == 0 &&
                           std::fread(window_.data(), 1, chunk, file_) == chunk,
                       source_, ": read error at byte ", start_ + pos_);
      }
      p = window_.data() + (pos_ - window_begin_);
    }
    pos_ += n;
    return p;
  }

 private:
  const unsigned char* data_ = nullptr;
  std::FILE* file_ = nullptr;
  std::uint64_t start_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t pos_ = 0;
  std::vector<unsigned char> window_;
  std::uint64_t window_begin_ = 0;
  const std::string& source_;
};

std::uint64_t read_le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Names of the opcodes, for messages (all that pickletools documents, supported or not).
const char* opcode_name(unsigned char op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

constexpr std::size_t kMaxKeyValues = 10000;  // values in one dict key or set item

// What an allowed global stands for.
enum class GlobalRole : std::int64_t {
  OrderedDict, Set, FrozenSet, CodecsEncode, RebuildTensorV2, RebuildTensor, RebuildParameter,
  RebuildParameterWithState, StorageType, OpaqueClass, OpaqueFactory
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  GlobalRole role;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", GlobalRole::OrderedDict},
    {"builtins", "set", GlobalRole::Set},
    {"__builtin__", "set", GlobalRole::Set},
    {"builtins", "frozenset", GlobalRole::FrozenSet},
    {"__builtin__", "frozenset", GlobalRole::FrozenSet},
    {"_codecs", "encode", GlobalRole::CodecsEncode},
    {"torch._utils", "_rebuild_tensor_v2", GlobalRole::RebuildTensorV2},
    {"torch._utils", "_rebuild_tensor", GlobalRole::RebuildTensor},
    {"torch._utils", "_rebuild_parameter", GlobalRole::RebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalRole::RebuildParameterWithState},
    {"torch", "FloatStorage", GlobalRole::StorageType},
    {"torch", "HalfStorage", GlobalRole::StorageType},
    {"torch", "BFloat16Storage", GlobalRole::StorageType},
    {"torch", "DoubleStorage", GlobalRole::StorageType},
    {"torch", "IntStorage", GlobalRole::StorageType},
    {"torch", "LongStorage", GlobalRole::StorageType},
    {"torch", "ShortStorage", GlobalRole::StorageType},
    {"torch", "CharStorage", GlobalRole::StorageType},
    {"torch", "ByteStorage", GlobalRole::StorageType},
    {"torch", "BoolStorage", GlobalRole::StorageType},
    {"argparse", "Namespace", GlobalRole::OpaqueClass},
    {"torch.nn.modules.activation", "ReLU", GlobalRole::OpaqueClass},
    {"torch.nn.backends.thnn", "_get_thnn_function_backend", GlobalRole::OpaqueFactory},
};

}  // namespace

// ---- the pickle machine -----------------------------------------------------------------------------------------

class Unpickler {
 public:
  Unpickler(Input& in, const UnpickleOptions& options, PickleArena& arena)
      : in_(in), options_(options), arena_(arena) {}

  const PickleValue* run();

 private:
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    detail::throw_error(options_.source, ": ", parts..., " (at byte ", op_offset_, " of the pickle)");
  }

  PickleValue* make(Kind kind) {
    if (arena_.count() >= kMaxPickleValues) fail("pickle creates more than ", kMaxPickleValues, " values (limit)");
    return arena_.make(kind);
  }
  void push(const PickleValue* v) {
    if (stack_.size() >= kMaxPickleStack) fail("pickle stack exceeds ", kMaxPickleStack, " entries (limit)");
    stack_.push_back(const_cast<PickleValue*>(v));
  }
  PickleValue* pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow in ", op_name_);
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow in ", op_name_);
    return stack_.back();
  }
  std::vector<const PickleValue*> pop_mark() {
    if (marks_.empty()) fail(op_name_, " without a MARK");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<const PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  const unsigned char* take(std::uint64_t n) { return in_.take(n, op_name_, op_offset_); }
  std::uint64_t take_uint(int bytes) { return read_le(take(static_cast<std::uint64_t>(bytes)), bytes); }

  PickleValue* make_int(std::int64_t v) {
    PickleValue* p = make(Kind::Int);
    p->integer_ = v;
    return p;
  }
  PickleValue* make_long(const unsigned char* bytes, std::uint64_t n);
  PickleValue* make_text(Kind kind, std::uint64_t n) {
    const unsigned char* p = take(n);
    PickleValue* v = make(kind);
    v->text_.assign(reinterpret_cast<const char*>(p), n);
    return v;
  }
  std::string read_line();
  PickleValue* make_global(const std::string& module, const std::string& name);
  void set_memo(std::uint64_t index);
  void get_memo(std::uint64_t index);

  // Hashable keys (str, bytes, numbers, None, tuples of those, objects by identity) as canonical strings.
  // `budget` counts the values visited, so a key built from shared tuples cannot expand exponentially.
  bool key_string(const PickleValue& v, std::string& out, int depth, std::size_t& budget) const;
  void dict_set(PickleValue* dict, const PickleValue* key, const PickleValue* value);
  void set_add(PickleValue* set, const PickleValue* item);

  PickleValue* call(PickleValue* callable, PickleValue* args);
  PickleValue* instantiate(PickleValue* cls, PickleValue* args);
  PickleValue* rebuild_tensor(const std::vector<const PickleValue*>& a, bool v2);
  void build(PickleValue* target, PickleValue* state);

  Input& in_;
  const UnpickleOptions& options_;
  PickleArena& arena_;
  std::vector<PickleValue*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleValue*> memo_;
  std::uint64_t op_offset_ = 0;
  const char* op_name_ = "";
};

PickleValue* Unpickler::make_long(const unsigned char* bytes, std::uint64_t n) {
  // Little-endian two's complement. It fits in 64 bits when every byte beyond the eighth repeats the sign.
  bool fits = true;
  if (n > 8) {
    const unsigned char sign = (bytes[7] & 0x80) ? 0xFF : 0x00;
    for (std::uint64_t i = 8; i < n; ++i) fits = fits && bytes[i] == sign;
  }
  if (!fits) {
    PickleValue* v = make(Kind::BigInt);
    v->text_.assign(reinterpret_cast<const char*>(bytes), n);
    return v;
  }
  const int used = static_cast<int>(std::min<std::uint64_t>(n, 8));
  std::uint64_t u = used ? read_le(bytes, used) : 0;
  if (used > 0 && used < 8 && (bytes[used - 1] & 0x80)) u |= ~std::uint64_t(0) << (8 * used);  // sign-extend
  return make_int(static_cast<std::int64_t>(u));
}

std::string Unpickler::read_line() {
  std::string line;
  for (;;) {
    const char c = static_cast<char>(*take(1));
    if (c == '\n') return line;
    if (line.size() >= 256) fail("GLOBAL name longer than 256 characters");
    line.push_back(c);
  }
}

PickleValue* Unpickler::make_global(const std::string& module, const std::string& name) {
  for (const AllowedGlobal& g : kAllowedGlobals) {
    if (module == g.module && name == g.name) {
      PickleValue* v = make(Kind::Global);
      v->text_ = module + "." + name;
      v->integer_ = static_cast<std::int64_t>(g.role);
      return v;
    }
  }
  fail("unsupported pickle global '", printable(module), ".", printable(name),
       "' (only plain data, tensors and a few known classes are read)");
}

void Unpickler::set_memo(std::uint64_t index) {
  PickleValue* v = top();
  auto it = memo_.find(index);
  if (it != memo_.end()) {
    it->second = v;
    return;
  }
  if (memo_.size() >= kMaxPickleMemo) fail("pickle memo exceeds ", kMaxPickleMemo, " entries (limit)");
  memo_.emplace(index, v);
}

void Unpickler::get_memo(std::uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail(op_name_, " of memo entry ", index, ", which was never stored");
  push(it->second);
}

bool Unpickler::key_string(const PickleValue& v, std::string& out, int depth, std::size_t& budget) const {
  if (depth > kMaxPickleDepth) fail("dict key nested deeper than ", kMaxPickleDepth, " levels");
  if (budget == 0 || out.size() > (1u << 20)) fail("dict key or set item too large to compare (limit)");
  --budget;
  switch (v.kind_) {
    case Kind::None: out += 'N'; return true;
    case Kind::Bool: out += "i" + std::to_string(v.boolean_ ? 1 : 0) + ";"; return true;  // True == 1 in Python
    case Kind::Int: out += "i" + std::to_string(v.integer_) + ";"; return true;
    case Kind::Float: {
      const double d = v.number_;
      if (d > -9.2e18 && d < 9.2e18 && d == static_cast<double>(static_cast<std::int64_t>(d))) {
        out += "i" + std::to_string(static_cast<std::int64_t>(d)) + ";";  // 2.0 == 2 in Python
      } else {
        out += "f" + std::to_string(std::bit_cast<std::uint64_t>(d)) + ";";
      }
      return true;
    }
    case Kind::BigInt: out += "I" + std::to_string(v.text_.size()) + ":" + v.text_; return true;
    case Kind::String: out += "s" + std::to_string(v.text_.size()) + ":" + v.text_; return true;
    case Kind::Bytes: out += "b" + std::to_string(v.text_.size()) + ":" + v.text_; return true;
    case Kind::Tuple:
      out += "t" + std::to_string(v.items_.size()) + "(";
      for (const PickleValue* item : v.items_)
        if (!key_string(*item, out, depth + 1, budget)) return false;
      out += ")";
      return true;
    case Kind::Global:
    case Kind::Object:
    case Kind::Storage:
    case Kind::Tensor: {
      std::ostringstream s;
      s << "@" << static_cast<const void*>(&v) << ";";  // hashed by identity, as Python objects are by default
      out += s.str();
      return true;
    }
    case Kind::List:
    case Kind::Dict:
    case Kind::Set: return false;
  }
  return false;
}

void Unpickler::dict_set(PickleValue* dict, const PickleValue* key, const PickleValue* value) {
  if (dict->kind_ != Kind::Dict) fail(op_name_, " on a ", dict->kind_name(), ", not a dict");
  std::string k;
  std::size_t budget = kMaxKeyValues;
  if (!key_string(*key, k, 0, budget)) fail("unhashable dict key of type ", key->kind_name());
  if (!dict->index_) dict->index_ = std::make_unique<std::unordered_map<std::string, std::size_t>>();
  auto [it, inserted] = dict->index_->emplace(std::move(k), dict->entries_.size());
  if (inserted) {
    dict->entries_.push_back({key, value});
  } else {
    dict->entries_[it->second].value = value;  // a repeated key keeps its first position, as in Python
  }
}

void Unpickler::set_add(PickleValue* set, const PickleValue* item) {
  if (set->kind_ != Kind::Set) fail(op_name_, " on a ", set->kind_name(), ", not a set");
  std::string k;
  std::size_t budget = kMaxKeyValues;
  if (!key_string(*item, k, 0, budget)) fail("unhashable set item of type ", item->kind_name());
  if (!set->index_) set->index_ = std::make_unique<std::unordered_map<std::string, std::size_t>>();
  if (set->index_->emplace(std::move(k), set->items_.size()).second) set->items_.push_back(item);
}

PickleValue* Unpickler::rebuild_tensor(const std::vector<const PickleValue*>& a, bool v2) {
  const char* fn = v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor";
  const std::size_t n = a.size();
  if (v2 ? (n != 6 && n != 7) : n != 4) fail(fn, " called with ", n, " arguments");
  if (a[0]->kind_ != Kind::Storage) fail(fn, ": first argument is a ", a[0]->kind_name(), ", not a storage");
  auto ints = [&](const PickleValue* t, const char* what) {
    if (t->kind_ != Kind::Tuple) fail(fn, ": ", what, " is a ", t->kind_name(), ", not a tuple");
    if (t->items_.size() > 64) fail(fn, ": ", what, " has ", t->items_.size(), " dimensions (limit 64)");
    Shape out;
    for (const PickleValue* d : t->items_) {
      if (d->kind_ != Kind::Int || d->integer_ < 0) fail(fn, ": ", what, " holds a non-integer or negative value");
      out.push_back(d->integer_);
    }
    return out;
  };
  auto record = std::make_unique<TensorRecord>();
  record->storage = a[0];
  if (a[1]->kind_ != Kind::Int || a[1]->integer_ < 0) fail(fn, ": storage offset is not a non-negative int");
  record->storage_offset = a[1]->integer_;
  record->size = ints(a[2], "size");
  record->stride = ints(a[3], "stride");
  if (record->size.size() != record->stride.size())
    fail(fn, ": size ", shape_string(record->size), " and stride ", shape_string(record->stride),
         " differ in length");
  if (v2) {
    if (a[4]->kind_ != Kind::Bool) fail(fn, ": requires_grad is a ", a[4]->kind_name(), ", not a bool");
    record->requires_grad = a[4]->boolean_;
    if (a[5]->kind_ != Kind::Dict && a[5]->kind_ != Kind::None)
      fail(fn, ": backward_hooks is a ", a[5]->kind_name(), ", not a dict");
    if (n == 7 && a[6]->kind_ != Kind::Dict && a[6]->kind_ != Kind::None)
      fail(fn, ": metadata is a ", a[6]->kind_name(), ", not a dict");
  }
  PickleValue* v = make(Kind::Tensor);
  v->tensor_ = std::move(record);
  return v;
}

PickleValue* Unpickler::call(PickleValue* callable, PickleValue* args) {
  if (callable->kind_ != Kind::Global) fail("REDUCE of a ", callable->kind_name(), ", not an allowed global");
  if (args->kind_ != Kind::Tuple) fail("REDUCE arguments are a ", args->kind_name(), ", not a tuple");
  const auto& a = args->items_;
  const std::string& name = callable->text_;
  switch (static_cast<GlobalRole>(callable->integer_)) {
    case GlobalRole::OrderedDict: {
      PickleValue* dict = make(Kind::Dict);
      if (a.size() > 1) fail(name, " called with ", a.size(), " arguments");
      if (a.size() == 1) {
        const PickleValue* pairs = a[0];
        if (pairs->kind_ != Kind::List && pairs->kind_ != Kind::Tuple)
          fail(name, " called with a ", pairs->kind_name(), ", not a list of pairs");
        for (const PickleValue* pair : pairs->items_) {
          if ((pair->kind_ != Kind::List && pair->kind_ != Kind::Tuple) || pair->items_.size() != 2)
            fail(name, " called with an item that is not a pair");
          dict_set(dict, pair->items_[0], pair->items_[1]);
        }
      }
      return dict;
    }
    case GlobalRole::Set:
    case GlobalRole::FrozenSet: {
      PickleValue* set = make(Kind::Set);
      if (a.size() > 1) fail(name, " called with ", a.size(), " arguments");
      if (a.size() == 1) {
        const PickleValue* src = a[0];
        if (src->kind_ != Kind::List && src->kind_ != Kind::Tuple && src->kind_ != Kind::Set)
          fail(name, " called with a ", src->kind_name(), ", not a list");
        for (const PickleValue* item : src->items_) set_add(set, item);
      }
      return set;
    }
    case GlobalRole::CodecsEncode: {
      if (a.size() != 2 || a[0]->kind_ != Kind::String || a[1]->kind_ != Kind::String)
        fail(name, " needs (str, encoding)");
      if (a[1]->text_ != "latin1" && a[1]->text_ != "latin-1")
        fail(name, " with encoding '", printable(a[1]->text_), "' (only latin1 is supported)");
      // UTF-8 text whose code points are all below 256 -> one byte each.
      PickleValue* bytes = make(Kind::Bytes);
      const std::string& s = a[0]->text_;
      for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
          bytes->text_.push_back(static_cast<char>(c));
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
          bytes->text_.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
          ++i;
        } else {
          fail(name, ": text has a character outside latin1");
        }
      }
      return bytes;
    }
    case GlobalRole::RebuildTensorV2: return rebuild_tensor(a, true);
    case GlobalRole::RebuildTensor: return rebuild_tensor(a, false);
    case GlobalRole::RebuildParameter:
    case GlobalRole::RebuildParameterWithState: {
      const bool with_state = static_cast<GlobalRole>(callable->integer_) == GlobalRole::RebuildParameterWithState;
      if (a.size() != (with_state ? 4u : 3u)) fail(name, " called with ", a.size(), " arguments");
      if (a[0]->kind_ != Kind::Tensor) fail(name, ": data is a ", a[0]->kind_name(), ", not a tensor");
      if (a[1]->kind_ != Kind::Bool) fail(name, ": requires_grad is a ", a[1]->kind_name(), ", not a bool");
      PickleValue* tensor = const_cast<PickleValue*>(a[0]);
      tensor->tensor_->parameter = true;
      tensor->tensor_->requires_grad = a[1]->boolean_;
      return tensor;
    }
    case GlobalRole::StorageType: fail("cannot call ", name, " (a storage type is only valid in a persistent id)");
    case GlobalRole::OpaqueClass:
    case GlobalRole::OpaqueFactory: {
      PickleValue* obj = make(Kind::Object);
      obj->text_ = name;
      obj->args_ = args;
      return obj;
    }
  }
  fail("internal error: unknown global role");
}

PickleValue* Unpickler::instantiate(PickleValue* cls, PickleValue* args) {
  if (cls->kind_ != Kind::Global) fail(op_name_, " of a ", cls->kind_name(), ", not an allowed class");
  if (args->kind_ != Kind::Tuple) fail(op_name_, " arguments are a ", args->kind_name(), ", not a tuple");
  const auto role = static_cast<GlobalRole>(cls->integer_);
  if (role == GlobalRole::OrderedDict) return make(Kind::Dict);  // cls.__new__(cls): an empty dict
  if (role != GlobalRole::OpaqueClass) fail(op_name_, " of ", cls->text_, ", which is not a class");
  PickleValue* obj = make(Kind::Object);
  obj->text_ = cls->text_;
  obj->args_ = args;
  return obj;
}

void Unpickler::build(PickleValue* target, PickleValue* state) {
  switch (target->kind_) {
    case Kind::Object:
    case Kind::Dict:  // an OrderedDict's instance attributes, e.g. a state_dict's _metadata
      if (target->state_ != nullptr) fail("BUILD applied twice to one ", target->kind_name());
      target->state_ = state;
      return;
    default: fail("BUILD on a ", target->kind_name(), ", which has no state");
  }
}

const PickleValue* Unpickler::run() {
  for (;;) {
    op_offset_ = in_.offset();
    op_name_ = "opcode";
    const unsigned char op = *take(1);
    const char* name = opcode_name(op);
    op_name_ = name ? name : "opcode";
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned v = *take(1);
        if (v > 5) fail("unsupported pickle protocol ", v, " (2 to 5 are supported)");
        break;
      }
      case 0x95: {  // FRAME: a length hint; the bytes it announces must exist
        const std::uint64_t n = take_uint(8);
        if (n > in_.remaining()) fail("truncated pickle: FRAME of ", n, " bytes but only ", in_.remaining(), " remain");
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty()) fail("STOP with an open MARK");
        if (stack_.empty()) fail("STOP with an empty stack");
        return stack_.back();
      }
      case '(':  // MARK
        if (marks_.size() >= kMaxPickleMarks) fail("MARKs nested deeper than ", kMaxPickleMarks, " (limit)");
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP (of an item, or of a MARK when the stack above it is empty)
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();
        } else {
          pop();
        }
        break;
      case '1': pop_mark(); break;  // POP_MARK
      case '2': push(top()); break;  // DUP
      case 'N': push(make(Kind::None)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        PickleValue* v = make(Kind::Bool);
        v->boolean_ = op == 0x88;
        push(v);
        break;
      }
      case 'J': push(make_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(take_uint(4))))); break;
      case 'K': push(make_int(static_cast<std::int64_t>(take_uint(1)))); break;
      case 'M': push(make_int(static_cast<std::int64_t>(take_uint(2)))); break;
      case 0x8a: {  // LONG1
        const std::uint64_t n = take_uint(1);
        push(make_long(take(n), n));
        break;
      }
      case 0x8b: {  // LONG4
        const std::int32_t n = static_cast<std::int32_t>(static_cast<std::uint32_t>(take_uint(4)));
        if (n < 0) fail("LONG4 with a negative length");
        push(make_long(take(static_cast<std::uint64_t>(n)), static_cast<std::uint64_t>(n)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const unsigned char* p = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        PickleValue* v = make(Kind::Float);
        v->number_ = std::bit_cast<double>(bits);
        push(v);
        break;
      }
      case 'U': push(make_text(Kind::String, take_uint(1))); break;   // SHORT_BINSTRING (Python 2 str)
      case 'T': {  // BINSTRING (Python 2 str): a signed 4-byte length
        const std::int32_t n = static_cast<std::int32_t>(static_cast<std::uint32_t>(take_uint(4)));
        if (n < 0) fail("BINSTRING with a negative length");
        push(make_text(Kind::String, static_cast<std::uint64_t>(n)));
        break;
      }
      case 0x8c: push(make_text(Kind::String, take_uint(1))); break;  // SHORT_BINUNICODE
      case 'X': push(make_text(Kind::String, take_uint(4))); break;   // BINUNICODE
      case 0x8d: push(make_text(Kind::String, take_uint(8))); break;  // BINUNICODE8
      case 'C': push(make_text(Kind::Bytes, take_uint(1))); break;    // SHORT_BINBYTES
      case 'B': push(make_text(Kind::Bytes, take_uint(4))); break;    // BINBYTES
      case 0x8e:                                                      // BINBYTES8
      case 0x96: push(make_text(Kind::Bytes, take_uint(8))); break;   // BYTEARRAY8
      case '}': push(make(Kind::Dict)); break;
      case ']': push(make(Kind::List)); break;
      case ')': push(make(Kind::Tuple)); break;
      case 0x8f: push(make(Kind::Set)); break;  // EMPTY_SET
      case 'd': {  // DICT
        std::vector<const PickleValue*> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        PickleValue* dict = make(Kind::Dict);
        for (std::size_t i = 0; i < items.size(); i += 2) dict_set(dict, items[i], items[i + 1]);
        push(dict);
        break;
      }
      case 'l':    // LIST
      case 't': {  // TUPLE
        std::vector<const PickleValue*> items = pop_mark();
        PickleValue* v = make(op == 'l' ? Kind::List : Kind::Tuple);
        v->items_ = std::move(items);
        push(v);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84u;
        std::vector<const PickleValue*> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        PickleValue* v = make(Kind::Tuple);
        v->items_ = std::move(items);
        push(v);
        break;
      }
      case 0x91: {  // FROZENSET
        std::vector<const PickleValue*> items = pop_mark();
        PickleValue* set = make(Kind::Set);
        for (const PickleValue* item : items) set_add(set, item);
        push(set);
        break;
      }
      case 0x90: {  // ADDITEMS
        std::vector<const PickleValue*> items = pop_mark();
        PickleValue* set = top();
        for (const PickleValue* item : items) set_add(set, item);
        break;
      }
      case 'a': {  // APPEND
        const PickleValue* item = pop();
        PickleValue* list = top();
        if (list->kind_ != Kind::List) fail("APPEND to a ", list->kind_name(), ", not a list");
        list->items_.push_back(item);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<const PickleValue*> items = pop_mark();
        PickleValue* list = top();
        if (list->kind_ != Kind::List) fail("APPENDS to a ", list->kind_name(), ", not a list");
        list->items_.insert(list->items_.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        const PickleValue* value = pop();
        const PickleValue* key = pop();
        dict_set(top(), key, value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<const PickleValue*> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        PickleValue* dict = top();
        for (std::size_t i = 0; i < items.size(); i += 2) dict_set(dict, items[i], items[i + 1]);
        break;
      }
      case 'q': set_memo(take_uint(1)); break;  // BINPUT
      case 'r': set_memo(take_uint(4)); break;  // LONG_BINPUT
      case 0x94: set_memo(memo_.size()); break;  // MEMOIZE
      case 'h': get_memo(take_uint(1)); break;  // BINGET
      case 'j': get_memo(take_uint(4)); break;  // LONG_BINGET
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = read_line();
        std::string global_name = read_line();
        push(make_global(module, global_name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const PickleValue* global_name = pop();
        const PickleValue* module = pop();
        if (module->kind_ != Kind::String || global_name->kind_ != Kind::String)
          fail("STACK_GLOBAL with non-string module or name");
        push(make_global(module->text_, global_name->text_));
        break;
      }
      case 'R': {  // REDUCE
        PickleValue* args = pop();
        PickleValue* callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        PickleValue* args = pop();
        PickleValue* cls = pop();
        push(instantiate(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        PickleValue* kwargs = pop();
        PickleValue* args = pop();
        PickleValue* cls = pop();
        if (kwargs->kind_ != Kind::Dict || !kwargs->entries_.empty()) fail("NEWOBJ_EX with keyword arguments");
        push(instantiate(cls, args));
        break;
      }
      case 'b': {  // BUILD
        PickleValue* state = pop();
        build(top(), state);
        break;
      }
      case 'Q': {  // BINPERSID
        PickleValue* pid = pop();
        if (!options_.persistent_load)
          fail("persistent id in a plain pickle (a torch.save record read without its archive?)");
        const PickleValue* v = options_.persistent_load(arena_, *pid);
        if (arena_.count() > kMaxPickleValues) fail("pickle creates more than ", kMaxPickleValues, " values (limit)");
        push(v);
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        if (name != nullptr) fail("unsupported pickle opcode ", hex, " (", name, ")");
        fail("unknown pickle opcode ", hex, " (not a pickle, or a corrupt one)");
      }
    }
  }
}

// ---- entry points -----------------------------------------------------------------------------------------------

Pickle unpickle(const void* data, std::size_t size, const UnpickleOptions& options, std::size_t* consumed) {
  Input in(static_cast<const unsigned char*>(data), size, options.source);
  Pickle result;
  result.arena = std::make_shared<PickleArena>();
  Unpickler unpickler(in, options, *result.arena);
  result.root = unpickler.run();
  if (consumed != nullptr) *consumed = static_cast<std::size_t>(in.offset());
  return result;
}

Pickle unpickle_file(const std::string& path, std::uint64_t offset, const UnpickleOptions& options,
                     std::uint64_t* end) {
  std::FILE* file = open_regular_file(path);
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{file};
  BIGCOLOR_CHECK(fseeko(file, 0, SEEK_END) == 0, path, ": cannot seek");
  const off_t file_size = ftello(file);
  BIGCOLOR_CHECK(file_size >= 0 && offset <= static_cast<std::uint64_t>(file_size), path, ": offset ", offset,
                 " lies past the end of the file");
  Input in(file, offset, static_cast<std::uint64_t>(file_size) - offset, options.source);
  Pickle result;
  result.arena = std::make_shared<PickleArena>();
  Unpickler unpickler(in, options, *result.arena);
  result.root = unpickler.run();
  if (end != nullptr) *end = offset + in.offset();
  return result;
}

}  // namespace bigcolor
