#include "cli/eval.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli/common.h"
#include "eval/evaluate.h"
#include "eval/networks.h"
#include "models/classifier.h"
#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor::cli {

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

void list_unpaired(const char* what, const std::vector<std::string>& files) {
  if (files.empty()) return;
  std::cerr << "bigcolor: " << files.size() << " " << what << ":";
  for (std::size_t i = 0; i < files.size() && i < 5; ++i) std::cerr << " " << files[i];
  if (files.size() > 5) std::cerr << " ... (all of them in --json)";
  std::cerr << std::endl;
}

}  // namespace

int run_eval(const EvalOptions& o) {
  const Stopwatch watch;
  std::set<std::string> want(o.metrics.begin(), o.metrics.end());
  const bool all_default = want.empty();
  auto wanted = [&](const std::string& m, bool by_default) { return all_default ? by_default : want.count(m) > 0; };
  const bool lpips_files = !o.lpips_vgg.empty() || !o.lpips_lin.empty();
  if (lpips_files && (o.lpips_vgg.empty() || o.lpips_lin.empty()))
    throw UsageError("LPIPS needs both --lpips-vgg (torchvision's vgg16 file) and --lpips-lin (lpips' vgg.pth)");
  if (wanted("fid", false) && o.inception.empty()) throw UsageError("--metrics fid needs --inception FILE");
  if (wanted("lpips", false) && !lpips_files) throw UsageError("--metrics lpips needs --lpips-vgg and --lpips-lin");
  if (wanted("accuracy", false) && o.classifier.empty()) throw UsageError("--metrics accuracy needs --classifier");
  const Device device = pick_device(o.device);
  if (o.threads > 0) omp_set_num_threads(o.threads);

  eval::EvalRequest request;
  request.colorful = wanted("colorful", true);
  request.colorful_signed = request.colorful && o.colorful_signed;
  request.psnr = wanted("psnr", true);
  request.ssim = wanted("ssim", true);
  request.ab = wanted("ab", false);
  request.ab_constant_a = o.ab_constant.at(0);
  request.ab_constant_b = o.ab_constant.at(1);
  request.batch = o.batch;
  if (!o.quiet)
    request.progress = [](std::size_t done, std::size_t count, std::size_t total) {
      std::cerr << "\r[" << done + count << "/" << total << "] images" << std::flush;
    };
  eval::EvalNetworks networks;
  std::unique_ptr<eval::FidNetwork> fid;
  std::unique_ptr<eval::LpipsNetwork> lpips;
  std::optional<Classifier> classifier;
  if (wanted("fid", !o.inception.empty())) {
    fid = std::make_unique<eval::FidNetwork>(o.inception, o.fid_protocol, device);
    networks.features = [&fid](const Tensor& images) { return fid->features(images); };
    networks.fid_protocol = fid->protocol();
  }
  if (wanted("lpips", lpips_files)) {
    lpips = std::make_unique<eval::LpipsNetwork>(o.lpips_vgg, o.lpips_lin, device);
    networks.lpips = [&lpips](const Tensor& a, const Tensor& b) { return lpips->distance(a, b); };
  }
  if (wanted("accuracy", !o.classifier.empty())) {
    classifier = Classifier::load(o.classifier, device, 224);
    networks.classifier = &*classifier;
  }

  const eval::EvalReport report = eval::evaluate(o.pred, o.ref, request, networks);
  if (!o.quiet) std::cerr << "\r";
  const eval::Pairing& p = report.pairing;
  list_unpaired("references without a prediction", p.missing);
  list_unpaired("predictions without a reference", p.extra);

  std::cout << "bigcolor eval: " << p.pairs.size() << " pairs (--pred " << o.pred << ", --ref " << o.ref << "); "
            << p.missing.size() << " missing, " << p.extra.size() << " extra; " << format_seconds(watch.seconds())
            << "\n";
  std::printf("%-20s %14s %8s  %s\n", "metric", "value", "images", "protocol");
  for (const eval::MetricValue& m : report.metrics)
    std::printf("%-20s %14s %8zu  %s\n", m.name.c_str(), number(m.value).c_str(), m.count, m.note.c_str());
  std::fflush(stdout);

  if (!o.json.empty()) {
    nlohmann::json doc;
    doc["pred"] = o.pred;
    doc["ref"] = o.ref;
    doc["pairs"] = p.pairs.size();
    doc["missing"] = p.missing;
    doc["extra"] = p.extra;
    doc["classes"] = p.classes;
    auto finite_or_string = [](double v) -> nlohmann::json {
      return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(number(v));  // JSON has no inf
    };
    for (const eval::MetricValue& m : report.metrics)
      doc["metrics"][m.name] = {{"value", finite_or_string(m.value)}, {"count", m.count}, {"protocol", m.note}};
    for (const auto& [key, values] : report.per_image) {
      nlohmann::json row;
      for (const auto& [metric, v] : values) row[metric] = finite_or_string(v);
      if (auto it = report.top5.find(key); it != report.top5.end()) row["top5"] = it->second;
      doc["images"][key] = row;
    }
    write_file_atomically(o.json, doc.dump(1) + "\n");
  }
  const bool unpaired = !p.missing.empty() || !p.extra.empty();
  if (unpaired && !o.allow_unpaired)
    std::cerr << "bigcolor: the folders do not pair exactly: the metrics above are over the " << p.pairs.size()
              << " pairs (--allow-unpaired makes this exit 0)" << std::endl;
  return unpaired && !o.allow_unpaired ? 1 : 0;
}

}  // namespace bigcolor::cli
