#include "models/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "io/torch_file.h"
#include "kernels/ops.h"
#include "tensor/error.h"
#include "tensor/half.h"
#include "tensor/safetensors.h"

namespace bigcolor {

namespace fs = std::filesystem;
using Kind = PickleValue::Kind;

namespace {

// ---- files ------------------------------------------------------------------------------------------------------

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// "EG_011.ckpt" -> (11, "011"); anything else (EG_EMA_011.ckpt, EG_.ckpt, EG_1x.ckpt) -> nullopt.
std::optional<std::pair<int, std::string>> parse_eg_name(const std::string& name) {
  constexpr std::string_view prefix = "EG_", suffix = ".ckpt";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::make_pair(std::stoi(digits), digits);
}

// epoch -> file name of every EG_NNN.ckpt in `dir`.
std::map<int, std::string> eg_files(const fs::path& dir) {
  std::map<int, std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto parsed = parse_eg_name(name);
    if (!parsed || !is_file(it->path())) continue;
    const auto [pos, inserted] = found.emplace(parsed->first, name);
    BIGCOLOR_CHECK(inserted, dir.string(), ": both ", pos->second, " and ", name, " hold epoch ", parsed->first);
  }
  BIGCOLOR_CHECK(!ec, dir.string(), ": cannot list the folder: ", ec.message());
  return found;
}

std::string epoch_list(const std::map<int, std::string>& files) {
  std::string out;
  for (const auto& [epoch, name] : files) out += (out.empty() ? "" : ", ") + std::to_string(epoch);
  return out;
}

// ---- pickle fields ----------------------------------------------------------------------------------------------

std::int64_t positive_int(const PickleValue& root, const char* key, const std::string& source) {
  const std::int64_t v = pickle_int(root, key, source);
  BIGCOLOR_CHECK(v > 0, source, ": ", key, " = ", v, " must be positive");
  return v;
}

float positive_float(const PickleValue& root, const char* key, const std::string& source) {
  const double v = pickle_float(root, key, source);
  BIGCOLOR_CHECK(v > 0 && v < 1, source, ": ", key, " = ", v, " must be in (0, 1)");
  return static_cast<float>(v);
}

void require_string(const PickleValue& root, const char* key, const std::string& expected, const std::string& source,
                    const char* why) {
  const std::string v = pickle_string(root, key, source);
  BIGCOLOR_CHECK(v == expected, source, ": ", key, " = '", printable(v), "' is not supported (", why, ": '",
                 expected, "')");
}

void require_bool(const PickleValue& root, const char* key, bool expected, const std::string& source,
                  const char* why) {
  const bool v = pickle_bool(root, key, source);
  BIGCOLOR_CHECK(v == expected, source, ": ", key, " = ", v ? "True" : "False", " is not supported (", why, ")");
}

void require_int(const PickleValue& root, const char* key, std::int64_t expected, const std::string& source,
                 const char* why) {
  const std::int64_t v = pickle_int(root, key, source);
  BIGCOLOR_CHECK(v == expected, source, ": ", key, " = ", v, " is not supported (", why, ")");
}

bool present(const PickleValue& root, const char* key) { return root.find(key) != nullptr; }

// BigGAN's attention string: '64' (one resolution), '0' (none); several ('32_64') are not supported.
std::int64_t attention_resolution(const PickleValue& root, const char* key, std::int64_t max_resolution,
                                  const std::string& source) {
  const std::string text = pickle_string(root, key, source);
  BIGCOLOR_CHECK(text.find('_') == std::string::npos, source, ": ", key, " = '", printable(text),
                 "': self-attention at several resolutions is not supported");
  std::int64_t value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  BIGCOLOR_CHECK(ec == std::errc() && end == text.data() + text.size(), source, ": ", key, " = '", printable(text),
                 "' is not a resolution");
  bool ok = value == 0;
  for (std::int64_t r = 8; r <= max_resolution; r *= 2) ok |= value == r;
  BIGCOLOR_CHECK(ok, source, ": ", key, " = '", printable(text), "' is not supported (one of the block resolutions 8..",
                 max_resolution, ", or 0 for none)");
  return value;
}

// ---- state dicts ------------------------------------------------------------------------------------------------

using Index = std::unordered_map<std::string, std::size_t>;

Index index_of(const NamedTensors& tensors, const std::string& source) {
  Index index;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const bool inserted = index.emplace(tensors[i].first, i).second;
    BIGCOLOR_CHECK(inserted, source, ": key '", printable(tensors[i].first), "' appears twice");
  }
  return index;
}

