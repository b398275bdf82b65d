// Loading and saving the colorizer's weights.
//
// Official BigColor checkpoints (spec section 2), read without Python:
//   <dir>/EG_NNN.ckpt       torch.save(EG.state_dict()): every E.* / G.* parameter and buffer, official names
//   <dir>/EG_EMA_NNN.ckpt   torch_ema's state dict {decay, num_updates, shadow_params (a list in EG.parameters()
//                           order, no names), collected_params}
//   <dir>/args.pkl          the training run's argparse.Namespace
//   config.pickle           DGP's BigGAN config (beside the checkpoints, or in <repo>/pretrained/)
// Loading is strict, as PyTorch's load_state_dict(strict=True): every state key present with its exact shape and
// nothing else; anything the runtime does not implement (another norm type, an encoder attention block, several
// attention resolutions, ...) is refused with an Error naming the key and the value, never guessed around.
//
// EMA weights: torch_ema's copy_to() replaces the parameters by the shadows (buffers such as stored_mean,
// stored_var, u0 stay as in EG_NNN.ckpt). torch_ema 0.3, which the official environment pins, keeps a shadow of
// EVERY parameter (requires_grad or not); torch_ema 0.2 kept only those with requires_grad (here: all but the frozen
// GBlock in1/in2). The list's length decides which, and any other length is refused.
//
// Our own format: one safetensors file holding every state tensor under its official name (E.*, G.*) and, in the
// metadata, the ColorizerConfig as JSON under "bigcolor.config" and the format version under
// "bigcolor.format_version" (currently "1"). Saving then loading is bit-exact. The floating-point tensors may also
// be stored as BF16 or F16 (half the bytes; what `convert --storage` and the bundled model use): loading widens them
// to F32 exactly, so the model computes in F32 with the stored, rounded values.
//
// Every loader returns the model in eval mode (as the official scripts run it); set_training(true) to train.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/pickle.h"
#include "io/torch_file.h"
#include "layers/module.h"
#include "models/colorizer.h"
#include "models/config.h"

