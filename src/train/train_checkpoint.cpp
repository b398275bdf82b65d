#include "train/train_checkpoint.h"

#include <bit>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace bigcolor::train {

namespace {

constexpr const char* kFormatKey = "bigcolor.training_format";
constexpr const char* kFormatVersion = "1";
constexpr const char* kProgressKey = "bigcolor.progress";
constexpr const char* kRunKey = "bigcolor.run";

using Json = nlohmann::json;

void add_prefixed(std::map<std::string, Tensor>& out, const std::string& prefix,
                  const std::map<std::string, Tensor>& tensors) {
  for (const auto& [name, t] : tensors) out[prefix + name] = t;
}

// The entries of `file` under `prefix`, with the prefix removed.
std::map<std::string, Tensor> strip_prefix(const SafetensorsFile& file, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

NamedTensors state_of(const std::map<std::string, Tensor>& tensors) { return {tensors.begin(), tensors.end()}; }

const std::string& metadata(const SafetensorsFile& file, const char* key) {
  const auto it = file.metadata.find(key);
  BIGCOLOR_CHECK(it != file.metadata.end(), file.path, ": no '", key, "' metadata (not a bigcolor training checkpoint?)");
  return it->second;
}

Json rng_json(std::uint64_t seed, const Rng::State& rng) {
  return {{"seed", seed},
          {"counter", rng.counter},
          {"next_word", rng.next_word},
          {"has_spare_normal", rng.has_spare_normal},
          {"spare_normal_bits", std::bit_cast<std::uint32_t>(rng.spare_normal)}};
}

void rng_from_json(const Json& r, std::uint64_t& seed, Rng::State& rng) {
  seed = r.at("seed").get<std::uint64_t>();
  rng.counter = r.at("counter").get<std::uint64_t>();
  rng.next_word = r.at("next_word").get<std::uint32_t>();
  rng.has_spare_normal = r.at("has_spare_normal").get<bool>();
  rng.spare_normal = std::bit_cast<float>(r.at("spare_normal_bits").get<std::uint32_t>());
}

SafetensorsFile open_checkpoint(const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  BIGCOLOR_CHECK(metadata(file, kFormatKey) == kFormatVersion, path, ": training checkpoint format '",
                 metadata(file, kFormatKey), "' is not supported (this build reads ", kFormatVersion, ")");
  return file;
}

}  // namespace

RankProgress rank_progress(Trainer& trainer, std::int64_t data_cursor) {
  return {data_cursor, trainer.rng().seed(), trainer.rng().state()};
}

void save_training_checkpoint(const std::string& path, Trainer& trainer, const TrainProgress& progress,
                              const std::string& run_json, const std::vector<RankProgress>& ranks) {
  std::map<std::string, Tensor> tensors;
  for (const Module::NamedTensor& s : trainer.eg().state()) tensors["EG." + s.name] = s.tensor;
  for (const Module::NamedTensor& s : trainer.d().state()) tensors["D." + s.name] = s.tensor;
  add_prefixed(tensors, "EMA.", trainer.ema().shadows());
  add_prefixed(tensors, "adam_g.", trainer.adam_g().state());
  add_prefixed(tensors, "adam_d.", trainer.adam_d().state());

  const Rng::State rng = trainer.rng().state();
  Json progress_json = {
      {"step", progress.step},
      {"epoch", progress.epoch},
      {"batch_in_epoch", progress.batch_in_epoch},
      {"data_cursor", progress.data_cursor},
      {"adam_g_steps", trainer.adam_g().steps()},
      {"adam_d_steps", trainer.adam_d().steps()},
      {"lr_g", trainer.adam_g().lr()},
      {"lr_d", trainer.adam_d().lr()},
      {"ema_updates", trainer.ema().num_updates()},
      {"rng", rng_json(trainer.rng().seed(), rng)},
      {"precision", precision_name(trainer.options().precision)}};
  if (trainer.grad_scaler().enabled()) {  // fp16: the loss scale's state, so a resume scales exactly as before
    const GradScaler::State s = trainer.grad_scaler().state();
    progress_json["grad_scaler"] = {
        {"scale", s.scale}, {"growth_tracker", s.growth_tracker}, {"skipped_steps", s.skipped_steps}};
  }
  if (!ranks.empty()) {
    BIGCOLOR_CHECK(ranks.front().data_cursor == progress.data_cursor && ranks.front().rng_seed == trainer.rng().seed(),
                   "save_training_checkpoint: ranks[0] is not this trainer's state");
    Json list = Json::array();
    for (const RankProgress& r : ranks) list.push_back({{"data_cursor", r.data_cursor}, {"rng", rng_json(r.rng_seed, r.rng)}});
    progress_json["world_size"] = ranks.size();
    progress_json["ranks"] = list;
  }
  BIGCOLOR_CHECK(Json::accept(run_json), "save_training_checkpoint: the run description is not JSON");
  save_safetensors(path, tensors,
                   {{kFormatKey, kFormatVersion},
                    {kColorizerConfigKey, colorizer_config_to_json(trainer.eg().config())},
                    {kProgressKey, progress_json.dump()},
                    {kRunKey, run_json}});
}

ColorizerConfig training_checkpoint_config(const std::string& path) {
  const SafetensorsFile file = open_checkpoint(path);
  return colorizer_config_from_json(metadata(file, kColorizerConfigKey), path);
}

LoadedTrainingCheckpoint load_training_checkpoint(const std::string& path, Trainer& trainer, int rank,
                                                  int world_size) {
  const SafetensorsFile file = open_checkpoint(path);
  const ColorizerConfig config = colorizer_config_from_json(metadata(file, kColorizerConfigKey), path);
  BIGCOLOR_CHECK(colorizer_config_to_json(config) == colorizer_config_to_json(trainer.eg().config()), path,
                 ": the checkpoint's model configuration differs from this run's");
  Json progress;
  try {
    progress = Json::parse(metadata(file, kProgressKey));
  } catch (const Json::exception& e) {
    throw Error(path + ": the progress metadata is not valid JSON (" + e.what() + ")");
  }
  LoadedTrainingCheckpoint out;
  Rng::State rng;
  std::optional<GradScaler::State> scaler;
  std::uint64_t rng_seed = 0;
  std::int64_t adam_g_steps = 0, adam_d_steps = 0, ema_updates = 0;
  double lr_g = 0.0, lr_d = 0.0;
  try {
    out.progress.step = progress.at("step").get<std::int64_t>();
    out.progress.epoch = progress.at("epoch").get<std::int64_t>();
    out.progress.batch_in_epoch = progress.at("batch_in_epoch").get<std::int64_t>();
    out.progress.data_cursor = progress.at("data_cursor").get<std::int64_t>();
    adam_g_steps = progress.at("adam_g_steps").get<std::int64_t>();
    adam_d_steps = progress.at("adam_d_steps").get<std::int64_t>();
    ema_updates = progress.at("ema_updates").get<std::int64_t>();
    lr_g = progress.at("lr_g").get<double>();
    lr_d = progress.at("lr_d").get<double>();
    rng_from_json(progress.at("rng"), rng_seed, rng);
    // A run of one precision continues in another (the weights are FP32 in every precision); only a loss scale
    // carries over, from fp16 to fp16. Checkpoints from before --precision existed are FP32.
    if (progress.contains("grad_scaler") && trainer.grad_scaler().enabled()) {
      const Json& g = progress.at("grad_scaler");
      scaler = GradScaler::State{g.at("scale").get<double>(), g.at("growth_tracker").get<std::int64_t>(),
                                 g.at("skipped_steps").get<std::int64_t>()};
    }
    if (progress.contains("ranks")) {
      const Json& ranks = progress.at("ranks");
      out.world_size = progress.at("world_size").get<int>();
      BIGCOLOR_CHECK(ranks.is_array() && static_cast<int>(ranks.size()) == out.world_size, path,
                     ": bad progress metadata (world_size ", out.world_size, " but ", ranks.size(), " rank states)");
      if (rank < out.world_size) {
        out.progress.data_cursor = ranks.at(static_cast<std::size_t>(rank)).at("data_cursor").get<std::int64_t>();
        rng_from_json(ranks.at(static_cast<std::size_t>(rank)).at("rng"), rng_seed, rng);
      }
    }
  } catch (const Json::exception& e) {
    throw Error(path + ": bad progress metadata (" + e.what() + ")");
  }
  BIGCOLOR_CHECK(out.progress.step >= 0 && out.progress.epoch >= 0 && out.progress.batch_in_epoch >= 0, path,
                 ": negative step, epoch or batch in the progress metadata");
  // Each rank's shard and draws depend on the number of ranks: another number cannot continue this run exactly.
  BIGCOLOR_CHECK(out.world_size == world_size, path, ": written by a run of ", out.world_size,
                 out.world_size == 1 ? " process" : " ranks", "; resume it with ",
                 out.world_size == 1 ? std::string("one process (no mpirun)")
                                     : "mpirun -np " + std::to_string(out.world_size),
                 " (this run has ", world_size, world_size == 1 ? " process)" : " ranks)");
  const auto run = file.metadata.find(kRunKey);
  out.run_json = run == file.metadata.end() ? "{}" : run->second;

  // Strict loads (load_state checks everything before copying). The optimizer and EMA states are checked by
  // their own set_state the same way; the model loads run first, so a bad optimizer entry after a good model can
  // still leave the models loaded: check the optimizer entries' presence up front.
  const std::map<std::string, Tensor> adam_g = strip_prefix(file, "adam_g."), adam_d = strip_prefix(file, "adam_d.");
  const std::map<std::string, Tensor> ema = strip_prefix(file, "EMA.");
  for (const auto& [name, t] : trainer.adam_g().state())
    BIGCOLOR_CHECK(adam_g.count(name) && adam_g.at(name).shape() == t.shape(), path, ": 'adam_g.", name,
                   "' is missing or misshapen");
  for (const auto& [name, t] : trainer.adam_d().state())
    BIGCOLOR_CHECK(adam_d.count(name) && adam_d.at(name).shape() == t.shape(), path, ": 'adam_d.", name,
                   "' is missing or misshapen");
  for (const auto& [name, t] : trainer.ema().shadows())
    BIGCOLOR_CHECK(ema.count(name) && ema.at(name).shape() == t.shape(), path, ": 'EMA.", name,
                   "' is missing or misshapen");
  load_state(trainer.eg(), state_of(strip_prefix(file, "EG.")), path);
  load_state(trainer.d(), state_of(strip_prefix(file, "D.")), path);
  trainer.adam_g().set_state(adam_g, adam_g_steps, path);
  trainer.adam_d().set_state(adam_d, adam_d_steps, path);
  trainer.adam_g().set_lr(lr_g);
  trainer.adam_d().set_lr(lr_d);
  trainer.ema().set_state(ema, ema_updates, path);
  trainer.rng() = Rng(rng_seed);  // the stream's key, then its position (the encoder keeps pointing at it)
  trainer.rng().set_state(rng);
  if (scaler) trainer.grad_scaler().set_state(*scaler);
  return out;
}

void export_ema_colorizer(const std::string& path, Trainer& trainer) {
  trainer.ema().swap_into_parameters();
  try {
    save_colorizer(path, trainer.eg());
  } catch (...) {
    trainer.ema().swap_into_parameters();
    throw;
  }
  trainer.ema().swap_into_parameters();
}

}  // namespace bigcolor::train
