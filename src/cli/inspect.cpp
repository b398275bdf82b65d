// `bigcolor inspect FILE_OR_DIR`: what a weights file or checkpoint folder holds, on stdout.
//   - .safetensors (recognized by its header, whatever the name): metadata, every tensor (name, dtype, shape), and
//     the colorizer configuration when the file is one of ours;
//   - torch.save archives (.pth/.ckpt, zip or legacy format): a state dict as its tensors; torch_ema's dict as its
//     decay, num_updates and shadow parameters; anything else as a tree;
//   - plain pickles (args.pkl, config.pickle): the values as a tree (argparse.Namespace attributes, dict entries);
//   - an official checkpoint folder: its files, the epochs present, and the ColorizerConfig its pickles describe.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/inspect.h"
#include "cli/common.h"
#include "tensor/files.h"
#include "io/torch_file.h"
#include "models/checkpoint.h"
#include "tensor/safetensors.h"

namespace bigcolor::cli {
namespace {

namespace fs = std::filesystem;
using Kind = PickleValue::Kind;

// The shortest text that reads back as the same value (Python's repr for a double).
template <typename T>
std::string float_text(T v) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string s(buffer, result.ptr);
  if (s.find_first_of(".enai") == std::string::npos) s += ".0";  // Python's repr of an integral float
  return s;
}

std::string tensor_text(const Tensor& t, const std::string& storage_type = "") {
  std::string s = std::string(dtype_name(t.dtype())) + " " + shape_string(t.shape());
  if (storage_type == "HalfStorage" || storage_type == "BFloat16Storage" || storage_type == "DoubleStorage")
    s += " (stored as " + storage_type + ")";
  return s;
}

std::string pickle_tensor_text(const PickleValue& v) {
  const TensorRecord& r = v.tensor_record();
  const std::string storage = r.storage != nullptr ? r.storage->storage().type_name : std::string();
  return "tensor " + tensor_text(v.tensor(), storage) + (r.parameter ? " (Parameter)" : "");
}

bool is_scalar(const PickleValue& v) {
  switch (v.kind()) {
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::Set:
    case Kind::Object:
      return false;
    default:
      return true;
  }
}

std::string scalar_text(const PickleValue& v) {
  switch (v.kind()) {
    case Kind::None: return "None";
    case Kind::Bool: return v.as_bool() ? "True" : "False";
    case Kind::Int: return std::to_string(v.as_int());
    case Kind::BigInt: return "<int of " + std::to_string(v.as_bytes().size()) + " bytes>";
    case Kind::Float: return float_text(v.as_float());
    case Kind::String: return "'" + printable(v.as_string()) + "'";
    case Kind::Bytes: return "b'" + printable(v.as_bytes()) + "'";
    case Kind::Global: return "<" + printable(v.class_name()) + ">";
    case Kind::Storage:
      return "<storage " + v.storage().type_name + " of " + std::to_string(v.storage().numel) + " elements>";
    case Kind::Tensor: return pickle_tensor_text(v);
    default: return "?";
  }
}

std::string key_text(const PickleValue& k) {
  if (k.is(Kind::String)) return printable(k.as_string());
  if (is_scalar(k)) return scalar_text(k);
  std::string text = "<";
  text += k.kind_name();
  return text + ">";
}

std::string index_label(std::size_t i) {
  std::string label = "[";
  label += std::to_string(i);
  return label + "]";
}

// Prints pickled trees for a person to read, bounded by the file rather than by what it expands to: a pickle's memo
// lets a container be referenced again and again, so a few hundred bytes can describe 2^40 leaves (a list of two
// references to a list of two references to ...). Every container is therefore printed once; met again, it is one
// line "<the same list as root[0][1]>". And the report stops after kMaxTreeLines lines, saying so.
constexpr std::size_t kMaxTreeLines = 20000;
constexpr std::size_t kMaxWhere = 240;  // the longest "root.a[3].b" kept for the "the same ... as" lines

class TreePrinter {
 public:
  explicit TreePrinter(std::ostream& out) : out_(out) {}

