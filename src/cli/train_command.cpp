// The options of `bigcolor train` (CLI11); the run itself is in train.cpp.
#include <CLI/CLI.hpp>

#include "cli/cli_checks.h"
#include "cli/train.h"

namespace bigcolor::cli {

namespace {
constexpr const char* kTrainFooter = R"(The step (train.py): x_gray = Grayscale(x); fake = EG(x_gray, c, z), z ~ N(0, z_std^2);
  D step:  (mean relu(1 - D(2 enhance(x) - 1, c)) + mean relu(1 + D(fake, c))) / 2, Adam(lr-d, betas 0, 0.999);
  EG step: coef-adv * (-mean D(fake, c)) + coef-mse * mse(x, (fake+1)/2) + coef-lpips * perceptual(x, (fake+1)/2),
           Adam(lr, betas 0, 0.999); then EMA(decay) of the EG weights. --coef-l1 adds coef-l1 * mean|x - (fake+1)/2|,
           --coef-ab coef-ab * mean|ab(x) - ab((fake+1)/2)| (CIE Lab a and b, as colorize's fusion keeps them).
  Learning rates: epoch e trains at lr * lr-decay^max(e-1, 0) (train.py's LambdaLR.step(epoch) after each epoch).
  Computed in FP32 (the official run uses mixed precision).
Data: an ImageFolder tree (class sub-folders sorted by name; WordNet-id folder names map to their ImageNet index
  with --class-mapping auto) or a flat folder with --fixed-class. Each image: Resize(image-size) of the short side,
  CenterCrop(image-size). Unreadable images are skipped and counted.
Initial weights: --init-eg (an official checkpoint folder or our .safetensors: fine-tune BigColor), else the
  encoder is orthogonally initialized and G comes from --init-g (BigGAN's G_ema_256.pth) or orthogonal init; D from
  --init-d (D_256.pth) or orthogonal init. Without --init-* the widths are --width and --n-classes.
Run folder: run.json, log.jsonl (one JSON line per logged step), checkpoints/latest.safetensors (replaced
  atomically; --resume continues from it exactly), checkpoints/ema_epoch_NNN.safetensors (each epoch's EMA
  weights), ema.safetensors (the latest EMA weights for 'bigcolor colorize --ckpt'),
  samples/step_NNNNNNN_{train,val}.png (gray | output | EMA output | truth).
Stops: a NaN or Inf loss stops the run (exit 1) naming the step, keeping the last good checkpoint; Ctrl-C or
  SIGTERM saves a checkpoint and exits with 130.)";
}  // namespace

CLI::App* add_train_command(CLI::App& app, TrainCliOptions& o) {
  CLI::App* t = app.add_subcommand("train", "Train or fine-tune BigColor on a folder of photos");
  t->footer(kTrainFooter);
  t->add_option("--data", o.data, "Training images: an ImageFolder tree or a flat folder")->required()->type_name("DIR");
  t->add_option("--val", o.val, "Validation images (for the sample sheets), same layout")->type_name("DIR");
  t->add_option("--out", o.out, "The run folder (created; must not hold another run unless --resume)")
      ->required()
      ->type_name("RUN_DIR");
  t->add_flag("--resume", o.resume, "Continue the run in RUN_DIR from checkpoints/latest.safetensors");
  t->add_option("--init-eg", o.init_eg, "Start from a colorizer: an official checkpoint folder or a .safetensors file")
      ->type_name("PATH");
  t->add_option("--init-g", o.init_g, "Generator weights (BigGAN's G_ema_256.pth or a .safetensors state dict)")
      ->type_name("FILE");
  t->add_option("--init-d", o.init_d, "Discriminator weights (BigGAN's D_256.pth or a .safetensors state dict)")
      ->type_name("FILE");
  t->add_option("--vgg", o.vgg, "torchvision's vgg16 state dict (vgg16-397923af.pth) for the perceptual loss "
                                "(required unless --coef-lpips 0)")
      ->type_name("FILE");
  t->add_option("--config", o.config_path, "--init-eg with an official folder: its config.pickle when not beside it")
      ->type_name("FILE");
  t->add_option("--epochs", o.epochs, "Epochs")->check(number_check())->check(CLI::Range(1, 100000));
  t->add_option("--batch", o.batch, "Images per step; under mpirun the global batch, split among the ranks (the official run: 60 over 4 GPUs)")->check(number_check())->check(CLI::Range(1, 4096));
  t->add_option("--max-steps", o.max_steps, "Stop after this many steps in all (0: run every epoch)")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--image-size", o.image_size, "Training image size (multiple of 16, at least 64)")
      ->check(number_check())->check(CLI::Range(64, 4096));
  t->add_option("--lr", o.lr, "EG learning rate")->check(CLI::PositiveNumber);
  t->add_option("--lr-d", o.lr_d, "D learning rate")->check(CLI::PositiveNumber);
  t->add_option("--lr-decay", o.lr_decay, "Learning-rate factor per epoch")->check(number_check())->check(CLI::Range(0.0, 1.0));
  t->add_option("--ema-decay", o.ema_decay, "EMA decay (torch_ema's warm-up applies)")->check(number_check())->check(CLI::Range(0.0, 1.0));
  t->add_option("--coef-adv", o.coef_adv, "Weight of the adversarial loss")->check(CLI::NonNegativeNumber);
  t->add_option("--coef-mse", o.coef_mse, "Weight of the MSE loss")->check(CLI::NonNegativeNumber);
  t->add_option("--coef-l1", o.coef_l1, "Weight of an L1 loss mean|x - (fake+1)/2| (not in the official recipe)")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--coef-ab", o.coef_ab,
                "Weight of an L1 loss on the CIE Lab a and b channels, mean|ab(x) - ab((fake+1)/2)| (not in the "
                "official recipe)")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--coef-lpips", o.coef_lpips, "Weight of the VGG perceptual loss")->check(CLI::NonNegativeNumber);
  t->add_option("--coef-enhance", o.coef_enhance, "Colour enhancement k of D's real images")
      ->check(CLI::NonNegativeNumber);
  t->add_flag("--no-enhance", o.no_enhance, "Give D the real images unenhanced");
  t->add_flag("--no-discriminator", o.no_discriminator,
              "Train EG on the MSE and perceptual losses alone: no D step, no adversarial term (--coef-adv ignored)");
  t->add_option("--z-std", o.z_std, "Standard deviation of z")->check(CLI::NonNegativeNumber);
  t->add_option("--min-colorfulness", o.min_colorfulness,
                "Leave out images less colourful than this (the paper's filter: 15; 0: keep all)")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--class-mapping", o.class_mapping,
                "Class index of a class folder: auto, folder_order (torchvision) or imagenet (WordNet ids/names)")
      ->check(CLI::IsMember({"auto", "folder_order", "imagenet"}));
  t->add_option("--fixed-class", o.fixed_class, "The class of every image of a flat folder")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--width", o.width, "Channel width (G_ch = D_ch = encoder) of models built without --init-*")
      ->check(number_check())->check(CLI::Range(1, 1024));
  t->add_option("--n-classes", o.n_classes, "Classes of models built without --init-*")->check(number_check())->check(CLI::Range(1, 100000));
  t->add_option("--seed", o.seed, "Seed of the initialization, z, dropout and the data order");
  t->add_option("--precision", o.precision,
                "The matrix products' precision: fp32, or bf16/fp16 operands with float32 accumulation (losses, batch "
                "norm, spectral norm, Adam, the EMA and the weights stay fp32); fp16 adds dynamic loss scaling "
                "(PyTorch GradScaler's defaults: 2^16, halved after an Inf/NaN gradient, whose step is skipped, "
                "doubled after 2000 clean steps)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  t->add_option("--loss-scale", o.loss_scale, "fp16: the initial loss scale")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e30));
  t->add_option("--loss-scale-interval", o.loss_scale_interval,
                "fp16: clean steps in a row after which the loss scale doubles")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  t->add_option("--device", o.device, "cpu, cuda or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  t->add_option("--workers", o.workers, "Image decoding threads (0: up to 4)")->check(number_check())->check(CLI::Range(0, 64));
  t->add_option("--rank-timeout", o.rank_timeout,
                "Under mpirun: seconds a rank waits for the others in a collective before it stops every rank")
      ->check(CLI::PositiveNumber);
  t->add_option("--threads", o.threads, "CPU compute threads (0: all cores; under mpirun: each rank's share)")->check(number_check())->check(CLI::Range(0, 1024));
  t->add_option("--log-every", o.log_every, "Steps between log lines")->check(number_check())->check(CLI::Range(1, 1000000));
  t->add_option("--sample-every", o.sample_every, "Steps between sample sheets (0: none)")->check(CLI::NonNegativeNumber);
  t->add_option("--checkpoint-every", o.checkpoint_every, "Steps between checkpoints (also one per epoch)")
      ->check(number_check())->check(CLI::Range(1, 100000000));
  t->add_option("--samples", o.samples, "Images per sample sheet")->check(number_check())->check(CLI::Range(1, 64));
  t->add_flag("-q,--quiet", o.quiet, "No progress display (errors and the final line are still printed)");
  return t;
}

}  // namespace bigcolor::cli
