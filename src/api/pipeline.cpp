// The colorize pipeline's pieces (pipeline.h): conditionings, z, class embeddings, the batched forward and the
// finishing of each output, exactly as the official colorize scripts compute them.
#include "api/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "imaging/color.h"
#include "imaging/resize.h"
#include "io/imagenet_classes.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"

namespace bigcolor {


std::vector<Conditioning> resolve_conditionings(const std::vector<std::string>& classes,
                                                const std::vector<std::string>& mix,
                                                const std::vector<float>& mix_weights) {
  std::vector<Conditioning> out;
  auto add = [&out](const Conditioning& c) {  // a class or mix named twice gives its results once
    for (const Conditioning& o : out)
      if (o.class_a == c.class_a && o.class_b == c.class_b && o.weight == c.weight) return;
    out.push_back(c);
  };
  for (const std::string& spec : classes) add({resolve_imagenet_class(spec), -1, 0.0f});
  if (!mix.empty()) {
    if (mix.size() != 2) throw OptionError("--mix takes two classes, got " + std::to_string(mix.size()));
    if (mix_weights.empty()) throw OptionError("--mix needs at least one --mix-weight");
    const int a = resolve_imagenet_class(mix[0]);
    const int b = resolve_imagenet_class(mix[1]);
    for (const float w : mix_weights) {
      if (!std::isfinite(w)) throw OptionError("--mix-weight must be a finite number");
      add({a, b, w});
    }
  }
  if (out.empty()) throw OptionError("colorize needs --class (one or more classes) or --mix A B");
  return out;
}

std::string result_name(const std::string& stem, const Conditioning& conditioning, int z_index, int num_z,
                        const std::string& suffix) {
  char buffer[96];
  std::string name = stem;
  std::snprintf(buffer, sizeof buffer, "_c%03d", conditioning.class_a);
  name += buffer;
  if (conditioning.mixed()) {
    std::snprintf(buffer, sizeof buffer, "_c%03d_w%.6g", conditioning.class_b, static_cast<double>(conditioning.weight));
    name += buffer;
  }
  if (num_z > 1) {
    std::snprintf(buffer, sizeof buffer, "_z%02d", z_index);
    name += buffer;
  }
  return name + suffix;
}

Tensor draw_z(std::uint64_t seed, float z_std, int count, std::int64_t dim) {
  BIGCOLOR_CHECK(count >= 1 && dim >= 1, "draw_z: needs count >= 1 and dim >= 1");
  Rng rng(seed);
  std::vector<float> values(static_cast<std::size_t>(count * dim));
  for (float& v : values) v = rng.normal(0.0f, z_std);
  return Tensor::from_vector(values, {count, dim});
}

Tensor load_z_file(const std::string& path, std::int64_t dim) {
  const SafetensorsFile file = load_safetensors(path);
  BIGCOLOR_CHECK(file.contains("z"), path, ": no tensor named \"z\" (--z-file needs one, shaped (", dim, ") or (K, ",
                 dim, "))");
  const Tensor& z = file.at("z");
  BIGCOLOR_CHECK(z.dtype() == DType::F32, path, ": \"z\" is ", dtype_name(z.dtype()), ", expected F32");
  const bool one = z.ndim() == 1 && z.dim(0) == dim;
  const bool many = z.ndim() == 2 && z.dim(0) >= 1 && z.dim(1) == dim;
  BIGCOLOR_CHECK(one || many, path, ": \"z\" has shape ", shape_string(z.shape()), "; this model needs (", dim,
                 ") or (K, ", dim, ")");
  const std::vector<float> values = z.to_vector();
  for (const float v : values) BIGCOLOR_CHECK(std::isfinite(v), path, ": \"z\" holds a NaN or infinite value");
  return Tensor::from_vector(values, {one ? 1 : z.dim(0), dim});
}

Tensor class_embeddings(Colorizer& model, const std::vector<Conditioning>& conditionings, float c_scale,
                        float c_bias) {
  const Tensor& table = model.G.shared.weight.value;  // (n_classes, shared_dim)
  const std::int64_t n_classes = table.dim(0), dim = table.dim(1);
  const std::vector<float> t = table.to_vector();
  auto row = [&](int c) {
    BIGCOLOR_CHECK(c >= 0 && c < n_classes, "--class: class ", c, " is outside this model's ", n_classes,
                   " classes (0..", n_classes - 1, ")");
    return t.data() + static_cast<std::size_t>(c) * dim;
  };
  const auto n = static_cast<std::int64_t>(conditionings.size());
  std::vector<float> out(static_cast<std::size_t>(n * dim));
  for (std::int64_t i = 0; i < n; ++i) {
    const Conditioning& k = conditionings[i];
    const float* a = row(k.class_a);
    const float* b = k.mixed() ? row(k.class_b) : nullptr;
    const float wa = 1.0f - k.weight, wb = k.weight;
    float* o = out.data() + i * dim;
    for (std::int64_t j = 0; j < dim; ++j) {
      float c = a[j];
      if (b != nullptr) {
        const float pa = wa * a[j];
        const float pb = wb * b[j];
        c = pa + pb;
      }
      const float scaled = c_scale * c;
      o[j] = scaled + c_bias;
    }
  }
  return Tensor::from_vector(out, {n, dim});
}

Tensor run_network(Colorizer& model, const Tensor& x_model, const Tensor& c_embed, const Tensor& z, int batch,
                   Device device, const std::function<void(int, int)>& on_batch) {
  BIGCOLOR_CHECK(x_model.ndim() == 4 && x_model.dim(0) == 1 && x_model.dim(1) == 1, "run_network: x must be ",
                 "(1, 1, H, W), got ", x_model.describe());
  BIGCOLOR_CHECK(c_embed.ndim() == 2 && z.ndim() == 2 && c_embed.dim(0) == z.dim(0) && c_embed.dim(0) >= 1,
                 "run_network: c_embed ", c_embed.describe(), " and z ", z.describe(), " must be (N, D) and (N, Z)");
  BIGCOLOR_CHECK(batch >= 1, "run_network: batch must be >= 1");
  const std::int64_t count = c_embed.dim(0), h = x_model.dim(2), w = x_model.dim(3);
  const std::int64_t dim_c = c_embed.dim(1), dim_z = z.dim(1), hw = h * w;
  const std::vector<float> x = x_model.to_vector(), c = c_embed.to_vector(), zv = z.to_vector();
  std::vector<float> result(static_cast<std::size_t>(count * 3 * hw));
  for (std::int64_t first = 0; first < count; first += batch) {
    const std::int64_t n = std::min<std::int64_t>(batch, count - first);
    if (on_batch) on_batch(static_cast<int>(first), static_cast<int>(n));
    std::vector<float> xs(static_cast<std::size_t>(n * hw));
    for (std::int64_t i = 0; i < n; ++i) std::copy(x.begin(), x.end(), xs.begin() + i * hw);
    const std::vector<float> cs(c.begin() + first * dim_c, c.begin() + (first + n) * dim_c);
    const std::vector<float> zs(zv.begin() + first * dim_z, zv.begin() + (first + n) * dim_z);
    const Tensor out = model.forward_with_c(Tensor::from_vector(xs, {n, 1, h, w}, device),
                                            Tensor::from_vector(cs, {n, dim_c}, device),
                                            Tensor::from_vector(zs, {n, dim_z}, device));
    BIGCOLOR_CHECK(out.numel() == n * 3 * hw, "run_network: the model returned ", out.describe());
    const std::vector<float> o = out.to_vector();
    std::copy(o.begin(), o.end(), result.begin() + first * 3 * hw);
  }
  return Tensor::from_vector(result, {count, 3, h, w});
}

Tensor finish_result(const Tensor& output, const Tensor& gray, const Tensor& gray_model, bool no_upsample, bool rgb) {
  BIGCOLOR_CHECK(output.numel() > 0 && output.numel() % 3 == 0 && output.dim(-3) == 3, "finish_result: output ",
                 output.describe(), " is not (3, h, w)");
  const std::int64_t h = output.dim(-2), w = output.dim(-1);
  std::vector<float> v = output.to_vector();
  for (float& x : v) x = (x + 1.0f) / 2.0f;  // output.add(1).div(2)
  const Tensor colour = Tensor::from_vector(v, {1, 3, h, w});
  const Tensor& reference = no_upsample ? gray_model : gray;
  const int out_h = static_cast<int>(reference.dim(-2)), out_w = static_cast<int>(reference.dim(-1));
  const Tensor sized = resize_bilinear(colour, out_h, out_w);
  if (rgb) return sized.reshape({3, out_h, out_w});
  return lab_fusion(reference.reshape({1, out_h, out_w}), sized.reshape({3, out_h, out_w}));
}

}  // namespace bigcolor
