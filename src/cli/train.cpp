// `bigcolor train`: builds the models, the data loader and the Trainer, and runs the epochs with logging, sample
// sheets, checkpoints, resuming and clean stops (see train.h for the run folder's layout).
#include "cli/train.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/common.h"
#include "cli/process_groups.h"
#include "cli/ranks.h"
#include "cli/train_ranks.h"
#include "cli/train_samples.h"
#include "tensor/files.h"
#include "models/checkpoint.h"
#include "train/data_loader.h"
#include "train/init.h"
#include "train/train_checkpoint.h"

namespace bigcolor::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
  std::signal(signal, bigcolor_cleanup_and_die);  // a second Ctrl-C stops at once, removing a half-written file
}

struct RunPaths {
  explicit RunPaths(const std::string& out)
      : dir(out),
        checkpoints(dir / "checkpoints"),
        latest(checkpoints / "latest.safetensors"),
        samples(dir / "samples"),
        log(dir / "log.jsonl"),
        run_json(dir / "run.json"),
        ema(dir / "ema.safetensors") {}
  fs::path dir, checkpoints, latest, samples, log, run_json, ema;
};

Json options_json(const TrainCliOptions& o) {
  return {{"data", o.data}, {"val", o.val}, {"init_eg", o.init_eg}, {"init_g", o.init_g}, {"init_d", o.init_d},
          {"vgg", o.vgg}, {"epochs", o.epochs}, {"batch", o.batch}, {"max_steps", o.max_steps},
          {"image_size", o.image_size}, {"lr", o.lr}, {"lr_d", o.lr_d}, {"lr_decay", o.lr_decay},
          {"ema_decay", o.ema_decay}, {"coef_adv", o.coef_adv}, {"coef_mse", o.coef_mse},
          {"coef_l1", o.coef_l1}, {"coef_ab", o.coef_ab}, {"coef_lpips", o.coef_lpips}, {"coef_enhance", o.no_enhance ? 0.0f : o.coef_enhance},
          {"use_enhance", !o.no_enhance}, {"no_discriminator", o.no_discriminator}, {"precision", o.precision}, {"loss_scale", o.loss_scale}, {"loss_scale_interval", o.loss_scale_interval}, {"z_std", o.z_std}, {"min_colorfulness", o.min_colorfulness},
          {"class_mapping", o.class_mapping}, {"seed", o.seed}, {"width", o.width}, {"n_classes", o.n_classes}};
}


// On resume, the log keeps the lines up to the checkpoint's step (a crashed run may have logged further).
void truncate_log(const fs::path& log, std::int64_t last_step) {
  if (!fs::exists(log)) return;
  std::ifstream in(log);
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (Json::parse(line).at("step").get<std::int64_t>() <= last_step) kept += line + "\n";
    } catch (const Json::exception&) {  // a torn last line of a killed run
    }
  }
  write_file_atomically(log, kept);
}

struct Models {
  std::unique_ptr<Colorizer> eg;
  std::unique_ptr<Discriminator> d;
  std::unique_ptr<VGG16Features> vgg;
};

// BigGAN generator weights (G_ema_256.pth) into the colorizer's G, strictly, except that DGP's unused instance-norm
// parameters (blocks.*.in1/in2, frozen, never computed with) may be absent: the official code loads this file with
// strict=False, and a file without them keeps their initial values (weight 1, bias 0).
void load_generator(Colorizer& eg, const std::string& path) {
  NamedTensors tensors = load_state_dict_file(path);
  std::set<std::string> present;
  for (const auto& [name, t] : tensors) present.insert(name);
  int filled = 0;
  for (const Module::NamedTensor& s : eg.G.state()) {
    const bool unused_norm = s.name.find(".in1.") != std::string::npos || s.name.find(".in2.") != std::string::npos;
    if (unused_norm && !present.count(s.name)) {
      tensors.emplace_back(s.name, s.tensor.clone());
      ++filled;
    }
  }
  load_state(eg.G, tensors, path);
  if (filled > 0)
    std::cerr << "bigcolor train: " << path << " has no unused instance-norm parameters (in1/in2); " << filled
              << " kept at their initial values" << std::endl;
}