std::int64_t attention_resolution_of_block(std::int64_t block) { return 8ll << block; }

// ---- JSON -------------------------------------------------------------------------------------------------------

// A float as the JSON number of its shortest round-trip decimal (1e-05, not 9.999999747378752e-06).
nlohmann::json float_json(float value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return nlohmann::json(std::stod(std::string(buffer, result.ptr)));
}

}  // namespace

// ---- finding the files ------------------------------------------------------------------------------------------

bool is_official_checkpoint_dir(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  try {
    return !eg_files(path).empty();
  } catch (const Error&) {
    return true;  // EG files are there (two for one epoch): let the loader say what is wrong
  }
}

OfficialCheckpoint find_official_checkpoint(const std::string& dir, std::optional<int> epoch,
                                            const std::string& config_path) {
  std::error_code ec;
  BIGCOLOR_CHECK(fs::is_directory(dir, ec), "checkpoint folder '", dir, "' does not exist or is not a folder");
  const fs::path folder(dir);
  const std::map<int, std::string> files = eg_files(folder);
  BIGCOLOR_CHECK(!files.empty(), dir, ": no EG_NNN.ckpt (the official colorizer weights, e.g. EG_011.ckpt) in this "
                 "folder");
  OfficialCheckpoint out;
  out.dir = dir;
  std::map<int, std::string>::const_iterator chosen;
  if (epoch) {
    chosen = files.find(*epoch);
    char wanted[32];
    std::snprintf(wanted, sizeof(wanted), "EG_%03d.ckpt", *epoch);
    BIGCOLOR_CHECK(chosen != files.end(), dir, ": no ", wanted, " for epoch ", *epoch, " (epochs present: ",
                   epoch_list(files), ")");
  } else {
    chosen = std::prev(files.end());
  }
  out.epoch = chosen->first;
  out.eg_path = (folder / chosen->second).string();
  const auto digits = parse_eg_name(chosen->second)->second;
  const fs::path ema = folder / ("EG_EMA_" + digits + ".ckpt");
  if (is_file(ema)) out.ema_path = ema.string();

  const fs::path args = folder / "args.pkl";
  BIGCOLOR_CHECK(is_file(args), dir, ": args.pkl not found (the training arguments, written beside ",
                 chosen->second, ")");
  out.args_path = args.string();

  if (!config_path.empty()) {
    BIGCOLOR_CHECK(is_file(config_path), "config.pickle '", config_path, "' does not exist");
    out.config_path = config_path;
  } else {
    const fs::path candidates[] = {folder / "config.pickle",
                                   (folder / ".." / "pretrained" / "config.pickle").lexically_normal(),
                                   (folder / ".." / ".." / "pretrained" / "config.pickle").lexically_normal()};
    std::string looked;
    for (const fs::path& candidate : candidates) {
      if (is_file(candidate)) {
        out.config_path = candidate.string();
        break;
      }
      looked += (looked.empty() ? "'" : ", '") + candidate.string() + "'";
    }
    BIGCOLOR_CHECK(!out.config_path.empty(), dir, ": config.pickle (DGP's BigGAN config) not found; looked at ",
                   looked, "; give its path with --config FILE");
  }
  return out;
}

// ---- configuration ----------------------------------------------------------------------------------------------

