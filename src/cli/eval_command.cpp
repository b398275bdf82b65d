// `bigcolor eval`'s command line (CLI11).
#include <CLI/CLI.hpp>

#include "cli/cli_checks.h"
#include "cli/eval.h"

namespace bigcolor::cli {

CLI::App* add_eval_command(CLI::App& app, EvalOptions& o) {
  CLI::App* c = app.add_subcommand("eval", "Measure colorizations against references: Colorful, PSNR, SSIM, LPIPS, "
                                           "FID, classification accuracy");
  c->footer(
      "Pairs: files are paired by their path below --pred and --ref without the extension (pred/n01440764/x.jpg\n"
      "with ref/n01440764/x.JPEG); a file without a partner is listed (and the exit status is 1 unless\n"
      "--allow-unpaired), never dropped silently.\n\n"
      "Metrics (--metrics, comma-separated; default: colorful, psnr, ssim and each metric whose file is given):\n"
      "  colorful  Hasler-Suesstrunk colourfulness as the papers' scripts compute it (|R-G|, |(R+G)/2-B|, sigma +\n"
      "            0.3 mu, 8-bit RGB), for the predictions and the references; --colorful-signed adds the original\n"
      "  psnr      skimage peak_signal_noise_ratio (data_range 255, 8-bit RGB)\n"
      "  ssim      skimage structural_similarity (channel_axis 2, data_range 255, 7x7 uniform window)\n"
      "  lpips     lpips 0.1 VGG: --lpips-vgg (torchvision vgg16-397923af.pth) and --lpips-lin (weights/v0.1/vgg.pth\n"
      "            from the lpips wheel)\n"
      "  fid       Inception-v3 pool features, double-precision moments and matrix square root: --inception\n"
      "            pt_inception-2015-12-05-6726825d.pth (pytorch-fid, the protocol most papers use) or\n"
      "            inception_v3_google-0cc3c7bd.pth (torchvision: CT2, DDColor); the protocol is named in the output\n"
      "  ab        mean absolute error of the CIELAB a, b channels against the references, with the same for a = b\n"
      "            = 0 (the gray input) and for a constant --ab-constant A B, and the references' mean a, b\n"
      "  accuracy  top-1/top-5 of --classifier on the predictions against the class of each reference's folder\n"
      "            (sorted sub-folders of --ref, as ImageFolder); resize 256, center crop 224, ImageNet mean/std\n\n"
      "The sets are streamed in batches of --batch: memory does not grow with the number of images.");
  c->add_option("--pred", o.pred, "The colorizations")->required()->type_name("DIR");
  c->add_option("--ref", o.ref, "The ground truth, the same tree")->required()->type_name("DIR");
  c->add_option("--metrics", o.metrics, "Metrics to compute: colorful, psnr, ssim, ab, lpips, fid, accuracy")
      ->delimiter(',')
      ->check(CLI::IsMember({"colorful", "psnr", "ssim", "ab", "lpips", "fid", "accuracy"}))
      ->type_name("LIST");
  c->add_flag("--colorful-signed", o.colorful_signed, "Also the signed original colourfulness");
  c->add_option("--ab-constant", o.ab_constant, "The constant prediction (a, b) the ab metric also scores")
      ->expected(2)
      ->type_name("A B");
  c->add_option("--inception", o.inception, "FID's Inception-v3 weights")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  c->add_option("--fid-protocol", o.fid_protocol, "auto (from the file), pytorch-fid or torchvision")
      ->check(CLI::IsMember({"auto", "pytorch-fid", "torchvision"}));
  c->add_option("--lpips-vgg", o.lpips_vgg, "LPIPS: torchvision's vgg16 weights")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  c->add_option("--lpips-lin", o.lpips_lin, "LPIPS: lpips' linear-layer weights (weights/v0.1/vgg.pth)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  c->add_option("--classifier", o.classifier, "Accuracy: an ImageNet classifier (as for colorize --classifier)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  c->add_option("--json", o.json, "Also write the report (every metric, every image) as JSON")->type_name("FILE");
  c->add_flag("--allow-unpaired", o.allow_unpaired, "Exit 0 even when some files have no partner");
  c->add_option("--batch", o.batch, "Images per network batch")->check(number_check())->check(CLI::Range(1, 1024));
  c->add_option("--device", o.device, "cpu, cuda, or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(number_check())->check(CLI::Range(0, 1024));
  c->add_flag("-q,--quiet", o.quiet, "No progress lines");
  return c;
}

}  // namespace bigcolor::cli
