#include "cli/colorize.h"

#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <sstream>

#include "api/pipeline.h"
#include "bigcolor/bigcolor.h"
#include "cli/common.h"
#include "cli/default_model.h"
#include "cli/input_scan.h"
#include "cli/ranks.h"
#include "imaging/color.h"
#include "imaging/resize.h"
#include "imaging/image.h"
#include "io/imagenet_classes.h"
#include "io/pickle.h"
#include "models/checkpoint.h"
#include "models/classifier.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "tensor/files.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"

namespace bigcolor::cli {
namespace fs = std::filesystem;

// ---- the command -----------------------------------------------------------------------------------------------

namespace {

// Whether `stem` names a result of another input `other` ("<other>_c207", "<other>_c207_z01", "<other>_sheet"):
// when the output folder is an input folder, an earlier run's results sit beside the photos and must not be
// colorized again as if they were photos.
bool is_result_of(const std::string& stem, const std::string& other) {
  if (stem.size() <= other.size() || stem.compare(0, other.size(), other) != 0) return false;
  const std::string rest = stem.substr(other.size());
  if (rest.rfind("_sheet", 0) == 0) return true;
  return rest.size() >= 5 && rest.compare(0, 2, "_c") == 0 && std::isdigit(static_cast<unsigned char>(rest[2])) &&
         std::isdigit(static_cast<unsigned char>(rest[3])) && std::isdigit(static_cast<unsigned char>(rest[4]));
}

// Drops the inputs that are results: those lying in their own output folder whose stem is a result name of another
// input of the same folder. Returns how many were dropped.
std::size_t drop_earlier_results(std::vector<InputImage>& images, const fs::path& output_dir) {
  std::map<std::string, std::vector<std::string>> stems;  // input folder -> stems of the images in it
  for (const InputImage& i : images) stems[fs::path(i.path).parent_path().string()].push_back(i.stem);
  const std::size_t before = images.size();
  std::erase_if(images, [&](const InputImage& i) {
    const fs::path folder = fs::path(i.path).parent_path();
    if (!same_folder(folder.empty() ? fs::path(".") : folder, output_dir / i.out_subdir)) return false;
    for (const std::string& other : stems[folder.string()])
      if (is_result_of(i.stem, other)) return true;
    return false;
  });
  return before - images.size();
}

// Before anything is computed: the output folder is a folder we may write in, or can be created (its nearest
// existing ancestor is a folder we may write in). Nothing is created here.
void check_output_location(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    BIGCOLOR_CHECK(fs::is_directory(dir, ec), "-o ", dir.string(), ": exists and is not a folder");
    BIGCOLOR_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, "-o ", dir.string(), ": cannot write in this folder (",
                   std::strerror(errno), ")");
    return;
  }
  fs::path parent = fs::absolute(dir, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.parent_path()) parent = parent.parent_path();
  BIGCOLOR_CHECK(fs::is_directory(parent, ec), "-o ", dir.string(), ": cannot be created (", parent.string(),
                 " is not a folder)");
  BIGCOLOR_CHECK(::access(parent.c_str(), W_OK | X_OK) == 0, "-o ", dir.string(), ": cannot be created: cannot write in ",
                 parent.string(), " (", std::strerror(errno), ")");
}

struct Run {
  explicit Run(const ColorizeOptions& options) : o(options) {}
  const ColorizeOptions& o;
  bigcolor::ColorizeOptions request;  // the library's options, z rows included (--z-file read once)
  std::optional<Model> model;
  std::optional<Classifier> classifier;  // --classifier without --class/--mix: classes per photo
  Device device = Device::CPU;
  fs::path output_dir;
  std::vector<Conditioning> conditionings;  // for the output names
  int num_z = 1;
  std::set<std::string> written;  // every file this run wrote (two inputs must not write the same name)
  int results = 0;
  int skipped = 0;  // inputs whose results were all present (--skip-existing)

  void note(const std::string& line) const {
    if (o.verbose) std::cerr << line << '\n';
  }
};

void report_failure(const std::string& input, const std::string& message) {
  std::string line = one_line(message);
  if (line.rfind(input, 0) != 0) line = input + ": " + line;
  std::cerr << "bigcolor: " << line << '\n';
}


