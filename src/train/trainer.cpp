#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <set>
#include <string>

#include "kernels/ops.h"
#include "kernels/precision.h"
#include "layers/functional.h"
#include "tensor/error.h"
#include "train/data_loader.h"

namespace bigcolor::train {

namespace {

// The hinge terms of the official losses on a critic output (B, 1): value = mean(relu(1 + sign·out)) and the
// gradient of weight·value with respect to out (torch: relu passes where its input is > 0).
struct Hinge {
  float value = 0.0f;
  Tensor grad;  // (B, 1) on out's device
};
Hinge hinge(const Tensor& out, float sign, float weight) {
  const Tensor host = out.to(Device::CPU);
  const std::int64_t b = host.numel();
  std::vector<float> grad(static_cast<std::size_t>(b));
  float sum = 0.0f;
  for (std::int64_t i = 0; i < b; ++i) {
    const float pre = 1.0f + sign * host.data<float>()[i];
    sum += pre > 0.0f ? pre : 0.0f;
    grad[static_cast<std::size_t>(i)] = pre > 0.0f ? sign * weight / static_cast<float>(b) : 0.0f;
  }
  return {sum / static_cast<float>(b), Tensor::from_vector(grad, out.shape(), out.device())};
}

// A loss gradient times the loss scale (fp16's GradScaler; 1: the gradient itself).
Tensor scaled(const Tensor& grad, float loss_scale) { return loss_scale == 1.0f ? grad : fn::scale(grad, loss_scale); }

// The gradients an optimizer steps from.
std::vector<Tensor> gradients(const std::vector<Module::NamedParameter>& parameters) {
  std::vector<Tensor> grads;
  for (const Module::NamedParameter& p : parameters)
    if (p.parameter->trainable && p.parameter->grad.defined()) grads.push_back(p.parameter->grad);
  return grads;
}

// −mean(out) and the gradient of weight·(−mean(out)).
Hinge negative_mean(const Tensor& out, float weight) {
  const Tensor host = out.to(Device::CPU);
  const std::int64_t b = host.numel();
  float sum = 0.0f;
  for (std::int64_t i = 0; i < b; ++i) sum += host.data<float>()[i];
  return {-(sum / static_cast<float>(b)), Tensor::full(out.shape(), -weight / static_cast<float>(b), out.device())};
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Adds the time of a scope to a counter (the communication part of a step).
class TimedScope {
 public:
  explicit TimedScope(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~TimedScope() { total_ += seconds_since(start_); }
  TimedScope(const TimedScope&) = delete;
  TimedScope& operator=(const TimedScope&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

std::vector<Tensor> adam_tensors(const Adam& adam) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : adam.state()) out.push_back(t);
  return out;
}

}  // namespace

bool StepLosses::finite() const {
  return std::isfinite(loss_d) && std::isfinite(loss_g) && std::isfinite(mse) && std::isfinite(l1) &&
         std::isfinite(ab) && std::isfinite(lpips);
}

std::vector<Module::NamedParameter> Trainer::trained_parameters(Colorizer& eg) {
  std::vector<std::string> unused = {"G.linear."};
  for (std::int64_t i = 0; i < eg.config().id_mid_layer; ++i) unused.push_back("G.blocks." + std::to_string(i) + ".");
  std::vector<Module::NamedParameter> out;
  for (const Module::NamedParameter& p : eg.parameters()) {
    if (!p.parameter->trainable) continue;
    bool skip = false;
    for (const std::string& prefix : unused) skip = skip || starts_with(p.name, prefix);
    if (!skip) out.push_back(p);
  }
  return out;
}

Trainer::Trainer(Colorizer& eg, Discriminator& d, VGG16Features* vgg, const TrainOptions& options,
                 std::uint64_t seed)
    : eg_(eg),
      d_(d),
      options_(options),
      rng_(seed),
      adam_g_(trained_parameters(eg), options.adam_g),
      adam_d_(d.parameters(), options.adam_d),
      ema_(trained_parameters(eg), options.ema_decay),
      scaler_(options.precision == Precision::FP16, options.grad_scaler) {
  BIGCOLOR_CHECK(vgg != nullptr || options.coef_lpips == 0.0f,
                 "trainer: the perceptual loss (coef_lpips ", options.coef_lpips, ") needs the VGG16 weights");
  BIGCOLOR_CHECK(eg.device() == d.device() && (vgg == nullptr || eg.device() == vgg->device()),
                 "trainer: the colorizer, the discriminator and the VGG must be on one device");
  if (vgg != nullptr && options.coef_lpips != 0.0f) perceptual_.emplace(*vgg);
  BIGCOLOR_CHECK(eg.grad_enabled() && d.grad_enabled(), "trainer: the models need their gradients enabled");
  eg_.E.set_rng(&rng_);
  // The parameters the colorizer never runs (G.linear, the blocks before id_mid_layer: ~61M of 105M at full width)
  // would hold zero gradients for nothing: free them (nothing writes or reads them; zero_grad skips them).
  std::set<const Parameter*> trained;
  for (const Module::NamedParameter& p : trained_parameters(eg)) trained.insert(p.parameter);
  for (const Module::NamedParameter& p : eg.parameters())
    if (!trained.count(p.parameter)) p.parameter->grad = Tensor{};
}

double Trainer::lr_factor(double decay, std::int64_t epoch) {
  return std::pow(decay, static_cast<double>(epoch > 1 ? epoch - 1 : 0));
}

Trainer::~Trainer() { set_process_group(nullptr, true); }

void Trainer::set_process_group(ProcessGroup* group, bool update_ema) {
  group_ = group;
  update_ema_ = update_ema;
  g_buckets_.reset();
  d_buckets_.reset();
  for (Module* m : std::initializer_list<Module*>{&d_, &eg_.G, &eg_.E}) m->set_gradients_ready_hook({});
  if (group_ == nullptr) return;
  std::vector<Tensor> everything = state_tensors(eg_);
  for (const Tensor& t : state_tensors(d_)) everything.push_back(t);
  for (const Tensor& t : adam_tensors(adam_g_)) everything.push_back(t);
  for (const Tensor& t : adam_tensors(adam_d_)) everything.push_back(t);
  broadcast_tensors(*group_, everything);
  g_buckets_.emplace(trained_parameters(eg_), eg_.device());
  d_buckets_.emplace(d_.parameters(), d_.device());
  // The backward passes report each block whose gradients are final; an armed bucket set starts those buckets'
  // all-reduces then (see GradientBuckets), so they run behind the rest of the backward.
  const auto hook = [this](GradientBuckets& buckets) {
    return [this, &buckets](Module& m) {
      if (!buckets.active()) return;
      const TimedScope t(timing_.communication);
      buckets.ready(m);
    };
  };
  d_.set_gradients_ready_hook(hook(*d_buckets_));
  eg_.G.set_gradients_ready_hook(hook(*g_buckets_));
  eg_.E.set_gradients_ready_hook(hook(*g_buckets_));
}

void Trainer::set_epoch(std::int64_t epoch) {
  const double factor = lr_factor(options_.lr_decay, epoch);
  adam_g_.set_lr(options_.adam_g.lr * factor);
  adam_d_.set_lr(options_.adam_d.lr * factor);
}

StepLosses Trainer::step(const StepBatch& batch) {
  const Tensor& x_host = batch.x;
  BIGCOLOR_CHECK(x_host.defined() && x_host.device() == Device::CPU && x_host.ndim() == 4 && x_host.dim(1) == 3,
                 "training step: x must be a CPU (B, 3, H, W) tensor");
  const std::int64_t b = x_host.dim(0), h = x_host.dim(2), w = x_host.dim(3);
  BIGCOLOR_CHECK(h % 16 == 0 && w % 16 == 0 && h >= 64 && w >= 64, "training step: images of ", h, "x", w,
                 " px: the sides must be multiples of 16 and at least 64 (the discriminator halves them 6 times)");
  BIGCOLOR_CHECK(batch.classes.defined() && batch.classes.numel() == b, "training step: need one class per image");
  const Device dev = eg_.device();
  const std::int64_t z_dim = eg_.config().biggan.effective_dim_z();

  // Inputs on the device: x, its grayscale version (EG's input) and the enhanced real images for D, in [-1, 1].
  const Tensor x = x_host.to(dev);
  const Tensor gray = train::grayscale(x_host).to(dev);
  const Tensor enhanced = options_.use_enhance ? train::color_enhance(x_host, options_.coef_enhance) : x_host;
  const Tensor real = fn::add(fn::scale(enhanced.to(dev), 2.0f), Tensor::full(x.shape(), -1.0f, dev));
  const Tensor classes = batch.classes.to(dev);
  Tensor z;
  if (batch.z.defined()) {
    BIGCOLOR_CHECK(batch.z.shape() == Shape({b, z_dim}), "training step: z must be (", b, ", ", z_dim, ")");
    z = batch.z.to(dev);
  } else {
    z = Tensor::empty({b, z_dim}, DType::F32, dev);
    rng_.fill_normal(z, 0.0f, options_.z_std);
  }

  const auto step_start = std::chrono::steady_clock::now();
  timing_ = {};
  const PrecisionScope precision(options_.precision);  // the matrix products of this step (kernels/ops_lowp.h)
  const float loss_scale = scaler_.scale();            // 1 unless fp16
  if (group_ != nullptr) {  // DDP's broadcast_buffers: every rank computes with rank 0's statistics and u vectors
    const TimedScope timed(timing_.communication);
    std::vector<Tensor> buffers = state_tensors(eg_, /*buffers_only=*/true);
    for (const Tensor& t : state_tensors(d_, /*buffers_only=*/true)) buffers.push_back(t);
    broadcast_tensors(*group_, buffers);
  }

  eg_.set_training(true);
  d_.set_training(true);
  if (batch.dropout_masks[0].defined()) {
    std::array<Tensor, 4> masks;
    for (std::size_t i = 0; i < masks.size(); ++i) masks[i] = batch.dropout_masks[i].to(dev);
    eg_.E.set_next_dropout_masks(masks);
  }
  const Tensor fake = eg_.forward(gray, classes, z);  // (B, 3, H, W) in [-1, 1]

  StepLosses losses;
  Tensor d_fake = Tensor::zeros(fake.shape(), DType::F32, dev);
  if (options_.train_discriminator) {
    // ---- D step: real then fake, each forward followed by its backward (the same values as one backward of the
    // sum: each backward uses the u, v, σ its own forward computed).
    d_.zero_grad();
    const Hinge real_term = hinge(d_.forward(real, classes), -1.0f, 0.5f);
    d_.backward(scaled(real_term.grad, loss_scale), /*need_d_x=*/false);
    const Hinge fake_term = hinge(d_.forward(fake, classes), 1.0f, 0.5f);
    if (group_ != nullptr) d_buckets_->begin(*group_);  // this backward completes D's gradients
    d_.backward(scaled(fake_term.grad, loss_scale), /*need_d_x=*/false);
    losses.loss_d = (real_term.value + fake_term.value) / 2.0f;
    if (group_ != nullptr) {
      const TimedScope t(timing_.communication);
      d_buckets_->finish();
      timing_.overlapped += d_buckets_->in_flight_seconds();
    }
    if (scaler_.unscale_and_check(gradients(d_.parameters())))
      adam_d_.step();
    else
      ++losses.skipped_steps;

    // ---- EG step, through the updated D.
    eg_.zero_grad();
    const Hinge adv = negative_mean(d_.forward(fake, classes), options_.coef_adv);
    losses.loss_g = adv.value * options_.coef_adv;
    // Only the gradient reaching the image is wanted from this D pass: its weight gradients (which the official
    // code computes and then discards with the next zero_grad) are not computed at all.
    {
      const NoParameterGradients image_gradient_only(d_);
      d_fake = d_.backward(scaled(adv.grad, loss_scale), /*need_d_x=*/true);
    }
  } else {
    eg_.zero_grad();  // no discriminator: the regression losses alone (loss_d, loss_g stay 0)
  }

  // fake01 = (fake + 1) / 2; its gradient reaches fake halved.
  const Tensor fake01 = fn::scale(fn::add(fake, Tensor::full(fake.shape(), 1.0f, dev)), 0.5f);
  Tensor d_fake01 = Tensor::zeros(fake.shape(), DType::F32, dev);
  {
    Tensor value = Tensor::empty({1}, DType::F32, dev);
    ops::mse_loss_forward(value, x, fake01);
    losses.mse = options_.coef_mse * fn::item(value);
    ops::mse_loss_backward(Tensor{}, d_fake01, Tensor::full({1}, options_.coef_mse * loss_scale, dev), x, fake01);
  }
  // coef · mean |target − pred| and its gradient with respect to pred (scaled by the loss scale, overwriting d_pred).
  const auto l1_term = [&](const Tensor& target, const Tensor& pred, float coef, const Tensor& d_pred) {
    Tensor value = Tensor::empty({1}, DType::F32, dev);
    ops::l1_loss_forward(value, target, pred);
    ops::l1_loss_backward(Tensor{}, d_pred, Tensor::full({1}, coef * loss_scale, dev), target, pred);
    return coef * fn::item(value);
  };
  if (options_.coef_l1 > 0.0f) {  // added to the MSE's gradient
    const Tensor d_l1 = Tensor::empty(fake.shape(), DType::F32, dev);
    losses.l1 = l1_term(x, fake01, options_.coef_l1, d_l1);
    fn::add_into(d_fake01, d_l1);
  }
  if (options_.coef_ab > 0.0f) {  // L1 of (a, b) (B, 2, H, W), back through the Lab transform at fake01
    const Shape ab_shape = {fake.dim(0), 2, fake.dim(2), fake.dim(3)};
    const Tensor ab_real = Tensor::empty(ab_shape, DType::F32, dev);
    const Tensor ab_fake = Tensor::empty(ab_shape, DType::F32, dev);
    ops::rgb_to_ab_forward(ab_real, x);
    ops::rgb_to_ab_forward(ab_fake, fake01);
    const Tensor d_ab = Tensor::empty(ab_shape, DType::F32, dev);
    losses.ab = l1_term(ab_real, ab_fake, options_.coef_ab, d_ab);
    const Tensor d_rgb = Tensor::empty(fake.shape(), DType::F32, dev);
    ops::rgb_to_ab_backward(d_rgb, d_ab, fake01);
    fn::add_into(d_fake01, d_rgb);
  }
  if (perceptual_)  // its gradient scaled as the others; the value back to unscaled (a power of two: exact)
    losses.lpips = perceptual_->compute(x, fake01, options_.coef_lpips * loss_scale, &d_fake01) / loss_scale;
  fn::add_into(d_fake, fn::scale(d_fake01, 0.5f));
  if (group_ != nullptr) g_buckets_->begin(*group_);
  eg_.backward(d_fake);
  if (group_ != nullptr) {
    const TimedScope t(timing_.communication);
    g_buckets_->finish();
    timing_.overlapped += g_buckets_->in_flight_seconds();
    // The log's losses: the means over the ranks (every rank gets the same numbers, so all stop on the same step
    // when one is not finite).
    std::vector<double> sums = {losses.loss_d, losses.loss_g, losses.mse, losses.lpips, losses.l1, losses.ab};
    group_->all_reduce_sum(sums);
    const double n = group_->size();
    losses.loss_d = static_cast<float>(sums[0] / n);
    losses.loss_g = static_cast<float>(sums[1] / n);
    losses.mse = static_cast<float>(sums[2] / n);
    losses.lpips = static_cast<float>(sums[3] / n);
    losses.l1 = static_cast<float>(sums[4] / n);
    losses.ab = static_cast<float>(sums[5] / n);
  }
  if (scaler_.unscale_and_check(gradients(trained_parameters(eg_))))
    adam_g_.step();
  else
    ++losses.skipped_steps;
  scaler_.update();
  losses.loss_scale = loss_scale;
  if (update_ema_) ema_.update();  // as the official loop: after the (possibly skipped) step
  timing_.total = seconds_since(step_start);
  return losses;
}

}  // namespace bigcolor::train
