#include "cli/train_samples.h"

#include "imaging/image.h"
#include "kernels/ops.h"
#include "layers/functional.h"
#include "tensor/error.h"
#include "train/data_loader.h"

namespace bigcolor::cli {

SampleSet load_sample_set(const train::Dataset& dataset, int count, int image_size, std::uint64_t seed,
                          const ColorizerConfig& config) {
  std::vector<Tensor> images;
  std::vector<std::int32_t> classes;
  // Spread over the data set (its order groups images by class): indices 0, stride, 2·stride, ..., then the ones
  // after them (1, stride + 1, ...) when some cannot be read, so every image is tried once at most.
  const std::int64_t size = dataset.size(), stride = std::max<std::int64_t>(1, size / std::max(count, 1));
  std::vector<std::int64_t> order;
  for (std::int64_t offset = 0; offset < stride; ++offset)
    for (std::int64_t j = offset; j < size; j += stride) order.push_back(j);
  for (const std::int64_t index : order) {
    if (static_cast<int>(images.size()) == count) break;
    const train::DatasetSample& sample = dataset.samples[static_cast<std::size_t>(index)];
    try {
      images.push_back(train::load_training_sample(sample.path, image_size));
      classes.push_back(sample.class_index);
    } catch (const Error&) {  // unreadable: the loader reports those; a sheet just takes the next image
    }
  }
  BIGCOLOR_CHECK(!images.empty(), dataset.root, ": no image could be read for the sample sheets");
  const auto n = static_cast<std::int64_t>(images.size());
  SampleSet set;
  set.x = Tensor::empty({n, 3, image_size, image_size});
  const std::int64_t per_image = 3LL * image_size * image_size;
  for (std::int64_t i = 0; i < n; ++i)
    std::copy_n(images[static_cast<std::size_t>(i)].data<float>(), per_image, set.x.data<float>() + i * per_image);
  set.classes = Tensor::from_indices(classes, {n});
  set.z = Tensor::empty({n, config.biggan.effective_dim_z()});
  Rng rng(seed ^ 0x5a3c1e0fULL);  // not the trainer's stream: sheets never change the training draws
  rng.fill_normal(set.z, 0.0f, 0.8f);
  return set;
}

namespace {

// (N, 3, S, S) in [-1, 1] (network output) -> host floats in [0, 1]
std::vector<float> to_unit_range(const Tensor& out) {
  std::vector<float> v = out.to_vector();
  for (float& x : v) x = (x + 1.0f) / 2.0f;
  return v;
}

}  // namespace

void write_sample_sheet(const std::string& path, train::Trainer& trainer, const SampleSet& samples) {
  Colorizer& eg = trainer.eg();
  const Device device = eg.device();
  const std::int64_t n = samples.x.dim(0), s = samples.x.dim(2);
  const Tensor gray = train::grayscale(samples.x);
  const Tensor gray_dev = gray.to(device), classes = samples.classes.to(device), z = samples.z.to(device);

  eg.set_training(false);  // stored statistics, no dropout, u0 untouched
  std::vector<float> raw, ema;
  try {
    raw = to_unit_range(eg.forward(gray_dev, classes, z));
    trainer.ema().swap_into_parameters();
    try {
      ema = to_unit_range(eg.forward(gray_dev, classes, z));
    } catch (...) {
      trainer.ema().swap_into_parameters();
      throw;
    }
    trainer.ema().swap_into_parameters();
  } catch (...) {
    eg.set_training(true);
    throw;
  }
  eg.set_training(true);

  // Row i: gray | output | EMA output | truth.
  Image sheet;
  sheet.width = static_cast<int>(4 * s);
  sheet.height = static_cast<int>(n * s);
  sheet.channels = 3;
  sheet.pixels.assign(static_cast<std::size_t>(sheet.width) * sheet.height * 3, 0.0f);
  const float* g = gray.data<float>();
  const float* x = samples.x.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < s; ++y)
      for (std::int64_t col = 0; col < s; ++col)
        for (std::int64_t c = 0; c < 3; ++c) {
          const std::int64_t chw = ((i * 3 + c) * s + y) * s + col;
          const float tiles[4] = {g[(i * s + y) * s + col], raw[static_cast<std::size_t>(chw)],
                                  ema[static_cast<std::size_t>(chw)], x[chw]};
          for (std::int64_t t = 0; t < 4; ++t)
            sheet.pixels[static_cast<std::size_t>(((i * s + y) * sheet.width + t * s + col) * 3 + c)] = tiles[t];
        }
  save_image(path, sheet);
}

}  // namespace bigcolor::cli