  // "label: value" on one line, or "label:" and the container below it.
  void entry(const std::string& label, const PickleValue& v, int indent, int depth, const std::string& where) {
    if (!take_line()) return;
    out_ << std::string(indent, ' ') << label << ":";
    if (is_scalar(v)) {
      out_ << " " << scalar_text(v) << "\n";
    } else {
      tree(v, indent + 2, depth + 1, where);
    }
  }

  // A container's header on the current line, then its entries one per line (scalar lists inline).
  void tree(const PickleValue& v, int indent, int depth, const std::string& where) {
    if (depth > 40) {
      out_ << " ...\n";
      return;
    }
    if (!is_scalar(v)) {
      const auto [it, first] = seen_.emplace(&v, where);
      if (!first) {
        out_ << " <the same " << v.kind_name() << " as " << it->second << ">\n";
        return;
      }
    }
    switch (v.kind()) {
      case Kind::List:
      case Kind::Tuple:
      case Kind::Set: {
        const auto& items = v.items();
        if (inline_scalars(v)) return;
        out_ << " " << v.kind_name() << " of " << items.size() << "\n";
        for (std::size_t i = 0; i < items.size() && !cut_; ++i)
          entry(index_label(i), *items[i], indent, depth, child(where, index_label(i)));
        return;
      }
      case Kind::Dict:
        out_ << " dict of " << v.size() << "\n";
        for (const PickleValue::Entry& e : v.entries()) {
          if (cut_) return;
          const std::string key = key_text(*e.key);
          entry(key, *e.value, indent, depth, child(where, "." + key));
        }
        return;
      case Kind::Object: {
        out_ << " " << printable(v.class_name()) << "\n";
        if (v.args() != nullptr && v.args()->size() > 0) entry("(args)", *v.args(), indent, depth, where + "(args)");
        if (v.state() != nullptr) {
          if (v.state()->is(Kind::Dict)) {
            for (const PickleValue::Entry& e : v.state()->entries()) {
              if (cut_) return;
              const std::string key = key_text(*e.key);
              entry(key, *e.value, indent, depth, child(where, "." + key));
            }
          } else {
            entry("(state)", *v.state(), indent, depth, where + "(state)");
          }
        }
        return;
      }
      default:
        out_ << " " << scalar_text(v) << "\n";
    }
  }

  // After the last tree: says where the report was cut, if it was.
  void finish() const {
    if (cut_)
      out_ << "... (cut after " << kMaxTreeLines << " lines: the pickle describes more than inspect prints)\n";
  }

 private:
  bool take_line() {
    if (cut_ || lines_ >= kMaxTreeLines) {
      cut_ = true;
      return false;
    }
    ++lines_;
    return true;
  }

  // A list of scalars on the header's line, when it fits in 100 characters.
  bool inline_scalars(const PickleValue& v) {
    const auto& items = v.items();
    const bool all_scalar = std::all_of(items.begin(), items.end(), [](const PickleValue* p) {
      return is_scalar(*p) && !p->is(Kind::Tensor);
    });
    if (!all_scalar || items.size() > 50) return false;
    std::string line = v.is(Kind::List) ? "[" : v.is(Kind::Tuple) ? "(" : "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i != 0) line += ", ";
      line += scalar_text(*items[i]);
      if (line.size() > 100) return false;
    }
    line += v.is(Kind::List) ? "]" : v.is(Kind::Tuple) ? ")" : "}";
    if (line.size() > 100) return false;
    out_ << " " << line << "\n";
    return true;
  }

  static std::string child(const std::string& where, const std::string& part) {
    if (where.size() >= kMaxWhere) return where;  // already ends in "..."
    std::string out = where + part;
    if (out.size() > kMaxWhere) out = out.substr(0, kMaxWhere - 3) + "...";
    return out;
  }

  std::ostream& out_;
  std::unordered_map<const PickleValue*, std::string> seen_;
  std::size_t lines_ = 0;
  bool cut_ = false;
};

