// A restricted unpickler: reads the pickles that torch.save and pickle.dump write (protocols 2 to 5) into a tree of
// PickleValues, and executes nothing.
//
// Python's unpickler calls whatever a GLOBAL opcode names. This one knows a short allow-list of globals and builds
// data for them instead of calling anything:
//   collections.OrderedDict                      -> a Dict (with the BUILD state, e.g. a state_dict's _metadata)
//   builtins.set / frozenset (also __builtin__)  -> a Set
//   _codecs.encode(str, 'latin1')                -> Bytes (how protocol 2 spells bytes)
//   torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter, _rebuild_parameter_with_state
//                                                -> a Tensor record (storage, offset, size, stride)
//   torch.{Float,Half,BFloat16,Double,Int,Long,Short,Char,Byte,Bool}Storage
//                                                -> storage types, only meaningful inside persistent ids
//   argparse.Namespace, torch.nn.modules.activation.ReLU, torch.nn.backends.thnn._get_thnn_function_backend
//                                                -> an opaque Object {class name, args, BUILD state}
// (A pickled nn.ReLU() references ReLU, collections.OrderedDict for its hook dicts and builtins.set for
// _non_persistent_buffers_set; PyTorch before 1.5 also pickled a `_backend` made by _get_thnn_function_backend.)
// Any other global is an Error naming it ("unsupported pickle global 'os.system'").
//
// Supported opcodes: PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1
// LONG4 BINFLOAT SHORT_BINUNICODE BINUNICODE BINUNICODE8 SHORT_BINBYTES BINBYTES BINBYTES8 BYTEARRAY8
// SHORT_BINSTRING BINSTRING EMPTY_DICT DICT EMPTY_LIST LIST EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_SET
// ADDITEMS FROZENSET APPEND APPENDS SETITEM SETITEMS BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET GLOBAL
// STACK_GLOBAL REDUCE BUILD NEWOBJ NEWOBJ_EX BINPERSID. SHORT_BINSTRING and BINSTRING, Python 2's str (torch.save
// under Python 2 wrote them: lpips' lin weights, lpips/weights/v0.1/*.pth), are read as str, as torch.load's default
// encoding='utf-8' reads them. The text opcodes of protocols 0 and 1 (INT, STRING, GET, PUT, INST, OBJ, PERSID,
// ...), extension codes and out-of-band buffers are an Error naming the opcode and its offset; an unknown byte is
// an Error giving the byte and its offset.
//
// Nothing is trusted: every length is checked against the bytes that remain before anything is allocated, and the
// stack, the memo, the MARK nesting and the number of values are bounded (limits below), so a hostile pickle ends in
// an Error, never in a crash or an unbounded allocation. Values are owned by an arena and referenced by pointers,
// so self-referencing containers (legal in pickles) cannot leak.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor {

inline constexpr std::size_t kMaxPickleValues = 4u << 20;  // values created by one pickle
inline constexpr std::size_t kMaxPickleStack = 4u << 20;   // entries on the stack
inline constexpr std::size_t kMaxPickleMemo = 4u << 20;    // memo entries
inline constexpr std::size_t kMaxPickleMarks = 10000;      // MARK nesting
inline constexpr int kMaxPickleDepth = 200;                // nesting of values walked recursively (tuple keys, trees)

class PickleValue;

// What a persistent id ('storage', torch.FloatStorage, key, location, numel) resolved to.
struct StorageRecord {
  std::string type_name;  // "FloatStorage", "HalfStorage", ...
  std::string key;        // the archive's data/<key> entry, or the legacy file's storage key
  std::string location;   // "cpu", "cuda:0", ... (everything is loaded to the CPU)
  std::int64_t numel = 0;
};

// What _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// described. `tensor` is filled by the torch file reader (torch_file.h) once the storage data is read.
struct TensorRecord {
  const PickleValue* storage = nullptr;  // a Storage value
  std::int64_t storage_offset = 0;       // in elements
  Shape size;
  Shape stride;                          // in elements
  bool requires_grad = false;
  bool parameter = false;                // came through _rebuild_parameter (an nn.Parameter)
  mutable Tensor tensor;                 // a contiguous CPU tensor, once materialized
};

class PickleValue {
 public:
  enum class Kind : std::uint8_t {
    None, Bool, Int, BigInt, Float, String, Bytes, List, Tuple, Dict, Set, Global, Object, Storage, Tensor
  };
  struct Entry {
    const PickleValue* key;
    const PickleValue* value;
  };

