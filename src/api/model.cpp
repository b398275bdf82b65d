// bigcolor::Model (bigcolor/bigcolor.h): a loaded colorizer and the whole colorize pipeline for one photo.

#include <cmath>
#include <utility>

#include "api/pipeline.h"
#include "bigcolor/bigcolor.h"
#include "imaging/color.h"
#include "imaging/image.h"
#include "imaging/resize.h"
#include "kernels/ops_lowp.h"
#include "kernels/precision.h"
#include "models/checkpoint.h"
#include "models/colorizer.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"

namespace bigcolor {

const char* version() { return BIGCOLOR_VERSION; }  // the CMake project version

Device resolve_placement(Placement p, const std::string& option) {
  switch (p) {
    case Placement::CPU: return Device::CPU;
    case Placement::CUDA:
#ifdef BIGCOLOR_WITH_CUDA
      BIGCOLOR_CHECK(cuda_available(), option, " cuda: no CUDA GPU is visible (use ", option, " cpu or auto)");
#else
      throw Error(option + " cuda: this build of bigcolor has no CUDA backend (use " + option + " cpu or auto)");
#endif
      return Device::CUDA;
    case Placement::Auto: break;
  }
  return cuda_available() ? Device::CUDA : Device::CPU;
}

std::string size_text(std::int64_t w, std::int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

struct Model::State {
  std::unique_ptr<Colorizer> network;
  Device device = Device::CPU;
  Precision precision = Precision::FP32;
  std::string source;
};

Model::Model(std::unique_ptr<State> state) : state_(std::move(state)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

namespace {

}  // namespace

void check_options(const ColorizeOptions& o) {
  const ResizeMode mode = parse_resize_mode(o.resize);
  if (mode == ResizeMode::PowerOf && o.size % (1 << o.num_power) != 0)
    throw OptionError("--size " + std::to_string(o.size) + " must be a multiple of 2^--num-power = " +
                      std::to_string(1 << o.num_power) + " for --resize powerof");
  if (mode == ResizeMode::Square && o.size % 16 != 0)
    throw OptionError("--size " + std::to_string(o.size) + " must be a multiple of 16 for --resize square");
  if (o.batch < 1) throw OptionError("--batch must be at least 1");
  if (o.num_z < 1) throw OptionError("--num-z must be at least 1");
  if (!std::isfinite(o.c_scale) || !std::isfinite(o.c_bias) || !std::isfinite(o.z_std))
    throw OptionError("--c-scale, --c-bias and --z-std must be finite numbers (a NaN class embedding gives a "
                      "black picture)");
}

namespace {

// What makes the model input a multiple of 16 on both sides, for the --resize mode in use.
std::string multiple_of_16_hint(ResizeMode mode, int num_power) {
  switch (mode) {
    case ResizeMode::PowerOf:
      return num_power < 4 ? "--num-power 4 or more makes the long side one; --size must be one too"
                           : "--size must be a multiple of 16";
    case ResizeMode::Square: return "--size must be a multiple of 16";
    case ResizeMode::Original: return "--resize original keeps the photo's own size; --resize powerof fits any photo";
    case ResizeMode::Absolute:
      return "--resize absolute scales the long side freely; --resize powerof rounds it up to a multiple of 16";
  }
  return "";
}

// The z rows: explicit, or drawn. (K, dim_z) F32 CPU.
Tensor z_rows(const ColorizeOptions& o, std::int64_t dim_z) {
  if (o.z.empty()) return draw_z(o.seed, o.z_std, o.num_z, dim_z);
  std::vector<float> values;
  for (std::size_t k = 0; k < o.z.size(); ++k) {
    BIGCOLOR_CHECK(static_cast<std::int64_t>(o.z[k].size()) == dim_z, "z row ", k, " has ", o.z[k].size(),
                   " values; this model needs ", dim_z);
    for (const float v : o.z[k]) BIGCOLOR_CHECK(std::isfinite(v), "z row ", k, " holds a NaN or infinite value");
    values.insert(values.end(), o.z[k].begin(), o.z[k].end());
  }
  return Tensor::from_vector(values, {static_cast<std::int64_t>(o.z.size()), dim_z});
}

}  // namespace

Model Model::load(const std::string& path, const LoadOptions& options) {
  auto state = std::make_unique<State>();
  state->device = resolve_placement(options.device, "device");
  ColorizerSource source;
  source.use_ema = options.use_ema;
  if (options.epoch >= 0) source.epoch = options.epoch;
  source.config_path = options.config_path;
  state->network = load_any_colorizer(path, source);
  state->network->set_training(false);
  state->network->set_grad_enabled(false);
  state->network->place_for_inference(state->device);  // eval, no gradients; unused generator blocks stay on the CPU
  state->network->set_weights_fixed(true);  // W/σ once, and bf16 copies converted once (layers/module.h)
  state->source = path;
  state->precision = options.precision;
  return Model(std::move(state));
}

void Model::check(const ColorizeOptions& o) const {
  check_options(o);
  const std::vector<Conditioning> conditionings = resolve_conditionings(o.classes, o.mix, o.mix_weights);
  class_embeddings(*state_->network, conditionings, o.c_scale, o.c_bias);  // classes inside the model
  z_rows(o, state_->network->config().biggan.effective_dim_z());
}

std::vector<Colorization> Model::colorize(const Image& photo, const ColorizeOptions& o,
                                          const ProgressCallback& progress, const std::string& input_name) const {
  check_options(o);
  Colorizer& net = *state_->network;
  const std::vector<Conditioning> conditionings = resolve_conditionings(o.classes, o.mix, o.mix_weights);
  const Tensor embeddings = class_embeddings(net, conditionings, o.c_scale, o.c_bias);  // (C, shared_dim)
  const Tensor z = z_rows(o, net.config().biggan.effective_dim_z());                    // (K, dim_z)

  const ResizeMode mode = parse_resize_mode(o.resize);
  const Tensor gray = to_gray(photo);  // (1, 1, H, W)
  const ImageSize msize = model_input_size(photo.height, photo.width, mode, o.size, o.num_power);
  BIGCOLOR_CHECK(msize.height % 16 == 0 && msize.width % 16 == 0, input_name, ": the model input would be ",
                 size_text(msize.width, msize.height), " (--resize ", resize_mode_name(mode),
                 "), but the model needs both sides to be multiples of 16 (", multiple_of_16_hint(mode, o.num_power),
                 ")");
  const Tensor x = resize_bilinear(gray, msize.height, msize.width);

  // Every conditioning with every z, z fastest.
  const int num_z = static_cast<int>(z.dim(0));
  const auto count = static_cast<std::int64_t>(conditionings.size()) * num_z;
  const std::int64_t dim_c = embeddings.dim(1), dim_z = z.dim(1);
  const std::vector<float> emb = embeddings.to_vector(), zs = z.to_vector();
  std::vector<float> c_rows, z_all;
  for (std::size_t i = 0; i < conditionings.size(); ++i) {
    for (int k = 0; k < num_z; ++k) {
      c_rows.insert(c_rows.end(), emb.begin() + i * dim_c, emb.begin() + (i + 1) * dim_c);
      z_all.insert(z_all.end(), zs.begin() + k * dim_z, zs.begin() + (k + 1) * dim_z);
    }
  }
  const PrecisionScope precision(state_->precision);  // the matrix products of this forward (kernels/ops_lowp.h)
  const Tensor out = run_network(net, x, Tensor::from_vector(c_rows, {count, dim_c}),
                                 Tensor::from_vector(z_all, {count, dim_z}), o.batch, state_->device,
                                 [&](int first, int n) {
                                   if (progress) progress({first, n, static_cast<int>(count)});
                                 });
  const std::vector<float> all = out.to_vector();
  for (const float v : all)
    BIGCOLOR_CHECK(std::isfinite(v), input_name, ": the network's output holds NaN or infinite values (damaged ",
                   "weights or a numerical fault on ", device_name(state_->device), "); no result for this input");

  std::vector<Colorization> results;
  const std::int64_t h = msize.height, w = msize.width, plane = 3 * h * w;
  for (std::int64_t r = 0; r < count; ++r) {
    const Conditioning& c = conditionings[static_cast<std::size_t>(r / num_z)];
    const int k = static_cast<int>(r % num_z);
    const std::vector<float> one(all.begin() + r * plane, all.begin() + (r + 1) * plane);
    Colorization result;
    result.class_a = c.class_a;
    result.class_b = c.class_b;
    result.weight = c.weight;
    result.z_index = k;
    result.name = result_name("", c, k, num_z, "");
    result.image = to_image(finish_result(Tensor::from_vector(one, {1, 3, h, w}), gray, x, o.no_upsample, o.rgb));
    results.push_back(std::move(result));
  }
  return results;
}

std::vector<Colorization> Model::colorize_file(const std::string& path, const ColorizeOptions& options,
                                               const ProgressCallback& progress) const {
  return colorize(load_image(path), options, progress, path);
}

ModelInfo Model::info() const {
  const ColorizerConfig& c = state_->network->config();
  ModelInfo info;
  info.source = state_->source;
  info.device = device_name(state_->device);
  info.n_classes = static_cast<int>(c.biggan.n_classes);
  info.dim_z = static_cast<int>(c.biggan.effective_dim_z());
  info.generator_width = static_cast<int>(c.biggan.G_ch);
  info.encoder_width = static_cast<int>(c.encoder_ch);
  info.precision = precision_name(state_->precision);
  info.precision_engine = ops::lowp::engine_description(state_->device, state_->precision);
  return info;
}

Colorizer& Model::network() const { return *state_->network; }

}  // namespace bigcolor