void print_config(std::ostream& out, const ColorizerConfig& c) {
  const BigGANConfig& g = c.biggan;
  out << "  G_ch: " << g.G_ch << "\n  D_ch: " << g.D_ch << "\n  resolution: " << g.resolution
      << "\n  dim_z: " << g.dim_z << " (" << g.num_slots() << " chunks of " << g.z_chunk_size() << ": "
      << g.effective_dim_z() << " used)\n  shared_dim: " << g.shared_dim << "\n  n_classes: " << g.n_classes
      << "\n  G_attn: " << g.G_attn << "\n  D_attn: " << g.D_attn << "\n  BN_eps: " << float_text(g.BN_eps)
      << "\n  SN_eps: " << float_text(g.SN_eps) << "\n  encoder_ch: " << c.encoder_ch
      << "\n  id_mid_layer: " << c.id_mid_layer << "\n  encoder_dropout: " << float_text(c.encoder_dropout) << "\n";
}

std::uint64_t values_of(const NamedTensors& tensors) {
  std::uint64_t n = 0;
  for (const auto& [name, t] : tensors) n += static_cast<std::uint64_t>(t.numel());
  return n;
}

bool looks_like_safetensors(const std::string& path) {
  const ReadFile f(path);  // a FIFO or a device is refused here, with the loaders' message
  char head[9] = {};
  if (std::fread(head, 1, 9, f.get()) != 9) return false;
  return head[8] == '{';
}

void inspect_safetensors(std::ostream& out, const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  std::uint64_t values = 0, bytes = 0;
  for (const auto& [name, t] : file.tensors) {
    values += static_cast<std::uint64_t>(t.numel());
    bytes += t.nbytes();
  }
  out << path << ": safetensors file, " << file.tensors.size() << " tensors, " << format_count(values) << " values ("
      << format_bytes(bytes) << ")\n";
  out << "metadata (" << file.metadata.size() << "):\n";
  for (const auto& [key, value] : file.metadata) out << "  " << printable(key) << ": " << printable(value) << "\n";
  out << "tensors (" << file.tensors.size() << "):\n";
  for (const auto& [name, t] : file.tensors) out << "  " << printable(name) << "  " << tensor_text(t) << "\n";
  const auto config = file.metadata.find(kColorizerConfigKey);
  if (config != file.metadata.end()) {
    out << "colorizer configuration (" << kColorizerConfigKey << "):\n";
    try {
      print_config(out, colorizer_config_from_json(config->second, path));
    } catch (const Error& e) {
      out << "  invalid: " << one_line(e.what()) << "\n";
    }
  }
}

bool is_state_dict(const PickleValue& root) {
  if (!root.is(Kind::Dict) || root.size() == 0) return false;
  for (const PickleValue::Entry& e : root.entries())
    if (!e.key->is(Kind::String) || !e.value->is(Kind::Tensor)) return false;
  return true;
}

void inspect_torch(std::ostream& out, const std::string& path) {
  const TorchFile file = load_pickle_file(path);
  const PickleValue& root = file.root();
  if (file.format == "pickle") {
    out << path << ": pickle\n";
  } else {
    out << path << ": torch.save archive (" << file.format << " format), " << file.tensors.size() << " tensors, "
        << format_count(values_of(file.tensors)) << " values\n";
  }
  if (is_state_dict(root)) {
    out << "state dict (" << root.size() << " tensors):\n";
    for (const PickleValue::Entry& e : root.entries())
      out << "  " << printable(e.key->as_string()) << "  " << tensor_text(e.value->tensor()) << "\n";
    return;
  }
  const PickleValue* shadows = root.is(Kind::Dict) ? root.find("shadow_params") : nullptr;
  if (shadows != nullptr && (shadows->is(Kind::List) || shadows->is(Kind::Tuple))) {
    const std::vector<Tensor> list = tensor_list(*shadows, path);
    std::uint64_t values = 0;
    for (const Tensor& t : list) values += static_cast<std::uint64_t>(t.numel());
    out << "torch_ema state:";
    for (const char* key : {"decay", "num_updates"}) {
      const PickleValue* v = root.find(key);
      out << " " << key << " " << (v != nullptr ? scalar_text(*v) : std::string("(absent)")) << ",";
    }
    out << " " << list.size() << " shadow params (" << format_count(values) << " values)\n";
    TreePrinter printer(out);
    for (const PickleValue::Entry& e : root.entries()) {
      const std::string key = key_text(*e.key);
      if (key == "decay" || key == "num_updates" || key == "shadow_params") continue;
      printer.entry(key, *e.value, 0, 0, key);
    }
    printer.finish();
    out << "shadow_params:\n";
    for (std::size_t i = 0; i < list.size(); ++i)
      out << "  [" << i << "]  " << tensor_text(list[i]) << "\n";
    return;
  }
  out << "root:";
  TreePrinter printer(out);
  printer.tree(root, 2, 0, "root");
  printer.finish();
}