ColorizerConfig config_from_official(const PickleValue& config_root, const PickleValue& args_root,
                                     const std::string& config_source, const std::string& args_source) {
  const std::string& cs = config_source;
  const std::string& as = args_source;
  BIGCOLOR_CHECK(config_root.is(Kind::Dict), cs, ": expected a dict (DGP's BigGAN config), found a ",
                 config_root.kind_name());
  BIGCOLOR_CHECK(args_root.is(Kind::Object) || args_root.is(Kind::Dict), as,
                 ": expected an argparse.Namespace, found a ", args_root.kind_name());

  ColorizerConfig out;
  BigGANConfig& g = out.biggan;
  g.G_ch = positive_int(config_root, "G_ch", cs);
  g.D_ch = positive_int(config_root, "D_ch", cs);
  g.resolution = pickle_int(config_root, "resolution", cs);
  BIGCOLOR_CHECK(g.resolution == 256, cs, ": resolution = ", g.resolution,
                 " is not supported (only the 256x256 BigGAN architecture)");
  g.dim_z = positive_int(config_root, "dim_z", cs);
  BIGCOLOR_CHECK(g.z_chunk_size() > 0, cs, ": dim_z = ", g.dim_z, " is too small to split into ", g.num_slots(),
                 " chunks");
  g.shared_dim = pickle_int(config_root, "shared_dim", cs);
  BIGCOLOR_CHECK(g.shared_dim > 0, cs, ": shared_dim = ", g.shared_dim,
                 " is not supported (a class embedding as wide as z)");
  g.n_classes = positive_int(config_root, "n_classes", cs);
  g.G_attn = attention_resolution(config_root, "G_attn", 256, cs);
  // D_attn 4 would put attention after two blocks of the 256x256 discriminator (both are 4x4): not supported.
  g.D_attn = attention_resolution(config_root, "D_attn", 128, cs);
  g.BN_eps = positive_float(config_root, "BN_eps", cs);
  g.SN_eps = positive_float(config_root, "SN_eps", cs);
  require_bool(config_root, "hier", true, cs, "BigColor splits z hierarchically");
  require_bool(config_root, "G_shared", true, cs, "BigColor uses the shared class embedding");
  require_string(config_root, "norm_style", "bn", cs, "BigColor's generator uses");
  for (const char* key : {"G_param", "D_param"})
    if (present(config_root, key)) require_string(config_root, key, "SN", cs, "spectral norm is");
  for (const char* key : {"num_G_SVs", "num_G_SV_itrs", "num_D_SVs", "num_D_SV_itrs"})
    if (present(config_root, key)) require_int(config_root, key, 1, cs, "one singular value, one power iteration");
  for (const char* key : {"mybn", "cross_replica"})
    if (present(config_root, key)) require_bool(config_root, key, false, cs, "BigColor uses plain batch norm");

  require_string(args_root, "norm_type", "adabatch", as, "BigColor's encoder uses");
  require_string(args_root, "activation", "relu", as, "BigColor's encoder uses");
  require_int(args_root, "num_layer", 2, as, "only dim_f 16, the generator entered at block 2");
  require_bool(args_root, "use_attention", false, as, "an encoder self-attention block is not implemented");
  if (present(args_root, "dim_f")) require_int(args_root, "dim_f", 16, as, "only dim_f 16");
  if (present(args_root, "no_res"))
    require_bool(args_root, "no_res", false, as, "the encoder's residual path is part of BigColor");
  const std::int64_t dim_z = pickle_int(args_root, "dim_z", as);
  BIGCOLOR_CHECK(dim_z == g.effective_dim_z(), as, ": dim_z = ", dim_z, " does not match the generator's ",
                 g.effective_dim_z(), " (", g.num_slots(), " chunks of ", g.z_chunk_size(), " from ", cs,
                 " dim_z ", g.dim_z, ")");
  out.id_mid_layer = 2;
  out.encoder_ch = g.G_ch;  // the encoder's 8 ch output channels feed block 2, whose input is 8 G_ch
  return out;
}