// The models as the options ask (on the CPU; weights from the files or initialized from the seed).
Models build_models(const TrainCliOptions& o, const RunPaths& paths) {
  Models m;
  Rng init_rng(o.seed);
  if (o.resume) {
    m.eg = std::make_unique<Colorizer>(train::training_checkpoint_config(paths.latest.string()));  // weights: the checkpoint
  } else if (!o.init_eg.empty()) {
    ColorizerSource source;
    source.use_ema = false;  // fine-tuning continues from the raw weights (the EMA restarts from them)
    source.config_path = o.config_path;
    m.eg = load_any_colorizer(o.init_eg, source);
  } else {
    ColorizerConfig config;
    config.biggan.G_ch = config.biggan.D_ch = config.encoder_ch = o.width;
    config.biggan.n_classes = o.n_classes;
    try {
      m.eg = std::make_unique<Colorizer>(config);
    } catch (const Error& e) {
      throw UsageError("--width " + std::to_string(o.width) + " --n-classes " + std::to_string(o.n_classes) +
                       ": this model cannot be built: " + e.what());
    }
    train::init_orthogonal(*m.eg, init_rng);
    if (!o.init_g.empty()) load_generator(*m.eg, o.init_g);
  }
  try {
    m.d = std::make_unique<Discriminator>(m.eg->config().biggan);
  } catch (const Error& e) {
    detail::throw_error(o.resume ? paths.latest.string() : o.init_eg.empty() ? "--width " + std::to_string(o.width)
                                                                             : o.init_eg,
                        ": the discriminator of this model cannot be built: ", e.what());
  }
  if (!o.resume && !o.init_d.empty()) load_state(*m.d, load_state_dict_file(o.init_d), o.init_d);
  else if (!o.resume) train::init_orthogonal(*m.d, init_rng);
  if (o.coef_lpips > 0.0f) m.vgg = load_vgg16_features(o.vgg);
  m.eg->set_grad_enabled(true);
  m.eg->set_training(true);
  m.d->set_grad_enabled(true);
  m.d->set_training(true);
  return m;
}

void check_options(const TrainCliOptions& o, const RunPaths& paths) {
  if (o.image_size % 16 != 0) throw UsageError("--image-size " + std::to_string(o.image_size) + " is not a multiple of 16");
  if (o.width % 4 != 0)  // D's attention has 2·width channels and needs a multiple of 8 (theta, phi: channels / 8)
    throw UsageError("--width " + std::to_string(o.width) + " is not a multiple of 4");
  if (o.coef_lpips > 0.0f && o.vgg.empty())
    throw UsageError("the perceptual loss needs --vgg (torchvision's vgg16 weights), or pass --coef-lpips 0");
  if (o.resume) {
    BIGCOLOR_CHECK(fs::exists(paths.latest), paths.latest.string(), ": no checkpoint to resume from",
                   fs::exists(paths.dir) ? " (that run never wrote one: start it again without --resume)" : "");
    if (!o.init_eg.empty() || !o.init_g.empty() || !o.init_d.empty())
      throw UsageError("--resume takes every weight from the checkpoint: drop --init-eg/--init-g/--init-d");
  } else {
    // A run folder without a checkpoint (a run that failed before its first one) is started again from scratch.
    BIGCOLOR_CHECK(!fs::exists(paths.latest), paths.dir.string(),
                   ": already holds a training run (checkpoints/latest.safetensors); pass --resume to continue it or "
                   "choose another --out");
    if (!o.init_eg.empty() && !o.init_g.empty()) throw UsageError("--init-eg already holds G: drop --init-g");
  }
}