  Kind kind() const { return kind_; }
  const char* kind_name() const;  // Python's spelling: "NoneType", "int", "str", "list", "dict", "Tensor", ...
  bool is(Kind k) const { return kind_ == k; }
  bool is_none() const { return kind_ == Kind::None; }

  // Scalars: an Error ("expected int, found str") when the kind does not match.
  bool as_bool() const;                  // Bool only
  std::int64_t as_int() const;           // Int only (a BigInt is an Error: it does not fit in 64 bits)
  double as_float() const;               // Float, or Int converted
  const std::string& as_string() const;  // String (UTF-8)
  const std::string& as_bytes() const;   // Bytes; for BigInt, its little-endian two's complement bytes

  // Containers.
  std::size_t size() const;                               // List/Tuple/Set items, Dict entries
  const std::vector<const PickleValue*>& items() const;   // List, Tuple, Set (insertion order)
  const PickleValue& operator[](std::size_t i) const;     // List, Tuple, Set; Error when out of range
  const std::vector<Entry>& entries() const;              // Dict, in insertion order
  // A Dict's value under a str key, or an Object's attribute (the key of its dict state, as for an
  // argparse.Namespace). Null when absent; an Error for other kinds.
  const PickleValue* find(std::string_view key) const;
  const PickleValue& at(std::string_view key) const;  // Error naming the key when absent

  // Global and Object: "module.name", e.g. "argparse.Namespace".
  const std::string& class_name() const;
  const PickleValue* args() const { return args_; }    // Object: the constructor arguments (a Tuple), or null
  const PickleValue* state() const { return state_; }  // Object, Dict: what BUILD gave it, or null

  const StorageRecord& storage() const;  // Storage
  const TensorRecord& tensor_record() const;  // Tensor
  const Tensor& tensor() const;  // Tensor: the materialized tensor (Error when it was never read)

 private:
  friend class PickleArena;
  friend class Unpickler;
  explicit PickleValue(Kind kind) : kind_(kind) {}
  [[noreturn]] void type_error(const char* expected) const;

  Kind kind_;
  bool boolean_ = false;
  std::int64_t integer_ = 0;
  double number_ = 0.0;
  std::string text_;  // str, bytes, BigInt bytes, Global/Object class name
  std::vector<const PickleValue*> items_;
  std::vector<Entry> entries_;
  std::unique_ptr<std::unordered_map<std::string, std::size_t>> index_;  // Dict/Set: hashable key -> position
  const PickleValue* args_ = nullptr;
  const PickleValue* state_ = nullptr;
  std::unique_ptr<StorageRecord> storage_;
  std::unique_ptr<TensorRecord> tensor_;
};

// Owns every value of one pickle.
class PickleArena {
 public:
  PickleValue* make(PickleValue::Kind kind);
  PickleValue* make_storage(StorageRecord record);
  std::size_t count() const { return values_.size(); }

 private:
  std::deque<PickleValue> values_;
};

// One unpickled object: the root value and the arena that keeps it alive.
struct Pickle {
  std::shared_ptr<PickleArena> arena;
  const PickleValue* root = nullptr;
  const PickleValue& value() const { return *root; }
};

// Resolves a persistent id (the value BINPERSID popped) to a value made in `arena`; throws Error to refuse it.
using PersistentLoad = std::function<const PickleValue*(PickleArena& arena, const PickleValue& pid)>;

struct UnpickleOptions {
  std::string source;               // for messages: "file.pkl" or "file.pt: archive/data.pkl"
  PersistentLoad persistent_load;   // null: a persistent id is an Error
};

// File-provided text (names, keys) made safe for a one-line message: bytes outside printable ASCII and backslashes
// are escaped as \xNN, and text beyond 200 bytes is cut short with "...".
std::string printable(std::string_view text);

// Unpickles one pickle from memory. `consumed`, when given, receives the number of bytes up to and including STOP.
Pickle unpickle(const void* data, std::size_t size, const UnpickleOptions& options, std::size_t* consumed = nullptr);

// Unpickles one pickle that starts at `offset` in a file, reading only as much as the pickle needs; `end`, when
// given, receives the offset just after its STOP (where the next pickle or data begins).
Pickle unpickle_file(const std::string& path, std::uint64_t offset, const UnpickleOptions& options,
                     std::uint64_t* end = nullptr);

}  // namespace bigcolor