void verify_config_against_state(const ColorizerConfig& config, const NamedTensors& tensors,
                                 const std::string& source) {
  const BigGANConfig& g = config.biggan;
  Index index;
  for (std::size_t i = 0; i < tensors.size(); ++i) index.emplace(tensors[i].first, i);
  auto expect = [&](const std::string& key, const Shape& shape, const std::string& why) {
    const auto it = index.find(key);
    BIGCOLOR_CHECK(it != index.end(), source, ": no '", key, "' in the checkpoint (expected ", shape_string(shape),
                   " for ", why, ")");
    const Shape& actual = tensors[it->second].second.shape();
    BIGCOLOR_CHECK(actual == shape, source, ": '", key, "' has shape ", shape_string(actual),
                   " but the configuration (", why, ") needs ", shape_string(shape));
  };
  const std::string chunk_text = "z chunk " + std::to_string(g.z_chunk_size()) + " = dim_z " +
                                 std::to_string(g.dim_z) + " // " + std::to_string(g.num_slots());
  for (const auto& [name, tensor] : tensors)
    BIGCOLOR_CHECK(name.rfind("E.att.", 0) != 0, source, ": '", name,
                   "': the encoder has a self-attention block (use_attention), which is not supported");
  expect("E.res1.conv.weight", {config.encoder_ch, 1, 1, 1}, "encoder width " + std::to_string(config.encoder_ch));
  expect("G.shared.weight", {g.n_classes, g.shared_dim},
         "n_classes " + std::to_string(g.n_classes) + ", shared_dim " + std::to_string(g.shared_dim));
  expect("G.linear.weight", {16 * g.G_ch * 4 * 4, g.z_chunk_size()},
         "G_ch " + std::to_string(g.G_ch) + ", " + chunk_text);
  expect("G.blocks.0.0.bn1.gain.weight", {16 * g.G_ch, g.y_dim()},
         "G_ch " + std::to_string(g.G_ch) + ", shared_dim " + std::to_string(g.shared_dim) + " + " + chunk_text);
  // Attention: keys G.blocks.<i>.1.* exist for the one block whose output resolution (8 << i) is G_attn.
  std::int64_t expected_block = -1;
  for (std::int64_t i = 0; i < 6; ++i)
    if (g.G_attn == attention_resolution_of_block(i)) expected_block = i;
  for (const auto& [name, tensor] : tensors) {
    constexpr std::string_view prefix = "G.blocks.";
    if (name.rfind(prefix, 0) != 0) continue;
    const std::size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos || name.compare(dot, 3, ".1.") != 0) continue;
    const std::string block_text = name.substr(prefix.size(), dot - prefix.size());
    std::int64_t block = -1;
    const auto [end, ec] = std::from_chars(block_text.data(), block_text.data() + block_text.size(), block);
    if (ec != std::errc() || end != block_text.data() + block_text.size()) continue;
    BIGCOLOR_CHECK(block == expected_block, source, ": '", name, "': the checkpoint has self-attention after "
                   "generator block ", block, " (", attention_resolution_of_block(block), "x",
                   attention_resolution_of_block(block), ") but the configuration's G_attn is ", g.G_attn);
  }
  if (expected_block >= 0) {
    const std::string key = "G.blocks." + std::to_string(expected_block) + ".1.gamma";
    BIGCOLOR_CHECK(index.count(key) != 0, source, ": no '", key, "': the configuration's G_attn ", g.G_attn,
                   " puts self-attention after generator block ", expected_block, " but the checkpoint has none there");
  }
}

// ---- loading state ----------------------------------------------------------------------------------------------