// Colorizes one image; returns its progress line's text after the "[i/n] ".
std::string colorize_one(Run& run, const InputImage& input) {
  const ColorizeOptions& o = run.o;
  const Stopwatch watch;

  // With a classifier, the photo's top-k classes are its conditionings (colorize_real.py), so it is read first.
  std::vector<Conditioning> conditionings = run.conditionings;
  bigcolor::ColorizeOptions request = run.request;
  std::optional<Image> loaded;
  std::string classes_text;
  if (input.class_index >= 0) {  // --class-from-folder
    request.classes = {std::to_string(input.class_index)};
    conditionings = resolve_conditionings(request.classes, {}, {});
  } else if (run.classifier) {
    loaded = load_image(input.path);
    request.classes.clear();
    for (const ClassPrediction& p : run.classifier->classify_gray(to_gray(*loaded), o.topk)) {
      request.classes.push_back(std::to_string(p.index));
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%d (%.1f%%)", p.index, 100.0 * p.probability);
      classes_text += (classes_text.empty() ? "" : ", ") + std::string(buffer);
      run.note("  " + input.path + ": class " + buffer +
               (static_cast<std::size_t>(p.index) < imagenet_classes().size()
                    ? " " + imagenet_classes()[p.index].names.at(0) : std::string()));
    }
    conditionings = resolve_conditionings(request.classes, {}, {});
  }

  // The results: every conditioning with every z, in that order.
  const int num_z = run.num_z;
  const auto count = static_cast<std::int64_t>(conditionings.size()) * num_z;
  const fs::path dir = run.output_dir / input.out_subdir;
  const std::string ext = o.png ? ".png" : ".jpg";
  std::vector<fs::path> paths;
  if (input.class_index >= 0) {  // one result, named as the photo: eval pairs it with the photo by relative path
    paths.push_back(dir / (input.stem + o.suffix + ext));
  } else {
    for (const Conditioning& c : conditionings)
      for (int k = 0; k < num_z; ++k) paths.push_back(dir / (result_name(input.stem, c, k, num_z, o.suffix) + ext));
  }
  if (o.sheet) paths.push_back(dir / (input.stem + "_sheet" + o.suffix + ".png"));
  // Which results are written: all of them, or with --skip-existing those not on disk yet.
  std::vector<bool> present(paths.size());
  std::size_t n_present = 0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const fs::path& p = paths[i];
    BIGCOLOR_CHECK(run.written.count(p.string()) == 0, input.path, ": ", p.string(), " was already written for ",
                   "another input of this run (two inputs with the same name)");
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(p, ec);
    BIGCOLOR_CHECK(!fs::is_directory(st), input.path, ": ", p.string(), " is a folder; a result cannot replace it");
    present[i] = fs::exists(st);
    n_present += present[i] ? 1 : 0;
    BIGCOLOR_CHECK(o.overwrite || o.skip_existing || o.class_from_folder || !present[i], input.path, ": ", p.string(),
                   " already exists (--overwrite replaces it, --skip-existing keeps it)");
  }
  // (--skip-existing with --overwrite is refused in run_colorize; --class-from-folder resumes unless --overwrite)
  const bool keep_present = o.skip_existing || (o.class_from_folder && !o.overwrite);
  if (keep_present && n_present == paths.size()) {
    ++run.skipped;
    return input.path + ": skipped, its " + std::to_string(paths.size()) +
           (paths.size() == 1 ? " result exists" : " results exist");
  }

  const Image image = loaded ? std::move(*loaded) : load_image(input.path);
  // Sizes for the progress lines (the library checks them again, with the multiple-of-16 rule).
  const ImageSize msize = model_input_size(image.height, image.width, parse_resize_mode(request.resize),
                                           request.size, request.num_power);
  std::vector<Colorization> results = run.model->colorize(
      image, request,
      [&](const Progress& p) {
        run.note("  " + input.path + ": forward of results " + std::to_string(p.first + 1) + ".." +
                 std::to_string(p.first + p.count) + " of " + std::to_string(p.total) + " (batch " +
                 std::to_string(p.count) + ") at " + size_text(msize.width, msize.height) + " on " +
                 device_name(run.device));
      },
      input.path);
  BIGCOLOR_CHECK(static_cast<std::int64_t>(results.size()) == count, input.path, ": ", results.size(),
                 " results instead of ", count);
  std::vector<Image> pictures;
  for (Colorization& r : results) pictures.push_back(std::move(r.image));
  if (o.sheet) {
    // The gray input (at the results' size) and every result, side by side.
    const Tensor gray = to_gray(image);
    const Image g = to_image(o.request.no_upsample ? resize_bilinear(gray, pictures[0].height, pictures[0].width) : gray);
    const int pw = g.width, ph = g.height, panels = 1 + static_cast<int>(count);
    Image sheet;
    sheet.width = pw * panels;
    sheet.height = ph;
    sheet.channels = 3;
    sheet.pixels.resize(static_cast<std::size_t>(sheet.width) * ph * 3);
    for (int y = 0; y < ph; ++y) {
      float* row = sheet.pixels.data() + static_cast<std::size_t>(y) * sheet.width * 3;
      for (int xx = 0; xx < pw; ++xx)
        for (int ch = 0; ch < 3; ++ch) row[xx * 3 + ch] = g.at(y, xx, 0);
      for (int p = 0; p < static_cast<int>(count); ++p) {
        const float* src = pictures[p].pixels.data() + static_cast<std::size_t>(y) * pw * 3;
        std::copy(src, src + pw * 3, row + static_cast<std::size_t>(p + 1) * pw * 3);
      }
    }
    pictures.push_back(std::move(sheet));
  }

  // All or nothing for this input: every file is encoded and written to its temporary before any is published, so
  // a failure (disk full, a file too large for JPEG) leaves every existing result as it was.
  std::error_code ec;
  fs::create_directories(dir, ec);
  BIGCOLOR_CHECK(!ec, input.path, ": cannot create the output folder ", dir.string(), ": ", ec.message());
  std::vector<StagedFile> staged;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (keep_present && present[i]) continue;
    const std::vector<std::uint8_t> bytes =
        encode_image(paths[i].string(), pictures[i], o.jpeg_quality);
    staged.emplace_back(paths[i].string(), bytes.data(), bytes.size(), "image file");
  }
  for (StagedFile& f : staged) {
    f.publish();
    run.written.insert(f.path());
    run.note("  wrote " + f.path());
  }
  run.results += static_cast<int>(count);
  return input.path + " " + size_text(image.width, image.height) + " -> " + size_text(msize.width, msize.height) +
         ", " + std::to_string(count) + (count == 1 ? " result, " : " results, ") +
         (classes_text.empty() ? "" : "classes " + classes_text + ", ") + format_seconds(watch.seconds());
}

