// One BigColor training step, as the official train.py runs it (spec section 7), in FP32:
//   x (B, 3, H, W) in [0, 1], c (B); x_gray = Grayscale(x); z ~ N(0, z_std²) (B, 119);
//   fake = EG(x_gray, c, z)                                  (train mode: dropout, batch statistics, u0 updates)
//   D step:  loss_D = (mean(relu(1 − D(2·enhance(x) − 1, c))) + mean(relu(1 + D(fake, c)))) / 2, Adam on D
//   EG step: loss = coef_adv·(−mean(D(fake, c))) + coef_mse·mse(x, (fake+1)/2) + coef_lpips·perceptual(x, (fake+1)/2),
//            Adam on EG (with the D just updated), then the EMA update. Not in the official code: + coef_l1·l1(x,
//            (fake+1)/2), an L1 term, and + coef_ab·l1(ab(x), ab((fake+1)/2)), an L1 term on the CIE Lab a and b
//            channels (the official float32 transform, ops::rgb_to_ab; the colour colorize keeps after its Lab
//            fusion), both 0 by default, for small models trained from scratch (weights/README.md).
// D runs three times per step (real, fake, fake again for the EG loss), so each of its spectral norms advances u0
// three times, as in the official code. The official run uses autocast + GradScaler (mixed precision); FP32 (the
// default) is the computation those approximate, and options.precision runs the step's matrix products in bf16 or
// fp16 (kernels/ops_lowp.h); fp16 adds GradScaler's dynamic loss scaling (train/grad_scaler.h). The losses, batch
// norm, spectral norm, Adam, the EMA and the master weights stay FP32 in every precision.
// Parameters that get no gradient in the official step (G.linear and G blocks before id_mid_layer: the colorizer
// never runs them) are left out of EG's Adam, as torch's Adam skips parameters whose grad is None, and out of the
// EMA (their shadows would stay equal to their constant values anyway). The frozen GBlock in1/in2 likewise.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "models/colorizer.h"
#include "bigcolor/precision.h"
#include "models/discriminator.h"
#include "tensor/rng.h"
#include "train/grad_scaler.h"
#include "train/optimizer.h"
#include "train/perceptual.h"
#include "train/process_group.h"

namespace bigcolor::train {

struct TrainOptions {
  AdamOptions adam_g{1e-4, 0.0, 0.999, 1e-8};  // EG: lr 1e-4
  AdamOptions adam_d{3e-5, 0.0, 0.999, 1e-8};  // D: lr 3e-5
  float coef_adv = 0.03f;
  // false: no discriminator at all (no D step, no adversarial term; D's weights and Adam state stay as they are):
  // the regression losses alone, at a fraction of the cost (D's three passes are most of a step)
  bool train_discriminator = true;
  float coef_mse = 1.0f;
  float coef_l1 = 0.0f;  // mean |x − (fake+1)/2|: not in the official recipe; 0 leaves the step exactly as it was
  float coef_ab = 0.0f;  // mean |ab(x) − ab((fake+1)/2)| over a and b: not in the official recipe either
  float coef_lpips = 0.2f;
  bool use_enhance = true;  // the paper's run: --use_enhance --coef_enhance 1.2
  float coef_enhance = 1.2f;
  float z_std = 0.8f;
  double ema_decay = 0.999;
  double lr_decay = 0.9;  // per epoch (see Trainer::set_epoch)
  Precision precision = Precision::FP32;  // of the matrix products; FP16 also scales the losses (grad_scaler.h)
  GradScalerOptions grad_scaler;
};

struct StepLosses {
  float loss_d = 0.0f;  // (hinge real + hinge fake) / 2
  float loss_g = 0.0f;  // coef_adv · (−mean D(fake))
  float mse = 0.0f;     // coef_mse · mse
  float l1 = 0.0f;      // coef_l1 · l1
  float ab = 0.0f;      // coef_ab · l1 of a and b
  float lpips = 0.0f;   // coef_lpips · perceptual
  // fp16: optimizer steps of this iteration skipped for Inf/NaN gradients (0, 1 or 2), and the loss scale used.
  int skipped_steps = 0;
  float loss_scale = 1.0f;
  float total_g() const { return loss_g + mse + l1 + ab + lpips; }
  bool finite() const;
};

// Where a step's time went on a rank of a data-parallel group (seconds). communication: this rank's time inside the
// collectives (packing, starting, waiting: what the communication added to the step); overlapped: the time the
// gradient all-reduces started during the backward had been in flight when the backward ended (summed over buckets:
// communication that could run behind the computation).
struct StepTiming {
  double total = 0.0;
  double communication = 0.0;
  double overlapped = 0.0;
  double compute() const { return total - communication; }
};

struct StepBatch {
  Tensor x;        // (B, 3, H, W) F32 CPU in [0, 1]; H, W multiples of 16 and at least 64 (D's seven blocks)
  Tensor classes;  // (B) I32 CPU
  Tensor z;        // optional (B, 119): given instead of drawn (parity tests)
  std::array<Tensor, 4> dropout_masks;  // optional: the encoder's masks instead of drawn ones (parity tests)
};

class Trainer {
 public:
  // The models must be on one device, with gradients enabled; the VGG frozen (it may be null only when
  // options.coef_lpips is 0: no perceptual loss). Draws (z, dropout) come from an Rng seeded with `seed` whose
  // state is part of the checkpoint.
  Trainer(Colorizer& eg, Discriminator& d, VGG16Features* vgg, const TrainOptions& options, std::uint64_t seed);
  ~Trainer();  // removes the gradient hooks it set on the models
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  StepLosses step(const StepBatch& batch);

