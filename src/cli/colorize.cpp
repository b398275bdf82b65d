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

#include "cli/common.h"
#include "imaging/color.h"
#include "imaging/image.h"
#include "io/imagenet_classes.h"
#include "io/pickle.h"
#include "models/checkpoint.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "tensor/files.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"

namespace bigcolor::cli {
namespace fs = std::filesystem;

// ---- the pipeline's pieces -------------------------------------------------------------------------------------

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
    if (mix.size() != 2) throw UsageError("--mix takes two classes, got " + std::to_string(mix.size()));
    if (mix_weights.empty()) throw UsageError("--mix needs at least one --mix-weight");
    const int a = resolve_imagenet_class(mix[0]);
    const int b = resolve_imagenet_class(mix[1]);
    for (const float w : mix_weights) {
      if (!std::isfinite(w)) throw UsageError("--mix-weight must be a finite number");
      add({a, b, w});
    }
  }
  if (out.empty()) throw UsageError("colorize needs --class (one or more classes) or --mix A B");
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

// ---- the command -----------------------------------------------------------------------------------------------

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_name(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

struct InputImage {
  std::string path;     // as loaded and shown
  fs::path out_subdir;  // relative to the output folder: the image's folder below the input folder (--recursive)
  std::string stem;
};

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec1, ec2;
  const fs::path ca = fs::weakly_canonical(a, ec1), cb = fs::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

// What stops an explicit input before it is opened: not there, or not a regular file (a FIFO would block the
// reader, /dev/zero never ends). Empty when the path can be read as an image file.
std::string input_problem(const fs::path& p) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st)) return "no such file or folder";
  switch (st.type()) {
    case fs::file_type::regular:
    case fs::file_type::directory: return "";
    case fs::file_type::fifo: return "not a regular file (a FIFO)";
    case fs::file_type::character: return "not a regular file (a character device)";
    case fs::file_type::block: return "not a regular file (a block device)";
    case fs::file_type::socket: return "not a regular file (a socket)";
    default: return "not a regular file";
  }
}

// One folder traversal of the inputs. Each real folder is visited once, however many symlinks lead to it (a link
// to an ancestor would otherwise loop until the path length gives out), and the output folder is never entered.
struct FolderScan {
  bool recursive = false;
  fs::path skip;  // the output folder
  std::set<std::pair<std::uintmax_t, std::uintmax_t>> visited;  // (device, inode) of each folder entered
  std::vector<std::string> problems;  // image-named entries that are not regular files, one line each

  // The images directly in `dir` (and below it with `recursive`), sorted by name; names starting with '.' and files
  // whose extension is not .png/.jpg/.jpeg/.bmp are skipped.
  void scan(const fs::path& root, const fs::path& dir, std::vector<InputImage>& out) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return;
    if (!visited.insert({static_cast<std::uintmax_t>(st.st_dev), static_cast<std::uintmax_t>(st.st_ino)}).second)
      return;
    std::vector<fs::directory_entry> entries;
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) entries.push_back(e);
    std::sort(entries.begin(), entries.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
      return a.path().filename().string() < b.path().filename().string();
    });
    std::vector<fs::path> linked;  // symlinks to folders: entered after the real sub-folders, so a folder reached
                                   // both ways is named by its real path
    for (const fs::directory_entry& e : entries) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      std::error_code ec;
      if (e.is_directory(ec)) {
        if (!recursive || same_folder(e.path(), skip)) continue;
        if (e.is_symlink(ec)) linked.push_back(e.path());
        else scan(root, e.path(), out);
      } else if (is_image_name(e.path())) {
        if (!e.is_regular_file(ec)) {
          problems.push_back(e.path().string() + ": " + input_problem(e.path()));
          continue;
        }
        fs::path sub = dir.lexically_relative(root);
        if (sub == ".") sub.clear();
        out.push_back({e.path().string(), sub, e.path().stem().string()});
      }
    }
    for (const fs::path& p : linked) scan(root, p, out);
  }
};

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
  Device device = Device::CPU;
  fs::path output_dir;
  std::unique_ptr<Colorizer> model;
  std::vector<Conditioning> conditionings;
  Tensor embeddings;  // (conditionings, shared_dim)
  Tensor z;           // (K, dim_z)
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