std::string threads_text(int n) { return ", " + std::to_string(n) + (n == 1 ? " thread" : " threads"); }


}  // namespace

namespace {

// A file of ours (safetensors, config inside) whose model has a single class.
bool single_class_model(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto config = file.metadata.find(kColorizerConfigKey);
  return config != file.metadata.end() && colorizer_config_from_json(config->second, path).biggan.n_classes == 1;
}

}  // namespace

int run_colorize(const ColorizeOptions& o) {
  const Stopwatch watch;
  // Option combinations CLI11 cannot check; the library's own (sizes, numbers) before anything is loaded.
  check_options(o.request);
  if (o.png && o.jpeg_quality_given)
    throw UsageError("--jpeg-quality has no effect with --png (PNG is lossless): give one of them");
  if (o.quiet && o.verbose) throw UsageError("--quiet and --verbose contradict each other: give one");
  if (o.overwrite && o.skip_existing)
    throw UsageError("--overwrite and --skip-existing contradict each other: give one");
  // Output names are built as <stem>_c<class>...<suffix>.<ext> inside -o: a suffix may not lead elsewhere.
  if (o.suffix.find_first_of(std::string("/\\\0", 3)) != std::string::npos || o.suffix.find("..") != std::string::npos)
    throw UsageError("--suffix '" + printable(o.suffix) + "' may not hold a path separator or '..': output names stay in -o");

  Run run(o);
  run.request = o.request;
  run.device = pick_device(o.device);
  const Ranks& ranks = Ranks::world();
  share_machine(ranks, run.device, o.threads);
  // Classes: --class / --mix when given, else the classifier's top-k of each photo.
  const bool explicit_classes = !o.request.classes.empty() || !o.request.mix.empty();
  if (o.classifier.empty() && (o.topk_given || o.classifier_size > 0))
    throw UsageError("--topk and --classifier-size choose classes with a classifier: give --classifier FILE");
  if (o.class_from_folder) {
    if (explicit_classes || !o.classifier.empty())
      throw UsageError("--class-from-folder takes each image's class from its folder: it excludes --class, --mix "
                       "and --classifier");
    if (o.request.num_z != 1 || o.sheet)
      throw UsageError("--class-from-folder writes one result per image, named as the image: no --num-z or --sheet");
  }
  const bool use_classifier = !o.classifier.empty() && !explicit_classes && !o.class_from_folder;
  if (!o.classifier.empty() && explicit_classes && !o.quiet)
    std::cerr << "bigcolor: --class/--mix given, so the classifier is not used" << std::endl;
  // The weights: --ckpt, else the official release when present, else the bundled small model (checked).
  const ChosenModel chosen = choose_model(o.ckpt);
  const std::string& ckpt = chosen.path;
  std::error_code ec;
  BIGCOLOR_CHECK(fs::exists(ckpt, ec), "--ckpt ", ckpt, ": no such file or folder");
  const bool official = fs::is_directory(ckpt, ec);
  if (!official && (o.epoch >= 0 || o.no_ema || !o.config_path.empty()))
    throw UsageError("--epoch, --no-ema and --config apply to official checkpoint folders; " + ckpt +
                     " holds one set of weights");
  if (!o.quiet && chosen.kind == ChosenModel::Kind::Official)
    std::cerr << "bigcolor: no --ckpt: using the official BigColor release in " << ckpt << std::endl;
  if (chosen.kind == ChosenModel::Kind::Bundled && !o.size_given && chosen.image_size > 0)
    run.request.size = chosen.image_size;  // the size it was trained at: its colours are best there
  if (!o.quiet && chosen.kind == ChosenModel::Kind::Bundled)
    std::cerr << "bigcolor: no --ckpt and no official release (ckpts/bigcolor; tools/get_weights.sh fetches it): "
                 "using the small bundled model " << ckpt << ", trained here on a few hundred freely licensed photos "
                 "(expect muted colours; see weights/README.md)" << std::endl;
  if (!use_classifier && !o.class_from_folder) {
    if (explicit_classes) {
      run.conditionings = resolve_conditionings(o.request.classes, o.request.mix, o.request.mix_weights);
    } else if (!official && single_class_model(ckpt)) {
      run.request.classes = {"0"};  // a model of one class: nothing to choose
      run.conditionings = resolve_conditionings(run.request.classes, {}, {});
    } else {
      throw UsageError("colorize needs --class (one or more classes), --mix A B, or --classifier FILE to pick "
                       "each photo's classes");
    }
  }
  run.model.reset();

  // The output folder: checked now, created when the first result is written (a run that fails first leaves none).
  run.output_dir = fs::path(o.output_dir);
  check_output_location(run.output_dir);

  // The inputs: problems with the arguments themselves are reported now, and count as failed inputs. Every rank
  // of an mpirun sees them; rank 0 says so.
  const auto report_argument = [&ranks](const std::string& arg, const std::string& problem) {
    if (ranks.rank() == 0) report_failure(arg, problem);
  };
  std::vector<InputImage> images;
  int failed = 0;
  FolderScan scan;
  scan.recursive = o.recursive;
  scan.skip = run.output_dir;
  for (const std::string& arg : o.inputs) {
    const fs::path p(arg);
    if (const std::string problem = file_problem(p.string()); !problem.empty()) {
      report_argument(arg, problem);
      ++failed;
    } else if (o.class_from_folder) {
      if (!fs::is_directory(p, ec)) {
        report_argument(arg, "--class-from-folder needs ImageFolder roots (a folder of class folders), not a file");
        ++failed;
        continue;
      }
      std::vector<std::string> classes;
      std::size_t undecodable = 0;
      const std::vector<InputImage> found = image_folder_inputs(p, scan, classes, undecodable);
      if (classes.empty() || found.empty()) {
        report_argument(arg, classes.empty() ? "no class folders in this folder (--class-from-folder)"
                                            : "no images (.png, .jpg, .jpeg, .bmp) in its class folders");
        ++failed;
        continue;
      }
      if (undecodable > 0)
        if (ranks.rank() == 0) std::cerr << "bigcolor: " << arg << ": " << undecodable
                  << " files of formats this reader cannot decode (.ppm, .pgm, .tif, .tiff, .webp) are not "
                     "colorized; convert them to PNG" << std::endl;
      run.note(arg + ": " + std::to_string(classes.size()) + " classes (" + classes.front() + " = 0 .. " +
               classes.back() + " = " + std::to_string(classes.size() - 1) + "), " + std::to_string(found.size()) +
               " images");
      images.insert(images.end(), found.begin(), found.end());
    } else if (fs::is_directory(p, ec)) {
      const std::size_t before = images.size();
      try {
        scan.scan(p, p, images);
      } catch (const fs::filesystem_error& e) {
        report_argument(arg, std::string("cannot read the folder: ") + e.code().message());
        ++failed;
        continue;
      }
      if (images.size() == before) {
        report_argument(arg, std::string("no images (.png, .jpg, .jpeg, .bmp) in this folder") +
                                (o.recursive ? " or below it" : " (--recursive looks into subfolders)"));
        ++failed;
      }
    } else {
      images.push_back({arg, fs::path(), p.stem().string()});
    }
  }
  for (const std::string& problem : scan.problems) {
    if (ranks.rank() == 0) std::cerr << "bigcolor: " << one_line(problem) << std::endl;
    ++failed;
  }
  if (o.limit > 0 && images.size() > static_cast<std::size_t>(o.limit)) images.resize(o.limit);
  if (const std::size_t dropped = drop_earlier_results(images, run.output_dir);
      dropped > 0 && !o.quiet && ranks.rank() == 0)
    std::cerr << "bigcolor: " << dropped << (dropped == 1 ? " input is" : " inputs are")
              << " a result of another input in its own output folder (an earlier run's); not colorized again"
              << std::endl;
  // Under mpirun every rank has the same list; each takes its share. Inputs that would write the same file names
  // (the same output folder and stem) go to one rank, whose check then refuses the second as on one process.
  const std::size_t all_images = images.size();
  if (ranks.distributed()) {
    std::map<std::string, std::size_t> group;  // output folder + stem -> its index in order of first appearance
    std::vector<InputImage> mine;
    for (const InputImage& input : images) {
      const std::string key = (input.out_subdir / input.stem).string();
      const std::size_t g = group.emplace(key, group.size()).first->second;
      if (owns(ranks, g)) mine.push_back(input);
    }
    images = std::move(mine);
    if (ranks.rank() != 0) failed = 0;  // problems with the arguments were seen by every rank: count them once
  }
  const std::string who = ranks.distributed() ? "rank " + std::to_string(ranks.rank()) + ": " : "";

  if (!images.empty()) {
    // The model, in eval mode with gradients off (inference keeps no activations and no gradient buffers), and
    // the options checked against it before any image is computed.
    LoadOptions load;
    load.device = run.device == Device::CUDA ? Placement::CUDA : Placement::CPU;
    load.use_ema = !o.no_ema;
    load.epoch = o.epoch;
    load.config_path = o.config_path;
    load.precision = *parse_precision(o.precision);  // CLI11 admitted only the three names
    run.model = Model::load(ckpt, load);
    const ModelInfo info = run.model->info();
    if (o.verbose) {
      std::string what = ckpt;
      if (official) {
        const OfficialCheckpoint ck = find_official_checkpoint(
            ckpt, o.epoch >= 0 ? std::optional<int>(o.epoch) : std::nullopt, o.config_path);
        what += std::string(o.no_ema ? " (raw weights" : " (EMA weights") + " of epoch " + std::to_string(ck.epoch) +
                ", config " + ck.config_path + ")";
      }
      run.note("model: " + what + ": G_ch " + std::to_string(info.generator_width) + ", encoder ch " +
               std::to_string(info.encoder_width) + ", " + std::to_string(info.n_classes) + " classes, dim_z " +
               std::to_string(info.dim_z) + ", precision " + info.precision +
               (info.precision == "fp32" ? "" : " (" + info.precision_engine + ")"));
    }
    if (!o.z_file.empty()) {
      const Tensor z = load_z_file(o.z_file, info.dim_z);
      const std::vector<float> values = z.to_vector();
      for (std::int64_t k = 0; k < z.dim(0); ++k)
        run.request.z.emplace_back(values.begin() + k * z.dim(1), values.begin() + (k + 1) * z.dim(1));
    }
    if (use_classifier) {
      run.classifier = Classifier::load(o.classifier, run.device, o.classifier_size);
      const ClassifierInfo& ci = run.classifier->info();
      BIGCOLOR_CHECK(ci.num_classes <= info.n_classes, o.classifier, ": the classifier has ", ci.num_classes,
                     " classes, the colorizer only ", info.n_classes);
      BIGCOLOR_CHECK(o.topk <= ci.num_classes, "--topk ", o.topk, ": ", o.classifier, " has only ", ci.num_classes,
                     " classes");
      run.note("classifier: " + o.classifier + ": " + ci.variant + " (" + ci.structure + ") at " +
               std::to_string(ci.input_size) + "x" + std::to_string(ci.input_size) + ", top " +
               std::to_string(o.topk));
      bigcolor::ColorizeOptions check = run.request;  // every other option checked now; the classes per photo
      check.classes = {"0"};
      run.model->check(check);
    } else {
      bigcolor::ColorizeOptions check = run.request;
      if (o.class_from_folder) check.classes = {"0"};  // the classes come per image
      run.model->check(check);
    }
    if (o.class_from_folder && !run.request.z.empty() && run.request.z.size() != 1)
      throw UsageError("--class-from-folder writes one result per image: give a --z-file with one z, not " +
                       std::to_string(run.request.z.size()));
    run.num_z = run.request.z.empty() ? o.request.num_z : static_cast<int>(run.request.z.size());
    run.note("device: " + std::string(device_name(run.device)) +
             (run.device == Device::CPU ? threads_text(omp_get_max_threads()) : std::string()) +
             "; batch " + std::to_string(o.request.batch) + "; " + std::to_string(run.conditionings.size()) +
             " conditionings x " + std::to_string(run.num_z) + " z per input");
  }

  int done = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const InputImage& input = images[i];
    try {
      const int skipped_before = run.skipped;
      const std::string line = colorize_one(run, input);
      if (run.skipped == skipped_before) ++done;
      if (!o.quiet) std::cerr << who << "[" << i + 1 << "/" << images.size() << "] " << line << std::endl;
    } catch (const std::bad_alloc&) {
      report_failure(input.path, "out of memory");
      ++failed;
    } catch (const fs::filesystem_error& e) {
      report_failure(input.path, e.code().message() + (e.path1().empty() ? "" : ": " + e.path1().string()));
      ++failed;
    } catch (const std::exception& e) {
      report_failure(input.path, e.what());
      ++failed;
    }
  }

  // One summary for the whole run: the counts summed over the ranks, the largest rank's memory.
  const std::vector<std::int64_t> totals = ranks.sum({done, failed, run.skipped, run.results});
  const std::vector<std::int64_t> peaks =
      ranks.max({static_cast<std::int64_t>(peak_host_memory()),
                 static_cast<std::int64_t>(run.device == Device::CUDA && run.model ? cuda::memory_stats().peak_in_use
                                                                                   : 0)});
  done = static_cast<int>(totals[0]);
  failed = static_cast<int>(totals[1]);
  run.skipped = static_cast<int>(totals[2]);
  run.results = static_cast<int>(totals[3]);
  if (!o.quiet && ranks.rank() == 0) {
    std::ostringstream s;
    s << "colorized " << done << " of " << done + failed + run.skipped << " images (" << run.results
      << (run.results == 1 ? " result" : " results") << ") in " << format_seconds(watch.seconds());
    if (done > 0) {
      char rate[48];
      std::snprintf(rate, sizeof rate, " (%.2f images/s)", done / std::max(watch.seconds(), 1e-9));
      s << rate;
    }
    s << "; ";
    if (run.skipped > 0) s << run.skipped << " skipped (results present); ";
    s << failed << " failed; peak memory: host " << format_bytes(static_cast<std::uint64_t>(peaks[0]));
    if (run.device == Device::CUDA && run.model) s << ", GPU " << format_bytes(static_cast<std::uint64_t>(peaks[1]));
    if (ranks.distributed())
      s << " (the largest of " << ranks.size() << " ranks, which shared the " << all_images << " inputs)";
    std::cerr << s.str() << std::endl;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace bigcolor::cli