  // The official schedule: train.py calls LambdaLR.step(epoch) at the END of each epoch, which sets
  // lr = base · decay^epoch for the next one, so epoch e (from 0) trains at base · decay^max(e − 1, 0).
  void set_epoch(std::int64_t epoch);
  static double lr_factor(double decay, std::int64_t epoch);

  Colorizer& eg() { return eg_; }
  Discriminator& d() { return d_; }
  Adam& adam_g() { return adam_g_; }
  Adam& adam_d() { return adam_d_; }
  Ema& ema() { return ema_; }
  GradScaler& grad_scaler() { return scaler_; }
  Rng& rng() { return rng_; }
  const TrainOptions& options() const { return options_; }

  // The EG parameters Adam and the EMA update (see above), in parameters() order.
  static std::vector<Module::NamedParameter> trained_parameters(Colorizer& eg);

  // Data parallelism over `group` (not owned; null: back to one process), as the official DDP run:
  //  - now: rank 0's parameters, buffers (u vectors, batch-norm statistics) and Adam states are broadcast to every
  //    rank, so all start identical (also after a resume);
  //  - each step: rank 0's EG and D buffers are broadcast first (DDP's broadcast_buffers), D's gradients are
  //    averaged over the ranks before adam_d steps and EG's before adam_g steps (bucketed all-reduces, each started
  //    during the backward as soon as its gradients are final), and the losses returned are the means over the
  //    ranks. Batch statistics stay per rank (no SyncBN).
  //  - update_ema: whether this rank keeps the EMA (the official run: rank 0 only; the weights being identical,
  //    another rank's EMA would be the same numbers).
  void set_process_group(ProcessGroup* group, bool update_ema);
  ProcessGroup* process_group() const { return group_; }
  const StepTiming& last_step_timing() const { return timing_; }

 private:
  Colorizer& eg_;
  Discriminator& d_;
  std::optional<PerceptualLoss> perceptual_;
  TrainOptions options_;
  Rng rng_;
  Adam adam_g_, adam_d_;
  Ema ema_;
  GradScaler scaler_;
  ProcessGroup* group_ = nullptr;
  bool update_ema_ = true;
  std::optional<GradientBuckets> g_buckets_, d_buckets_;
  StepTiming timing_;
};

}  // namespace bigcolor::train
