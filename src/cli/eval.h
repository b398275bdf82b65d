// `bigcolor eval --pred DIR --ref DIR`: the metrics of the colorization papers' tables (eval/evaluate.h) over two
// folders paired by relative path, printed as a table and written as JSON.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace bigcolor::cli {

struct EvalOptions {
  std::string pred, ref;
  std::vector<std::string> metrics;  // empty: colorful, psnr, ssim and every metric whose network file is given
  bool colorful_signed = false;
  std::vector<double> ab_constant{0.0, 0.0};
  std::string inception;              // FID: pt_inception-2015-12-05-*.pth or inception_v3_google-*.pth
  std::string fid_protocol = "auto";  // auto (from the file), pytorch-fid, torchvision
  std::string lpips_vgg, lpips_lin;   // LPIPS: torchvision's vgg16 file and lpips' weights/v0.1/vgg.pth
  std::string classifier;             // accuracy: a timm/torchvision ImageNet classifier
  std::string json;                   // write the report here (atomically)
  bool allow_unpaired = false;        // exit 0 even when files have no partner (they are still reported)
  int batch = 16;
  std::string device = "auto";
  int threads = 0;
  bool quiet = false;
};

// 0: every metric computed over exactly paired folders; 1: an error, or unpaired files (unless allow_unpaired).
int run_eval(const EvalOptions& options);
CLI::App* add_eval_command(CLI::App& app, EvalOptions& options);  // eval_command.cpp

}  // namespace bigcolor::cli
