// `bigcolor convert`: an official checkpoint folder (EG_NNN.ckpt [+ EG_EMA_NNN.ckpt], args.pkl, config.pickle) ->
// one .safetensors file of ours (models/checkpoint.h save_colorizer: every state tensor under its official name,
// the configuration in the metadata), written atomically. The EMA weights are converted unless --no-ema.
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/convert.h"
#include "cli/common.h"
#include "models/checkpoint.h"

namespace bigcolor::cli {

namespace fs = std::filesystem;

int run_convert(const ConvertOptions& o) {
  const Stopwatch watch;
  std::error_code ec;
  BIGCOLOR_CHECK(fs::exists(o.ckpt, ec), "--ckpt ", o.ckpt, ": no such file or folder");
  BIGCOLOR_CHECK(fs::is_directory(o.ckpt, ec), "--ckpt ", o.ckpt, ": convert reads an official checkpoint folder ",
                 "(EG_NNN.ckpt, args.pkl, config.pickle), not a file");
  BIGCOLOR_CHECK(o.overwrite || !fs::exists(fs::symlink_status(o.output, ec)), o.output,
                 " already exists (--overwrite replaces it)");
  BIGCOLOR_CHECK(!fs::is_directory(o.output, ec), o.output, " is a folder; -o names the .safetensors file to write");
  const OfficialCheckpoint ck =
      find_official_checkpoint(o.ckpt, o.epoch >= 0 ? std::optional<int>(o.epoch) : std::nullopt, o.config_path);
  const std::unique_ptr<Colorizer> model = load_official_colorizer(ck, !o.no_ema);
  model->set_grad_enabled(false);
  save_colorizer(o.output, *model);
  if (!o.quiet) {
    std::size_t tensors = 0;
    for (const Module::NamedTensor& s : model->state()) tensors += s.tensor.defined() ? 1 : 0;
    std::cerr << "wrote " << o.output << ": " << (o.no_ema ? "raw" : "EMA") << " weights of epoch " << ck.epoch
              << " from " << o.ckpt << ", " << tensors << " tensors, " << format_bytes(fs::file_size(o.output, ec))
              << ", in " << format_seconds(watch.seconds()) << std::endl;
  }
  return 0;
}

}  // namespace bigcolor::cli