namespace bigcolor {

inline constexpr const char* kColorizerConfigKey = "bigcolor.config";
inline constexpr const char* kColorizerFormatKey = "bigcolor.format_version";
inline constexpr const char* kColorizerFormatVersion = "1";

// The files of one official checkpoint.
struct OfficialCheckpoint {
  std::string dir;
  int epoch = 0;
  std::string eg_path;      // <dir>/EG_NNN.ckpt
  std::string ema_path;     // <dir>/EG_EMA_NNN.ckpt (same digits as eg_path); empty when the folder has none
  std::string args_path;    // <dir>/args.pkl
  std::string config_path;  // config.pickle
};

// Finds the files of an official checkpoint folder: EG_NNN.ckpt of `epoch` (default: the highest epoch present),
// its EG_EMA_NNN.ckpt when present, args.pkl, and config.pickle: `config_path` when given (it must exist), else
// <dir>/config.pickle, <dir>/../pretrained/config.pickle, <dir>/../../pretrained/config.pickle (the official layout
// is ckpts/bigcolor/ beside pretrained/). An Error names what is missing and every place looked.
OfficialCheckpoint find_official_checkpoint(const std::string& dir, std::optional<int> epoch = std::nullopt,
                                            const std::string& config_path = "");

// True when `path` is a folder holding at least one EG_NNN.ckpt.
bool is_official_checkpoint_dir(const std::string& path);

// The configuration of an official colorizer from the roots of config.pickle (a dict) and args.pkl (an
// argparse.Namespace). From config.pickle: G_ch, D_ch, resolution (256), dim_z, shared_dim, n_classes, G_attn and
// D_attn (strings such as '64'; one resolution or '0'), BN_eps, SN_eps, hier (true), G_shared (true), norm_style
// ('bn'), and where present G_param/D_param ('SN'), num_G_SVs/num_G_SV_itrs/num_D_SVs/num_D_SV_itrs (1), mybn and
// cross_replica (false). From args.pkl: norm_type ('adabatch'), activation ('relu'), num_layer (2: dim_f 16),
// use_attention (false), dim_z (the 7 * (dim_z // 7) values the generator splits, 119 for BigGAN-256), and where
// present dim_f (16) and no_res (false). The encoder's width equals G_ch (the only width whose features fit
// generator block 2; 96 in the official code). Unsupported values are an Error naming the file, the key and the value.
ColorizerConfig config_from_official(const PickleValue& config_root, const PickleValue& args_root,
                                     const std::string& config_source = "config.pickle",
                                     const std::string& args_source = "args.pkl");

// Checks a checkpoint's tensors against a configuration before anything is built: the encoder width
// (E.res1.conv.weight), the class embedding (G.shared.weight: n_classes x shared_dim), G_ch and the z chunk
// (G.linear.weight: 256 G_ch x dim_z // 7), the conditioning size (G.blocks.0.0.bn1.gain.weight) and the attention
// block (G.blocks.<i>.1.*: resolution 8 << i must be G_attn). The Error names the first mismatching key.
void verify_config_against_state(const ColorizerConfig& config,
                                 const std::vector<std::pair<std::string, Tensor>>& tensors,
                                 const std::string& source);

// Copies a state dict into m.state(), strictly: every key of m.state() present with the exact shape (F32, or BF16 /
// F16 widened exactly), no duplicate and no extra key. The Error names the source and the first missing (in
// m.state() order), misshapen or unexpected (in the file's order) key. Nothing is copied unless everything matches.
// Tensors may live on any device.
void load_state(Module& m, const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& source);

// Replaces m's parameters by torch_ema's shadows (`ema_root`: the EG_EMA file's root dict, its 'shadow_params').
void apply_ema(Module& m, const PickleValue& ema_root, const std::string& source);
// The same from the list itself: its length must be that of m.parameters() (each parameter gets its shadow) or the
// number of trainable parameters (each trainable one does, in order; frozen ones keep their values). Any other
// length, or a shadow whose shape differs from its parameter's (named), is an Error; nothing changes then.
void apply_ema_shadows(Module& m, const std::vector<Tensor>& shadows, const std::string& source);

// Loads an official checkpoint (raw weights, or EMA weights: the EMA file must then exist). CPU, eval mode.
std::unique_ptr<Colorizer> load_official_colorizer(const OfficialCheckpoint& checkpoint, bool use_ema);

// A state dict from a file: a .safetensors file (by its extension), or else a torch.save file of either format whose
// root is a dict of tensors (torchvision's vgg16 file, BigGAN's G_ema_256.pth and D_256.pth). Names in file order.
NamedTensors load_state_dict_file(const std::string& path);

// Our format (see above). CUDA tensors are copied to the host for saving. `storage`: F32 (a bit-exact round trip),
// or BF16 / F16, each F32 value rounded to nearest, ties to even; a finite value beyond F16's range is an Error
// naming the tensor, and nothing is written.
void save_colorizer(const std::string& path, Colorizer& colorizer, DType storage = DType::F32);
std::unique_ptr<Colorizer> load_colorizer(const std::string& path);  // CPU, eval mode

// The ColorizerConfig as the JSON object our files store, and back (strict: every key, the right types, no
// unknown key; an Error starts with `source`).
std::string colorizer_config_to_json(const ColorizerConfig& config);
ColorizerConfig colorizer_config_from_json(const std::string& json, const std::string& source);

// Either kind of weights: an official checkpoint folder (EMA weights when `use_ema`, the given or highest epoch,
// config.pickle found as find_official_checkpoint does) or one of our .safetensors files (which holds one set of
// weights: `use_ema`, `epoch` and `config_path` do not apply to it).
struct ColorizerSource {
  bool use_ema = true;  // the official inference scripts run with --use_ema
  std::optional<int> epoch;
  std::string config_path;
};
std::unique_ptr<Colorizer> load_any_colorizer(const std::string& path, const ColorizerSource& options = {});

}  // namespace bigcolor