std::string size_text(std::int64_t w, std::int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

// What makes the model input a multiple of 16 on both sides, for the --resize mode in use.
std::string multiple_of_16_hint(const ColorizeOptions& o) {
  switch (o.resize) {
    case ResizeMode::PowerOf:
      return o.num_power < 4 ? "--num-power 4 or more makes the long side one; --size must be one too"
                             : "--size must be a multiple of 16";
    case ResizeMode::Square: return "--size must be a multiple of 16";
    case ResizeMode::Original: return "--resize original keeps the photo's own size; --resize powerof fits any photo";
    case ResizeMode::Absolute:
      return "--resize absolute scales the long side freely; --resize powerof rounds it up to a multiple of 16";
  }
  return "";
}

// Colorizes one image; returns its progress line's text after the "[i/n] ".
std::string colorize_one(Run& run, const InputImage& input) {
  const ColorizeOptions& o = run.o;
  const Stopwatch watch;
  const Image image = load_image(input.path);
  const Tensor gray = to_gray(image);
  const ImageSize msize = model_input_size(image.height, image.width, o.resize, o.size, o.num_power);
  BIGCOLOR_CHECK(msize.height % 16 == 0 && msize.width % 16 == 0, input.path, ": the model input would be ",
                 size_text(msize.width, msize.height), " (--resize ", resize_mode_name(o.resize),
                 "), but the model needs both sides to be multiples of 16 (", multiple_of_16_hint(o), ")");

  // The results: every conditioning with every z, in that order.
  const int num_z = static_cast<int>(run.z.dim(0));
  const auto count = static_cast<std::int64_t>(run.conditionings.size()) * num_z;
  const fs::path dir = run.output_dir / input.out_subdir;
  const std::string ext = o.png ? ".png" : ".jpg";
  std::vector<fs::path> paths;
  for (const Conditioning& c : run.conditionings)
    for (int k = 0; k < num_z; ++k) paths.push_back(dir / (result_name(input.stem, c, k, num_z, o.suffix) + ext));
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
    BIGCOLOR_CHECK(o.overwrite || o.skip_existing || !present[i], input.path, ": ", p.string(),
                   " already exists (--overwrite replaces it, --skip-existing keeps it)");
  }
  const bool keep_present = o.skip_existing && !o.overwrite;
  if (keep_present && n_present == paths.size()) {
    ++run.skipped;
    return input.path + ": skipped, its " + std::to_string(paths.size()) +
           (paths.size() == 1 ? " result exists" : " results exist");
  }

  const Tensor x = resize_bilinear(gray, msize.height, msize.width);
  const std::int64_t dim_c = run.embeddings.dim(1), dim_z = run.z.dim(1);
  const std::vector<float> emb = run.embeddings.to_vector(), zs = run.z.to_vector();
  std::vector<float> c_rows, z_rows;
  for (std::size_t i = 0; i < run.conditionings.size(); ++i) {
    for (int k = 0; k < num_z; ++k) {
      c_rows.insert(c_rows.end(), emb.begin() + i * dim_c, emb.begin() + (i + 1) * dim_c);
      z_rows.insert(z_rows.end(), zs.begin() + k * dim_z, zs.begin() + (k + 1) * dim_z);
    }
  }
  const Tensor out = run_network(*run.model, x, Tensor::from_vector(c_rows, {count, dim_c}),
                                 Tensor::from_vector(z_rows, {count, dim_z}), o.batch, run.device,
                                 [&](int first, int n) {
                                   run.note("  " + input.path + ": forward of results " + std::to_string(first + 1) +
                                            ".." + std::to_string(first + n) + " of " + std::to_string(count) +
                                            " (batch " + std::to_string(n) + ") at " +
                                            size_text(msize.width, msize.height) + " on " +
                                            device_name(run.device));
                                 });

  const std::int64_t h = msize.height, w = msize.width, plane = 3 * h * w;
  const std::vector<float> all = out.to_vector();
  for (const float v : all)
    BIGCOLOR_CHECK(std::isfinite(v), input.path, ": the network's output holds NaN or infinite values (damaged weights ",
                   "or a numerical fault on ", device_name(run.device), "); nothing was written for this input");
  std::vector<Image> pictures;
  for (std::int64_t r = 0; r < count; ++r) {
    const std::vector<float> one(all.begin() + r * plane, all.begin() + (r + 1) * plane);
    pictures.push_back(to_image(finish_result(Tensor::from_vector(one, {1, 3, h, w}), gray, x, o.no_upsample, o.rgb)));
  }
  if (o.sheet) {
    // The gray input (at the results' size) and every result, side by side.
    const Image g = to_image(o.no_upsample ? x : gray);
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
         ", " + std::to_string(count) + (count == 1 ? " result, " : " results, ") + format_seconds(watch.seconds());
}

std::string threads_text(int n) { return ", " + std::to_string(n) + (n == 1 ? " thread" : " threads"); }


}  // namespace