void inspect_folder(std::ostream& out, const InspectOptions& o) {
  const fs::path dir(o.path);
  BIGCOLOR_CHECK(is_official_checkpoint_dir(o.path), o.path, ": a folder without EG_NNN.ckpt; inspect takes a ",
                 ".safetensors file, a torch.save file (.pth/.ckpt), a pickle or an official checkpoint folder");
  std::vector<fs::directory_entry> entries{fs::directory_iterator(dir), fs::directory_iterator()};
  std::sort(entries.begin(), entries.end());
  out << o.path << ": official BigColor checkpoint folder\nfiles:\n";
  std::vector<int> epochs, ema_epochs;
  const std::regex eg("EG_([0-9]+)\\.ckpt"), ema("EG_EMA_([0-9]+)\\.ckpt");
  for (const fs::directory_entry& e : entries) {
    const std::string name = e.path().filename().string();
    std::error_code ec;
    if (e.is_directory(ec)) {
      out << "  " << printable(name) << "/\n";
      continue;
    }
    const auto size = e.file_size(ec);
    out << "  " << printable(name) << "  " << (ec ? std::string("?") : format_bytes(size)) << "\n";
    std::smatch m;
    if (std::regex_match(name, m, eg)) epochs.push_back(std::stoi(m[1].str()));
    if (std::regex_match(name, m, ema)) ema_epochs.push_back(std::stoi(m[1].str()));
  }
  auto list = [](const std::vector<int>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i != 0) s += ", ";
      s += std::to_string(v[i]);
    }
    return s.empty() ? std::string("none") : s;
  };
  std::sort(epochs.begin(), epochs.end());
  std::sort(ema_epochs.begin(), ema_epochs.end());
  out << "epochs: " << list(epochs) << "; with EMA weights: " << list(ema_epochs) << "\n";
  const OfficialCheckpoint ck =
      find_official_checkpoint(o.path, o.epoch >= 0 ? std::optional<int>(o.epoch) : std::nullopt, o.config_path);
  out << "epoch " << ck.epoch << ":\n  weights: " << ck.eg_path << "\n  EMA: " << (ck.ema_path.empty() ? "(none)" : ck.ema_path)
      << "\n  args: " << ck.args_path << "\n  config: " << ck.config_path << "\n";
  const TorchFile config_file = load_pickle_file(ck.config_path);
  const TorchFile args_file = load_pickle_file(ck.args_path);
  out << "colorizer configuration:\n";
  print_config(out, config_from_official(config_file.root(), args_file.root(), config_file.path, args_file.path));
}

}  // namespace

int run_inspect(const InspectOptions& o) {
  std::error_code ec;
  BIGCOLOR_CHECK(fs::exists(o.path, ec), o.path, ": no such file or folder");
  std::ostringstream out;  // everything or nothing: an Error midway prints no half report
  if (fs::is_directory(o.path, ec)) {
    inspect_folder(out, o);
  } else {
    if (o.epoch >= 0 || !o.config_path.empty())
      throw UsageError("--epoch and --config apply to checkpoint folders only");
    if (looks_like_safetensors(o.path)) inspect_safetensors(out, o.path);
    else inspect_torch(out, o.path);
  }
  std::cout << out.str() << std::flush;
  return 0;
}

}  // namespace bigcolor::cli