// A NaN or infinity in a weight turns every output into NaN, which the image writers would save as a black picture:
// a damaged file is refused here, naming the tensor, instead of giving a silent wrong answer.
void require_finite(const Tensor& t, const std::string& name, const std::string& source) {
  if (t.dtype() != DType::F32 || t.numel() == 0) return;
  const Tensor host = t.device() == Device::CPU ? t : t.to(Device::CPU);
  const float* p = host.data<float>();
  for (std::int64_t i = 0; i < host.numel(); ++i)
    BIGCOLOR_CHECK(std::isfinite(p[i]), source, ": tensor '", printable(name), "' holds ",
                   std::isnan(p[i]) ? "NaN" : "an infinite value", " (element ", i, " of ", host.numel(),
                   "): the file is damaged");
}

namespace {

// F32 stays as it is; BF16 and F16 (a colorizer saved with a 16-bit storage) are widened, which is exact.
Tensor widened_to_f32(const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  Tensor f32 = Tensor::empty(t.shape(), DType::F32, t.device());
  ops::convert(f32, t);
  return f32;
}

}  // namespace

void load_state(Module& m, const NamedTensors& tensors, const std::string& source) {
  const Index index = index_of(tensors, source);
  const std::vector<Module::NamedTensor> state = m.state();
  std::unordered_set<std::string> wanted;
  for (const auto& s : state) wanted.insert(s.name);
  std::size_t missing = 0, unexpected = 0;
  std::string first_unexpected;
  std::vector<Tensor> widened;  // F32 values of each state tensor, in state order
  widened.reserve(state.size());
  for (const auto& s : state) missing += index.count(s.name) == 0;
  for (const auto& [name, tensor] : tensors)
    if (wanted.count(name) == 0 && unexpected++ == 0) first_unexpected = name;

  for (const auto& s : state) {
    const auto it = index.find(s.name);
    if (it == index.end()) {
      std::ostringstream more;
      if (missing > 1) more << "; " << missing << " keys missing in all";
      if (unexpected > 0)
        more << "; " << unexpected << " unexpected, the first '" << printable(first_unexpected) << "'";
      detail::throw_error(source, ": missing key '", s.name, "' of shape ", shape_string(s.tensor.shape()), more.str());
    }
    const Tensor& t = tensors[it->second].second;
    BIGCOLOR_CHECK(t.shape() == s.tensor.shape(), source, ": key '", s.name, "' has shape ", shape_string(t.shape()),
                   ", expected ", shape_string(s.tensor.shape()));
    BIGCOLOR_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16 || t.dtype() == DType::F16, source,
                   ": key '", s.name, "' is ", t.describe(), ", expected F32 (or BF16/F16, widened to F32)");
    widened.push_back(widened_to_f32(t));
    require_finite(widened.back(), s.name, source);
  }
  BIGCOLOR_CHECK(unexpected == 0, source, ": unexpected key '", printable(first_unexpected), "'",
                 unexpected > 1 ? " (" + std::to_string(unexpected) + " unexpected keys in all)" : std::string());
  for (std::size_t i = 0; i < state.size(); ++i) state[i].tensor.copy_from(widened[i]);
}

void apply_ema_shadows(Module& m, const std::vector<Tensor>& shadows, const std::string& source) {
  const std::vector<Module::NamedParameter> params = m.parameters();
  std::vector<const Module::NamedParameter*> targets;
  const std::size_t trainable = static_cast<std::size_t>(
      std::count_if(params.begin(), params.end(), [](const auto& p) { return p.parameter->trainable; }));
  if (shadows.size() == params.size()) {
    for (const auto& p : params) targets.push_back(&p);
  } else if (shadows.size() == trainable) {
    for (const auto& p : params)
      if (p.parameter->trainable) targets.push_back(&p);
  } else {
    detail::throw_error(source, ": shadow_params holds ", shadows.size(), " tensors, but the model has ",
                        params.size(), " parameters, ", trainable, " of them trainable: expected ", params.size(),
                        " (torch_ema 0.3: every parameter) or ", trainable,
                        " (torch_ema 0.2: those with requires_grad)");
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const Tensor& value = targets[i]->parameter->value;
    BIGCOLOR_CHECK(shadows[i].defined() && shadows[i].shape() == value.shape() && shadows[i].dtype() == DType::F32,
                   source, ": shadow_params[", i, "] is ",
                   shadows[i].defined() ? shadows[i].describe() : std::string("undefined"), " but parameter '",
                   targets[i]->name, "' is ", shape_string(value.shape()), " F32");
    require_finite(shadows[i], "shadow_params[" + std::to_string(i) + "] (" + targets[i]->name + ")", source);
  }
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i]->parameter->value.copy_from(shadows[i]);
}