// The run folder of a fresh start: the folders are made on construction; unless keep() was called (a checkpoint
// was written), destruction removes run.json and the folders it made that are still empty. The log and sample
// sheets of a failed start stay (they say what happened); a fresh start truncates the log.
class FreshRunGuard {
 public:
  FreshRunGuard(const RunPaths& paths, bool fresh) : paths_(paths), fresh_(fresh) {
    for (const fs::path& dir : {paths.dir, paths.checkpoints, paths.samples}) {
      if (!fs::exists(dir)) made_.push_back(dir);
    }
    fs::create_directories(paths.checkpoints);
    fs::create_directories(paths.samples);
  }
  ~FreshRunGuard() {
    if (kept_) return;
    std::error_code ec;
    if (fresh_) fs::remove(paths_.run_json, ec);
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) fs::remove(*it, ec);  // only if empty
  }
  FreshRunGuard(const FreshRunGuard&) = delete;
  FreshRunGuard& operator=(const FreshRunGuard&) = delete;
  void keep() { kept_ = true; }

 private:
  const RunPaths& paths_;
  bool fresh_;
  bool kept_ = false;
  std::vector<fs::path> made_;
};

std::string format_duration(double seconds) {
  const auto s = static_cast<long long>(seconds);
  char buffer[64];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else std::snprintf(buffer, sizeof buffer, "%lldm%02llds", s / 60, s % 60);
  return buffer;
}

// "[#######.............]  35%" for the run's planned steps.
std::string progress_bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int width = 20, filled = static_cast<int>(fraction * width);
  char text[48];
  std::snprintf(text, sizeof text, "[%.*s%.*s] %3d%%", filled, "####################", width - filled,
                "....................", static_cast<int>(fraction * 100.0));
  return text;
}

// The loss terms this run trains with, as "name value" pairs for the progress line and the non-finite message:
// a run without a discriminator or with a zero coefficient would otherwise show zeros and hide the term it uses.
std::string active_losses_text(const train::StepLosses& l, const TrainCliOptions& o) {
  std::string text;
  const auto add = [&](const char* name, float value) {
    char item[48];
    std::snprintf(item, sizeof item, "%s%s %.4f", text.empty() ? "" : " ", name, static_cast<double>(value));
    text += item;
  };
  if (!o.no_discriminator) {
    add("loss_d", l.loss_d);
    add("loss_g", l.loss_g);
  }
  if (o.coef_mse > 0.0f) add("mse", l.mse);
  if (o.coef_l1 > 0.0f) add("l1", l.l1);
  if (o.coef_ab > 0.0f) add("ab", l.ab);
  if (o.coef_lpips > 0.0f) add("lpips", l.lpips);
  return text.empty() ? "no loss term" : text;
}

std::string skipped_text(const train::SkippedImages& s) {
  if (s.unreadable + s.low_colorfulness == 0) return "";
  std::string text = std::to_string(s.unreadable) + " unreadable, " + std::to_string(s.low_colorfulness) +
                     " under --min-colorfulness skipped";
  if (!s.examples.empty()) text += " (e.g. " + s.examples.front() + ")";
  return text;
}

// Every image the run trains on, with its class, in the dataset's order (the ranks must agree on it).
std::string dataset_listing(const train::Dataset& dataset) {
  std::string out;
  for (const train::DatasetSample& sample : dataset.samples) {
    out += sample.path;
    out += '\t';
    out += std::to_string(sample.class_index);
    out += '\n';
  }
  return out;
}

}  // namespace

