// `bigcolor classify`'s command line (CLI11).
#include <CLI/CLI.hpp>

#include "cli/classify.h"
#include "cli/cli_checks.h"

namespace bigcolor::cli {

CLI::App* add_classify_command(CLI::App& app, ClassifyOptions& o) {
  CLI::App* c = app.add_subcommand("classify", "Print the ImageNet classes an image classifier sees in images");
  c->footer(
      "Classifiers: timm's resnet50d (224x224) and tf_efficientnet_b0..b7 / tf_efficientnet_l2_ns_475 (475x475),\n"
      "the files of the model hub (model.safetensors, pytorch_model.bin) or timm's .pth releases; the variant is\n"
      "recognized from the tensors (tools/get_weights.sh --classifier NAME fetches them). Each image is made gray,\n"
      "repeated to 3 channels and resized to the classifier's size without ImageNet normalization, exactly as\n"
      "colorize_real.py feeds its classifier; `colorize --classifier` uses the same classes.\n\n"
      "Text: one line per image, 'photo.jpg: 207 golden retriever 53.1%, 208 Labrador retriever 11.0%, ...'.\n"
      "--json: [{\"image\": ..., \"classes\": [{\"index\", \"wnid\", \"name\", \"probability\", \"logit\"}, ...]}, ...].");
  c->add_option("inputs", o.inputs, "Image files (.png, .jpg, .jpeg, .bmp) and folders (the images directly inside)")
      ->required()
      ->type_name("IMAGE...");
  c->add_option("--classifier", o.classifier, "The classifier's state dict (.pth, .bin or .safetensors)")
      ->required()
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  c->add_option("-k,--topk", o.topk, "How many classes per image")->check(number_check())->check(CLI::Range(1, 1000));
  c->add_option("--size", o.size, "The square input size (default: the classifier's)")
      ->check(number_check())
      ->check(CLI::Range(16, 4096));
  c->add_flag("--json", o.json, "Print one JSON document on stdout instead of text lines");
  c->add_option("--device", o.device, "cpu, cuda, or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(number_check())->check(CLI::Range(0, 1024));
  return c;
}

}  // namespace bigcolor::cli