void apply_ema(Module& m, const PickleValue& ema_root, const std::string& source) {
  BIGCOLOR_CHECK(ema_root.is(Kind::Dict), source, ": expected torch_ema's state dict (a dict), found a ",
                 ema_root.kind_name());
  const std::vector<Tensor> shadows = tensor_list(pickle_field(ema_root, "shadow_params", source),
                                                  source + ": shadow_params");
  apply_ema_shadows(m, shadows, source);
}

std::unique_ptr<Colorizer> load_official_colorizer(const OfficialCheckpoint& checkpoint, bool use_ema) {
  BIGCOLOR_CHECK(!use_ema || !checkpoint.ema_path.empty(), checkpoint.dir, ": EMA weights asked for, but there is no ",
                 "EG_EMA file beside ", fs::path(checkpoint.eg_path).filename().string());
  const TorchFile config_file = load_pickle_file(checkpoint.config_path);
  const TorchFile args_file = load_pickle_file(checkpoint.args_path);
  const ColorizerConfig config =
      config_from_official(config_file.root(), args_file.root(), config_file.path, args_file.path);
  std::unique_ptr<Colorizer> eg;
  {
    const TorchFile eg_file = load_torch_state(checkpoint.eg_path);
    const NamedTensors tensors = state_dict_tensors(eg_file.root(), eg_file.path);
    verify_config_against_state(config, tensors, eg_file.path);
    try {
      eg = std::make_unique<Colorizer>(config);
    } catch (const Error& e) {
      detail::throw_error(checkpoint.config_path, " and ", checkpoint.args_path,
                          ": the model they describe cannot be built: ", e.what());
    }
    load_state(*eg, tensors, eg_file.path);
  }
  if (use_ema) {
    const TorchFile ema_file = load_torch_state(checkpoint.ema_path);
    apply_ema(*eg, ema_file.root(), ema_file.path);
  }
  eg->set_training(false);
  return eg;
}

// ---- our format -------------------------------------------------------------------------------------------------

std::string colorizer_config_to_json(const ColorizerConfig& config) {
  const BigGANConfig& g = config.biggan;
  nlohmann::json biggan = {{"G_ch", g.G_ch},
                           {"D_ch", g.D_ch},
                           {"resolution", g.resolution},
                           {"dim_z", g.dim_z},
                           {"shared_dim", g.shared_dim},
                           {"n_classes", g.n_classes},
                           {"G_attn", g.G_attn},
                           {"D_attn", g.D_attn},
                           {"BN_eps", float_json(g.BN_eps)},
                           {"SN_eps", float_json(g.SN_eps)}};
  nlohmann::json j = {{"biggan", biggan},
                      {"encoder_ch", config.encoder_ch},
                      {"id_mid_layer", config.id_mid_layer},
                      {"encoder_dropout", float_json(config.encoder_dropout)}};
  return j.dump();
}