int run_colorize(const ColorizeOptions& o) {
  const Stopwatch watch;
  // Option combinations CLI11 cannot check.
  if (o.resize == ResizeMode::PowerOf && o.size % (1 << o.num_power) != 0)
    throw UsageError("--size " + std::to_string(o.size) + " must be a multiple of 2^--num-power = " +
                     std::to_string(1 << o.num_power) + " for --resize powerof");
  if (o.resize == ResizeMode::Square && o.size % 16 != 0)
    throw UsageError("--size " + std::to_string(o.size) + " must be a multiple of 16 for --resize square");
  if (o.batch < 1) throw UsageError("--batch must be at least 1");
  if (o.num_z < 1) throw UsageError("--num-z must be at least 1");
  if (!std::isfinite(o.c_scale) || !std::isfinite(o.c_bias) || !std::isfinite(o.z_std))
    throw UsageError("--c-scale, --c-bias and --z-std must be finite numbers (a NaN class embedding gives a black "
                     "picture)");
  if (o.quiet && o.verbose) throw UsageError("--quiet and --verbose contradict each other: give one");
  if (o.overwrite && o.skip_existing)
    throw UsageError("--overwrite and --skip-existing contradict each other: give one");
  // Output names are built as <stem>_c<class>...<suffix>.<ext> inside -o: a suffix may not lead elsewhere.
  if (o.suffix.find_first_of(std::string("/\\\0", 3)) != std::string::npos || o.suffix.find("..") != std::string::npos)
    throw UsageError("--suffix '" + printable(o.suffix) + "' may not hold a path separator or '..': output names stay in -o");

  Run run(o);
  run.device = pick_device(o.device);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  run.conditionings = resolve_conditionings(o.classes, o.mix, o.mix_weights);

  std::error_code ec;
  BIGCOLOR_CHECK(fs::exists(o.ckpt, ec), "--ckpt ", o.ckpt, ": no such file or folder");
  const bool official = fs::is_directory(o.ckpt, ec);
  if (!official && (o.epoch >= 0 || o.no_ema || !o.config_path.empty()))
    throw UsageError("--epoch, --no-ema and --config apply to official checkpoint folders; " + o.ckpt +
                     " holds one set of weights");

  // The output folder: checked now, created when the first result is written (a run that fails first leaves none).
  run.output_dir = fs::path(o.output_dir);
  check_output_location(run.output_dir);

  // The inputs: problems with the arguments themselves are reported now, and count as failed inputs.
  std::vector<InputImage> images;
  int failed = 0;
  FolderScan scan;
  scan.recursive = o.recursive;
  scan.skip = run.output_dir;
  for (const std::string& arg : o.inputs) {
    const fs::path p(arg);
    if (const std::string problem = input_problem(p); !problem.empty()) {
      report_failure(arg, problem);
      ++failed;
    } else if (fs::is_directory(p, ec)) {
      const std::size_t before = images.size();
      try {
        scan.scan(p, p, images);
      } catch (const fs::filesystem_error& e) {
        report_failure(arg, std::string("cannot read the folder: ") + e.code().message());
        ++failed;
        continue;
      }
      if (images.size() == before) {
        report_failure(arg, std::string("no images (.png, .jpg, .jpeg, .bmp) in this folder") +
                                (o.recursive ? " or below it" : " (--recursive looks into subfolders)"));
        ++failed;
      }
    } else {
      images.push_back({arg, fs::path(), p.stem().string()});
    }
  }
  for (const std::string& problem : scan.problems) {
    std::cerr << "bigcolor: " << one_line(problem) << std::endl;
    ++failed;
  }
  if (const std::size_t dropped = drop_earlier_results(images, run.output_dir); dropped > 0 && !o.quiet)
    std::cerr << "bigcolor: " << dropped << (dropped == 1 ? " input is" : " inputs are")
              << " a result of another input in its own output folder (an earlier run's); not colorized again"
              << std::endl;

  if (!images.empty()) {
    // The model, in eval mode with gradients off (inference keeps no activations and no gradient buffers).
    ColorizerSource source;
    source.use_ema = !o.no_ema;
    if (o.epoch >= 0) source.epoch = o.epoch;
    source.config_path = o.config_path;
    run.model = load_any_colorizer(o.ckpt, source);
    run.model->set_training(false);
    run.model->set_grad_enabled(false);
    if (o.verbose) {
      const ColorizerConfig& c = run.model->config();
      std::string what = o.ckpt;
      if (official) {
        const OfficialCheckpoint ck = find_official_checkpoint(
            o.ckpt, o.epoch >= 0 ? std::optional<int>(o.epoch) : std::nullopt, o.config_path);
        what += std::string(o.no_ema ? " (raw weights" : " (EMA weights") + " of epoch " + std::to_string(ck.epoch) +
                ", config " + ck.config_path + ")";
      }
      run.note("model: " + what + ": G_ch " + std::to_string(c.biggan.G_ch) + ", encoder ch " +
               std::to_string(c.encoder_ch) + ", " + std::to_string(c.biggan.n_classes) + " classes, dim_z " +
               std::to_string(c.biggan.effective_dim_z()));
    }
    run.embeddings = class_embeddings(*run.model, run.conditionings, o.c_scale, o.c_bias);
    const std::int64_t dim_z = run.model->config().biggan.effective_dim_z();
    run.z = o.z_file.empty() ? draw_z(o.seed, o.z_std, o.num_z, dim_z) : load_z_file(o.z_file, dim_z);
    run.model->place_for_inference(run.device);  // eval, no gradients; unused generator blocks stay on the CPU
    run.note("device: " + std::string(device_name(run.device)) +
             (run.device == Device::CPU ? threads_text(omp_get_max_threads()) : std::string()) +
             "; batch " + std::to_string(o.batch) + "; " + std::to_string(run.conditionings.size()) +
             " conditionings x " + std::to_string(run.z.dim(0)) + " z per input");
  }

  int done = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const InputImage& input = images[i];
    try {
      const int skipped_before = run.skipped;
      const std::string line = colorize_one(run, input);
      if (run.skipped == skipped_before) ++done;
      if (!o.quiet) std::cerr << "[" << i + 1 << "/" << images.size() << "] " << line << std::endl;
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

  if (!o.quiet) {
    std::ostringstream s;
    s << "colorized " << done << " of " << done + failed + run.skipped << " images (" << run.results
      << (run.results == 1 ? " result" : " results") << ") in " << format_seconds(watch.seconds()) << "; ";
    if (run.skipped > 0) s << run.skipped << " skipped (results present); ";
    s << failed << " failed; peak memory: host "
      << format_bytes(peak_host_memory());
    if (run.device == Device::CUDA && run.model) s << ", GPU " << format_bytes(cuda::memory_stats().peak_in_use);
    std::cerr << s.str() << std::endl;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace bigcolor::cli