int run_train(const TrainCliOptions& o) {
  const RunPaths paths(o.out);
  check_options(o, paths);
  const Ranks& world = Ranks::world();
  if (o.batch % world.size() != 0)
    throw UsageError("--batch " + std::to_string(o.batch) + " is the global batch: it must divide among the " +
                     std::to_string(world.size()) + " ranks");
  const int local_batch = o.batch / world.size();
  const Device device = pick_device(o.device);
  share_machine(world, device, o.threads);

  Models models = build_models(o, paths);
  const ColorizerConfig& config = models.eg->config();
  train::DatasetOptions data_options;
  data_options.mapping = train::parse_class_mapping(o.class_mapping);
  data_options.n_classes = static_cast<int>(config.biggan.n_classes);
  data_options.fixed_class = o.fixed_class;
  train::Dataset dataset = train::scan_dataset(o.data, data_options);
  std::optional<train::Dataset> val;
  if (!o.val.empty()) val = train::scan_dataset(o.val, data_options);

  models.eg->to(device);
  models.d->to(device);
  if (models.vgg) models.vgg->to(device);
  train::TrainOptions train_options;
  train_options.adam_g.lr = o.lr;
  train_options.adam_d.lr = o.lr_d;
  train_options.coef_adv = o.coef_adv;
  train_options.train_discriminator = !o.no_discriminator;
  train_options.coef_mse = o.coef_mse;
  train_options.coef_l1 = o.coef_l1;
  train_options.coef_ab = o.coef_ab;
  train_options.coef_lpips = o.coef_lpips;
  train_options.use_enhance = !o.no_enhance;
  train_options.coef_enhance = o.coef_enhance;
  train_options.z_std = o.z_std;
  train_options.ema_decay = o.ema_decay;
  train_options.lr_decay = o.lr_decay;
  train_options.precision = *parse_precision(o.precision);  // CLI11 admitted only the three names
  train_options.grad_scaler.init_scale = o.loss_scale;
  train_options.grad_scaler.growth_interval = o.loss_scale_interval;
  train::Trainer trainer(*models.eg, *models.d, models.vgg.get(), train_options, train::rank_seed(o.seed, world.rank()));

  // Under mpirun: the same command on the same files on every rank (checked), then rank 0's weights everywhere.
  const std::unique_ptr<train::ProcessGroup> group = make_process_group(world, device, o.rank_timeout);
  const TrainRanks ranks(group.get());
  const std::string run_text = options_json(o).dump();
  ranks.require_same("the options", run_text);
  ranks.require_same("the training images", dataset.summary() + "\n" + dataset_listing(dataset));

  train::TrainProgress progress;
  if (o.resume) {  // every rank reads the checkpoint (the run folder is shared), each taking its own state
    try {
      progress = train::load_training_checkpoint(paths.latest.string(), trainer, ranks.rank(), ranks.size()).progress;
    } catch (const Error& e) {
      if (group) throw CommonError(e.what());  // the same file, the same refusal on every rank
      throw;
    }
  }
  trainer.set_process_group(group.get(), /*update_ema=*/ranks.leader());

  const std::string sample_train_text = dataset.summary();
  std::optional<SampleSet> train_samples, val_samples;  // rank 0's sample sheets
  if (ranks.leader()) train_samples = load_sample_set(dataset, o.samples, o.image_size, o.seed, config);
  if (val && ranks.leader()) val_samples = load_sample_set(*val, o.samples, o.image_size, o.seed, config);

  train::LoaderOptions loader_options;
  loader_options.batch_size = local_batch;
  loader_options.rank = ranks.rank();
  loader_options.world_size = ranks.size();
  loader_options.image_size = o.image_size;
  loader_options.seed = o.seed;
  loader_options.num_threads = o.workers;
  loader_options.min_colorfulness = o.min_colorfulness;
  train::DataLoader loader(std::move(dataset), loader_options);
  const std::int64_t per_epoch = loader.max_batches_per_epoch();
  const std::int64_t all_epochs = o.epochs * per_epoch;  // at most: skipped images shorten an epoch
  const std::int64_t planned = o.max_steps > 0 ? std::min(o.max_steps, all_epochs) : all_epochs;
  const bool talk = !o.quiet && ranks.leader();
  if (talk) {
    std::cerr << "bigcolor train: " << sample_train_text << "\n  " << (o.resume ? "resuming at step " : "starting at step ")
              << progress.step << " (epoch " << progress.epoch << "), " << per_epoch << " batches of " << o.batch
              << " per epoch, " << planned << " steps planned, device " << device_name(device);
    if (group)
      std::cerr << ", " << ranks.size() << " ranks of " << local_batch << " images each (" << tensor_transport(device)
                << ")";
    std::cerr << std::endl;
  }

  // Everything that can fail at the start has worked: rank 0 makes the run folder now. Until the first checkpoint,
  // a failure removes what this start created, so the next run (fresh or --resume) is not blocked by a stray
  // run.json.
  std::optional<FreshRunGuard> guard;
  std::ofstream log;
  if (ranks.leader()) {
    guard.emplace(paths, !o.resume);
    if (o.resume) truncate_log(paths.log, progress.step);
    else write_file_atomically(paths.run_json, options_json(o).dump(2) + "\n");
    log.open(paths.log, o.resume ? std::ios::app : std::ios::trunc);
    BIGCOLOR_CHECK(log.good(), paths.log.string(), ": cannot open for appending");
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const bool tty = isatty(STDERR_FILENO) != 0;
  const Stopwatch run_clock;
  double last_log_time = 0.0;
  std::int64_t images_since_log = 0, steps_this_session = 0, last_checkpoint_step = o.resume ? progress.step : -1;
  const auto last_checkpoint_text = [&] {
    return last_checkpoint_step >= 0 ? "the last good checkpoint is " + paths.latest.string() + " (step " +
                                           std::to_string(last_checkpoint_step) + ")"
                                     : std::string("no checkpoint was written yet");
  };

  const auto save_checkpoint = [&] {  // on every rank (rank 0 gathers their states), rank 0 writes
    const std::vector<train::RankProgress> states = ranks.gather(train::rank_progress(trainer, progress.data_cursor));
    if (ranks.leader()) {
      train::save_training_checkpoint(paths.latest.string(), trainer, progress, run_text,
                                      group ? states : std::vector<train::RankProgress>{});
      train::export_ema_colorizer(paths.ema.string(), trainer);
      guard->keep();
    }
    last_checkpoint_step = progress.step;
  };
  const auto write_samples = [&] {
    if (!ranks.leader()) return;
    char name[64];
    std::snprintf(name, sizeof name, "step_%07lld_train.png", static_cast<long long>(progress.step));
    write_sample_sheet((paths.samples / name).string(), trainer, *train_samples);
    if (val_samples) {
      std::snprintf(name, sizeof name, "step_%07lld_val.png", static_cast<long long>(progress.step));
      write_sample_sheet((paths.samples / name).string(), trainer, *val_samples);
    }
  };

  bool first_epoch = true, done = progress.step >= planned;
  try {
    for (std::int64_t epoch = progress.epoch; epoch < o.epochs && !done; ++epoch) {
      trainer.set_epoch(epoch);
      loader.start_epoch(first_epoch ? train::LoaderPosition{epoch, progress.batch_in_epoch, progress.data_cursor}
                                     : train::LoaderPosition{epoch, 0, 0});
      first_epoch = false;
      while (true) {
        std::optional<train::Batch> batch = loader.next();
        // The epoch ends for all when one rank's shard is used up (skipped images shorten shards unevenly).
        if (!ranks.all(batch.has_value())) break;
        train::StepBatch step_batch;
        step_batch.x = batch->x;
        step_batch.classes = batch->classes;
        const train::StepLosses losses = trainer.step(step_batch);  // averaged over the ranks
        ++progress.step;
        ++steps_this_session;
        images_since_log += o.batch;
        progress.epoch = batch->next.epoch;
        progress.batch_in_epoch = batch->next.batch;
        progress.data_cursor = batch->next.cursor;

        if (!losses.finite()) {
          if (tty && talk) std::cerr << "\n";
          const std::string message = "step " + std::to_string(progress.step) + " (epoch " + std::to_string(epoch) +
                                      ", batch " + std::to_string(batch->index) + "): a loss is not finite (" +
                                      active_losses_text(losses, o) + "); training stopped, " + last_checkpoint_text();
          if (group) throw CommonError(message);  // the losses are the ranks' means: every rank stops here
          throw Error(message);
        }
        // The first and the last step are always logged, so the log ends with the run's final losses and step.
        const bool log_now = progress.step % o.log_every == 0 || progress.step == 1 || progress.step == planned;
        if (log_now && ranks.leader()) {
          const double now = run_clock.seconds();
          const double rate = images_since_log / std::max(now - last_log_time, 1e-9);
          Json line{{"step", progress.step}, {"epoch", epoch}, {"batch", batch->index}, {"loss_d", losses.loss_d},
                    {"loss_g", losses.loss_g}, {"mse", losses.mse}, {"lpips", losses.lpips},
                    {"images_per_s", rate}, {"lr_g", trainer.adam_g().lr()}, {"lr_d", trainer.adam_d().lr()},
                    {"seconds", now}};
          if (o.coef_l1 > 0.0f) line["l1"] = losses.l1;
          if (o.coef_ab > 0.0f) line["ab"] = losses.ab;
          if (train_options.precision == Precision::FP16) {  // the loss scale used and the steps it made skip
            line["loss_scale"] = losses.loss_scale;
            line["skipped_steps"] = trainer.grad_scaler().skipped_steps();
          }
          if (group) {  // where rank 0's step went: its time in the collectives, and all-reduces run behind the backward
            line["ranks"] = ranks.size();
            line["step_s"] = trainer.last_step_timing().total;
            line["communication_s"] = trainer.last_step_timing().communication;
            line["overlapped_s"] = trainer.last_step_timing().overlapped;
          }
          log << line.dump() << "\n";
          log.flush();
          if (talk) {
            const double eta = (planned - progress.step) * (now / static_cast<double>(steps_this_session));
            char text[320];
            std::snprintf(text, sizeof text,
                          "%s epoch %lld/%d batch %lld/%lld step %lld | %s | %.2f img/s | ETA %s",
                          progress_bar(static_cast<double>(progress.step) / static_cast<double>(planned)).c_str(),
                          static_cast<long long>(epoch + 1), o.epochs, static_cast<long long>(batch->index + 1),
                          static_cast<long long>(per_epoch), static_cast<long long>(progress.step),
                          active_losses_text(losses, o).c_str(), rate, format_duration(eta).c_str());
            std::cerr << (tty ? "\r" : "") << text << (tty ? "\x1b[K" : "\n") << std::flush;
          }
          images_since_log = 0;
          last_log_time = now;
        }
        if (o.sample_every > 0 && progress.step % o.sample_every == 0) write_samples();
        done = progress.step >= planned;
        if (progress.step % o.checkpoint_every == 0 || done) save_checkpoint();
        if (ranks.any(g_stop_signal != 0)) {  // a Ctrl-C reaches the ranks at different moments: agree first
          if (last_checkpoint_step != progress.step) save_checkpoint();
          if (tty && talk) std::cerr << "\n";
          if (ranks.leader())
            std::cerr << "bigcolor train: interrupted at step " << progress.step << "; checkpoint saved to "
                      << paths.latest.string() << " (continue with --resume)" << std::endl;
          return 130;
        }
        if (done) break;
      }
      if (!done) {  // the epoch ran to its end (a run that stops mid-epoch resumes inside it)
        progress.epoch = epoch + 1;
        progress.batch_in_epoch = 0;
        progress.data_cursor = 0;
        // A checkpoint written at this epoch's last step already resumes correctly (its loader position ends the
        // epoch at once): no second copy of the same weights.
        if (last_checkpoint_step != progress.step) save_checkpoint();
        char name[64];  // the EMA weights of each epoch, as the official run keeps EG_EMA_NNN.ckpt
        std::snprintf(name, sizeof name, "ema_epoch_%03lld.safetensors", static_cast<long long>(epoch));
        if (ranks.leader()) train::export_ema_colorizer((paths.checkpoints / name).string(), trainer);
        const std::string skipped = skipped_text(ranks.sum(loader.skipped_this_epoch()));
        if (talk && !skipped.empty()) std::cerr << (tty ? "\n" : "") << "epoch " << epoch << ": " << skipped << std::endl;
      }
    }
  } catch (const CommonError&) {
    throw;
  } catch (const Error& e) {
    // This rank alone may have failed (its data, a rank that stopped answering): the command ends every rank.
    if (group) throw Error(std::string(e.what()) + "; " + last_checkpoint_text());
    throw;
  }
  if (last_checkpoint_step != progress.step) save_checkpoint();
  write_samples();
  const std::string skipped = skipped_text(ranks.sum(loader.skipped_total()));
  if (!ranks.leader()) return 0;
  if (tty && talk) std::cerr << "\n";
  std::cerr << "bigcolor train: " << progress.step << " steps done in " << format_duration(run_clock.seconds())
            << "; checkpoint " << paths.latest.string() << ", EMA weights " << paths.ema.string()
            << ", peak host memory " << format_bytes(peak_host_memory()) << std::endl;
  if (!skipped.empty()) std::cerr << "bigcolor train: images " << skipped << std::endl;
  return 0;
}

}  // namespace bigcolor::cli