ColorizerConfig colorizer_config_from_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error(source, ": the configuration is not valid JSON: ", e.what());
  }
  auto object = [&](const nlohmann::json& o, const std::string& where, const std::set<std::string>& keys) {
    BIGCOLOR_CHECK(o.is_object(), source, ": configuration ", where, " is not a JSON object");
    for (const auto& [key, value] : o.items())
      BIGCOLOR_CHECK(keys.count(key) != 0, source, ": unknown configuration key '", printable(where + key), "'");
    for (const std::string& key : keys)
      BIGCOLOR_CHECK(o.contains(key), source, ": configuration key '", where + key, "' is missing");
  };
  auto integer = [&](const nlohmann::json& o, const std::string& where, const char* key, std::int64_t low) {
    const nlohmann::json& v = o.at(key);
    BIGCOLOR_CHECK(v.is_number_integer(), source, ": configuration key '", where + key, "' is not an integer");
    const std::int64_t value = v.get<std::int64_t>();
    BIGCOLOR_CHECK(value >= low, source, ": configuration key '", where + key, "' = ", value, " must be >= ", low);
    return value;
  };
  auto number = [&](const nlohmann::json& o, const std::string& where, const char* key) {
    const nlohmann::json& v = o.at(key);
    BIGCOLOR_CHECK(v.is_number(), source, ": configuration key '", where + key, "' is not a number");
    const double value = v.get<double>();
    BIGCOLOR_CHECK(value >= 0 && value < 1, source, ": configuration key '", where + key, "' = ", value,
                   " must be in [0, 1)");
    return static_cast<float>(value);
  };
  object(j, "", {"biggan", "encoder_ch", "id_mid_layer", "encoder_dropout"});
  const nlohmann::json& b = j.at("biggan");
  object(b, "biggan.", {"G_ch", "D_ch", "resolution", "dim_z", "shared_dim", "n_classes", "G_attn", "D_attn",
                        "BN_eps", "SN_eps"});
  ColorizerConfig out;
  BigGANConfig& g = out.biggan;
  g.G_ch = integer(b, "biggan.", "G_ch", 1);
  g.D_ch = integer(b, "biggan.", "D_ch", 1);
  g.resolution = integer(b, "biggan.", "resolution", 1);
  g.dim_z = integer(b, "biggan.", "dim_z", g.num_slots());
  g.shared_dim = integer(b, "biggan.", "shared_dim", 1);
  g.n_classes = integer(b, "biggan.", "n_classes", 1);
  g.G_attn = integer(b, "biggan.", "G_attn", 0);
  g.D_attn = integer(b, "biggan.", "D_attn", 0);
  g.BN_eps = number(b, "biggan.", "BN_eps");
  g.SN_eps = number(b, "biggan.", "SN_eps");
  out.encoder_ch = integer(j, "", "encoder_ch", 1);
  out.id_mid_layer = integer(j, "", "id_mid_layer", 0);
  out.encoder_dropout = number(j, "", "encoder_dropout");
  BIGCOLOR_CHECK(g.resolution == 256, source, ": resolution ", g.resolution, " is not supported (only 256)");
  BIGCOLOR_CHECK(out.id_mid_layer == 2, source, ": id_mid_layer ", out.id_mid_layer, " is not supported (only 2)");
  BIGCOLOR_CHECK(g.BN_eps > 0 && g.SN_eps > 0, source, ": BN_eps and SN_eps must be positive");
  return out;
}

NamedTensors load_state_dict_file(const std::string& path) {
  const bool is_safetensors = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  if (is_safetensors) {
    const SafetensorsFile file = load_safetensors(path);
    return NamedTensors(file.tensors.begin(), file.tensors.end());
  }
  const TorchFile file = load_torch_state(path);
  return state_dict_tensors(file.root(), path);
}

