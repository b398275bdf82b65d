// `bigcolor convert`: an official checkpoint folder (EG_NNN.ckpt [+ EG_EMA_NNN.ckpt], args.pkl, config.pickle), or
// one of our .safetensors colorizer files, -> one .safetensors file of ours (models/checkpoint.h save_colorizer:
// every state tensor under its official name, the configuration in the metadata), written atomically. The EMA
// weights are converted unless --no-ema; --storage bf16|f16 stores the weights in half the bytes (loading widens
// them to F32 exactly).
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/convert.h"
#include "cli/common.h"
#include "kernels/precision.h"
#include "models/checkpoint.h"

namespace bigcolor::cli {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// --storage takes the precision names (fp32, bf16, fp16); a weight is stored as that precision's operand type.
DType storage_dtype(const std::string& name) {
  const std::optional<Precision> p = parse_precision(name);
  BIGCOLOR_CHECK(p.has_value(), "--storage ", name, ": expected fp32, bf16 or fp16");
  return operand_dtype(*p);
}

}  // namespace

int run_convert(const ConvertOptions& o) {
  const Stopwatch watch;
  std::error_code ec;
  BIGCOLOR_CHECK(fs::exists(o.ckpt, ec), "--ckpt ", o.ckpt, ": no such file or folder");
  storage_dtype(o.storage);  // a bad name is refused before anything is read
  const bool folder = fs::is_directory(o.ckpt, ec);
  BIGCOLOR_CHECK(folder || ends_with(o.ckpt, ".safetensors"), "--ckpt ", o.ckpt, ": convert reads an official ",
                 "checkpoint folder (EG_NNN.ckpt, args.pkl, config.pickle) or one of our .safetensors files");
  BIGCOLOR_CHECK(folder || (o.epoch < 0 && !o.no_ema && o.config_path.empty()), "--ckpt ", o.ckpt, ": a ",
                 ".safetensors file holds one set of weights; --epoch, --no-ema and --config apply to a folder only");
  BIGCOLOR_CHECK(o.overwrite || !fs::exists(fs::symlink_status(o.output, ec)), o.output,
                 " already exists (--overwrite replaces it)");
  BIGCOLOR_CHECK(!fs::is_directory(o.output, ec), o.output, " is a folder; -o names the .safetensors file to write");
  BIGCOLOR_CHECK(!fs::exists(o.output, ec) || !fs::equivalent(o.ckpt, o.output, ec), o.output,
                 " is the file being converted; write to another file");
  std::unique_ptr<Colorizer> model;
  std::string what;
  if (folder) {
    const OfficialCheckpoint ck =
        find_official_checkpoint(o.ckpt, o.epoch >= 0 ? std::optional<int>(o.epoch) : std::nullopt, o.config_path);
    model = load_official_colorizer(ck, !o.no_ema);
    what = std::string(o.no_ema ? "raw" : "EMA") + " weights of epoch " + std::to_string(ck.epoch);
  } else {
    model = load_colorizer(o.ckpt);
    what = "the weights";
  }
  model->set_grad_enabled(false);
  save_colorizer(o.output, *model, storage_dtype(o.storage));
  if (!o.quiet) {
    std::size_t tensors = 0;
    for (const Module::NamedTensor& s : model->state()) tensors += s.tensor.defined() ? 1 : 0;
    std::cerr << "wrote " << o.output << ": " << what << " from " << o.ckpt << ", " << tensors << " tensors stored as "
              << o.storage << ", " << format_bytes(fs::file_size(o.output, ec)) << ", in "
              << format_seconds(watch.seconds()) << std::endl;
  }
  return 0;
}

}  // namespace bigcolor::cli
