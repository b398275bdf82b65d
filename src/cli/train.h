// `bigcolor train`: BigColor's training recipe (spec section 7) on a folder of photos, with checkpoints that resume
// exactly. The run folder (--out) holds:
//   run.json                      the options of the run (written when it starts; kept on --resume)
//   log.jsonl                     one JSON object per logged step: step, epoch, batch, loss_d, loss_g, mse, lpips,
//                                 images_per_s, lr_g, lr_d, seconds (since the run started)
//   checkpoints/latest.safetensors   everything to resume (train/train_checkpoint.h), replaced atomically
//   checkpoints/ema_epoch_NNN.safetensors  the EMA weights at the end of each epoch (a colorizer file)
//   ema.safetensors               the EMA weights as a colorizer file (`bigcolor colorize --ckpt ema.safetensors`)
//   samples/step_NNNNNNN_{train,val}.png  gray input | output | EMA output | ground truth, one row per image
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct TrainCliOptions {
  std::string data, val, out;
  std::string init_eg, init_g, init_d, vgg, config_path;
  bool resume = false;
  int epochs = 12;
  int batch = 8;
  std::int64_t max_steps = 0;  // 0: all epochs
  int image_size = 256;
  double lr = 1e-4, lr_d = 3e-5, lr_decay = 0.9, ema_decay = 0.999;
  float coef_adv = 0.03f, coef_mse = 1.0f, coef_l1 = 0.0f, coef_ab = 0.0f, coef_lpips = 0.2f, coef_enhance = 1.2f, z_std = 0.8f;
  bool no_enhance = false;
  bool no_discriminator = false;  // regression losses only (train::TrainOptions::train_discriminator)
  std::string precision = "fp32";  // fp32, bf16, fp16 (train::TrainOptions::precision)
  double loss_scale = 65536.0;        // fp16: GradScaler's init_scale
  std::int64_t loss_scale_interval = 2000;  // fp16: GradScaler's growth_interval
  double min_colorfulness = 0.0;
  std::string class_mapping = "auto";
  std::optional<int> fixed_class;
  int width = 96, n_classes = 1000;
  std::uint64_t seed = 42;
  std::string device = "auto";
  int workers = 0, threads = 0;
  double rank_timeout = 600.0;  // under mpirun: the deadline of every collective (cli/process_groups.h)
  int log_every = 10, sample_every = 500, checkpoint_every = 1000, samples = 4;
  bool quiet = false;
};

// Registers the subcommand and its options (parsed into `options`).
CLI::App* add_train_command(CLI::App& app, TrainCliOptions& options);

// Runs it. Returns the exit status: 0 done, 1 a NaN/Inf loss stopped the run, 130 interrupted (Ctrl-C or SIGTERM:
// a checkpoint was saved first). Throws Error (exit 1) for bad input, UsageError (exit 2) for bad options.
int run_train(const TrainCliOptions& options);

}  // namespace bigcolor::cli