namespace {

// One F32 state tensor in the storage dtype, on the host. F16's range ends at 65504: a finite value that rounds to
// infinity there would be refused by the loader, so it is refused here, before anything is written.
Tensor stored_as(const Tensor& t, DType storage, const std::string& name, const std::string& path) {
  if (storage == DType::F32 || t.dtype() != DType::F32) return t;
  const Tensor host = t.device() == Device::CPU ? t : t.to(Device::CPU);
  Tensor out = Tensor::empty(host.shape(), storage, Device::CPU);
  ops::convert(out, host);
  if (storage == DType::F16) {
    const float* v = host.data<float>();
    const std::uint16_t* h = static_cast<const std::uint16_t*>(out.raw());
    for (std::int64_t i = 0; i < host.numel(); ++i)
      BIGCOLOR_CHECK(!std::isfinite(v[i]) || std::isfinite(half_to_float(h[i])), path, ": tensor '", printable(name),
                     "' holds ", v[i], " (element ", i, "), beyond F16's range (65504): store it as BF16 or F32");
  }
  return out;
}

}  // namespace

void save_colorizer(const std::string& path, Colorizer& colorizer, DType storage) {
  BIGCOLOR_CHECK(storage == DType::F32 || storage == DType::BF16 || storage == DType::F16,
                 "save_colorizer: storage ", dtype_name(storage), " (supported: F32, BF16, F16)");
  std::map<std::string, Tensor> tensors;
  for (const Module::NamedTensor& s : colorizer.state()) {
    const bool inserted = tensors.emplace(s.name, stored_as(s.tensor, storage, s.name, path)).second;
    BIGCOLOR_CHECK(inserted, "save_colorizer: state key '", s.name, "' appears twice");
  }
  save_safetensors(path, tensors,
                   {{kColorizerConfigKey, colorizer_config_to_json(colorizer.config())},
                    {kColorizerFormatKey, kColorizerFormatVersion}});
}

std::unique_ptr<Colorizer> load_colorizer(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto version = file.metadata.find(kColorizerFormatKey);
  if (version == file.metadata.end() && file.metadata.count("bigcolor.training_format") != 0) {
    const fs::path run = fs::path(path).parent_path().parent_path() / "ema.safetensors";
    detail::throw_error(path, ": a training checkpoint (weights, optimizer state and progress), not a colorizer; ",
                        "colorize the run's EMA weights instead: ", run.string(),
                        " (or a checkpoints/ema_epoch_NNN.safetensors)");
  }
  BIGCOLOR_CHECK(version != file.metadata.end(), path, ": not a bigcolor colorizer file (no '", kColorizerFormatKey,
                 "' metadata)");
  BIGCOLOR_CHECK(version->second == kColorizerFormatVersion, path, ": colorizer format version '",
                 printable(version->second), "' is not supported (this build reads version ", kColorizerFormatVersion,
                 ")");
  const auto config_text = file.metadata.find(kColorizerConfigKey);
  BIGCOLOR_CHECK(config_text != file.metadata.end(), path, ": no '", kColorizerConfigKey,
                 "' metadata (the model configuration)");
  const ColorizerConfig config = colorizer_config_from_json(config_text->second, path);
  std::unique_ptr<Colorizer> eg;
  try {
    eg = std::make_unique<Colorizer>(config);
  } catch (const Error& e) {
    detail::throw_error(path, ": the stored configuration cannot be built: ", e.what());
  }
  const NamedTensors tensors(file.tensors.begin(), file.tensors.end());
  load_state(*eg, tensors, path);
  eg->set_training(false);
  return eg;
}

std::unique_ptr<Colorizer> load_any_colorizer(const std::string& path, const ColorizerSource& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    BIGCOLOR_CHECK(is_official_checkpoint_dir(path), path, ": a folder without EG_NNN.ckpt, not an official BigColor ",
                   "checkpoint folder");
    return load_official_colorizer(find_official_checkpoint(path, options.epoch, options.config_path),
                                   options.use_ema);
  }
  BIGCOLOR_CHECK(fs::exists(path, ec), "'", path, "' does not exist");
  const std::string name = fs::path(path).filename().string();
  BIGCOLOR_CHECK(!parse_eg_name(name) && name.rfind("EG_EMA_", 0) != 0, path,
                 ": an official checkpoint file; give the folder holding it (with args.pkl)");
  return load_colorizer(path);
}

}  // namespace bigcolor
