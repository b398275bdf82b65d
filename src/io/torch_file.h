// Reading the official BigColor / BigGAN files without Python: torch.save checkpoints (EG_011.ckpt,
// EG_EMA_011.ckpt, G_ema_256.pth, D_256.pth) and plain pickles (args.pkl, config.pickle).
//
// Formats (told apart by their first bytes, whatever the file is called):
//   "zip"    torch.save since PyTorch 1.6: a STORED zip archive <top>/data.pkl, <top>/data/<key>, <top>/version,
//            ... with an arbitrary top folder name ("archive", "EG_011", ...).
//   "legacy" torch.save before PyTorch 1.6 (_use_new_zipfile_serialization=False): five pickles (magic number,
//            protocol 1001, sys_info, the object, the list of storage keys), then each storage as an 8-byte
//            little-endian element count and the raw data.
//   "pickle" pickle.dump of plain data (argparse.Namespace, dicts, the nn.ReLU in config.pickle).
// The object pickle is read by the restricted unpickler (pickle.h), which executes nothing. Each persistent id
// ('storage', torch.<T>Storage, key, location, numel) becomes a storage record, checked against the archive (the
// entry must exist and hold exactly numel elements); each _rebuild_tensor_v2 becomes a CPU Tensor:
//   - dtypes: FloatStorage -> F32; HalfStorage, BFloat16Storage -> F32 (exact); DoubleStorage -> F32 (rounded to
//     nearest: the runtime computes in F32); IntStorage -> I32; LongStorage -> I64. Short/Char/Byte/Bool storages are
//     an Error naming the tensor.
//   - storage offset, size and stride are honoured: a view is checked against its storage's bounds and copied into
//     a contiguous tensor (a non-contiguous view, e.g. a transposed or strided slice, is gathered element by element).
//   - a contiguous F32/I32/I64 tensor is read from the file straight into its own memory; a storage read whole has
//     its CRC-32 checked (zip).
// Every problem is a bigcolor::Error whose message starts with the file's path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/pickle.h"
#include "tensor/tensor.h"

namespace bigcolor {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TorchFile {
  std::string path;
  std::string format;  // "zip", "legacy" or "pickle"
  Pickle pickle;
  // Every tensor reachable from the root, named by its place in the tree ("G.blocks.0.conv1.weight",
  // "shadow_params[3]"), in the order the tree lists them. A tensor reached twice is listed once.
  NamedTensors tensors;

  const PickleValue& root() const { return pickle.value(); }

  // Entries of the root, which is a dict or an object with attributes (argparse.Namespace). Errors name the file
  // and the key: "args.pkl: 'dim_z' is a str, expected int".
  bool has(std::string_view key) const;
  const PickleValue& at(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;       // an int (not a bool)
  double get_float(std::string_view key) const;           // a float or an int
  std::string get_string(std::string_view key) const;     // a str
  bool get_bool(std::string_view key) const;              // a bool
};

// A torch.save file (zip or legacy). A plain pickle is an Error (use load_pickle_file).
TorchFile load_torch_state(const std::string& path);

// A plain pickle (pickle.dump: args.pkl, config.pickle), or a torch.save file of either format.
TorchFile load_pickle_file(const std::string& path);

// The (name, tensor) pairs of a dict whose keys are str and whose values are tensors (a state_dict), in insertion
// order. Errors start with `context` (e.g. the file's path).
NamedTensors state_dict_tensors(const PickleValue& dict, const std::string& context);
// The tensors of a list or tuple of tensors (torch_ema's shadow_params).
std::vector<Tensor> tensor_list(const PickleValue& list, const std::string& context);

// Typed lookups in a dict or an object's attributes, with errors starting with `context`.
const PickleValue& pickle_field(const PickleValue& container, std::string_view key, const std::string& context);
std::int64_t pickle_int(const PickleValue& container, std::string_view key, const std::string& context);
double pickle_float(const PickleValue& container, std::string_view key, const std::string& context);
std::string pickle_string(const PickleValue& container, std::string_view key, const std::string& context);
bool pickle_bool(const PickleValue& container, std::string_view key, const std::string& context);

}  // namespace bigcolor
