#include "train/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>

#include "imaging/image.h"
#include "imaging/resize.h"
#include "io/imagenet_classes.h"
#include "tensor/error.h"

namespace bigcolor::train {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxExamples = 5;  // unsupported files named in Dataset::unsupported_examples
constexpr const char* kReadExtensionsText = kReadableImageExtensions;

// One folder's entries, names sorted in byte order. As os.walk(followlinks=True): a symlink to a folder is a
// folder, anything else that is not a folder (broken links included) is a file; an unreadable folder lists nothing.
struct Listing {
  std::vector<std::string> dirs;
  std::vector<std::string> files;
  std::error_code error;
};

Listing list_dir(const fs::path& dir) {
  Listing out;
  fs::directory_iterator it(dir, out.error);
  for (const fs::directory_iterator end; !out.error && it != end; it.increment(out.error)) {
    std::error_code ec;
    const bool is_dir = it->is_directory(ec);
    (is_dir && !ec ? out.dirs : out.files).push_back(it->path().filename().string());
  }
  std::sort(out.dirs.begin(), out.dirs.end());
  std::sort(out.files.begin(), out.files.end());
  return out;
}

// A folder found by walk(): `key` is its path below the class folder as os.walk spells its root ("" for the class
// folder itself, then "/a", "/a/b"), which sorts the way sorted(os.walk(...)) sorts the full root strings.
struct WalkedDir {
  std::string key;
  fs::path path;
  std::vector<std::string> files;
};

void walk(const fs::path& dir, const std::string& key, std::vector<fs::path>& ancestors, std::vector<WalkedDir>& out) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec) canonical = dir;
  if (std::find(ancestors.begin(), ancestors.end(), canonical) != ancestors.end()) return;  // a symlink loop
  Listing listing = list_dir(dir);
  out.push_back({key, dir, std::move(listing.files)});
  ancestors.push_back(canonical);
  for (const std::string& name : listing.dirs) walk(dir / name, key + "/" + name, ancestors, out);
  ancestors.pop_back();
}

// The ImageNet index of a folder name: a WordNet id, or a name that exactly one class carries. -1 when unknown;
// an Error when the name is ambiguous.
int imagenet_index(const std::string& folder, const fs::path& path) {
  static const auto tables = [] {
    std::pair<std::map<std::string, int>, std::map<std::string, std::vector<int>>> t;
    for (const ImageNetClass& c : imagenet_classes()) {
      t.first[c.wnid] = c.index;
      for (const std::string& name : c.names) t.second[name].push_back(c.index);
    }
    return t;
  }();
  if (const auto it = tables.first.find(folder); it != tables.first.end()) return it->second;
  const auto it = tables.second.find(folder);
  if (it == tables.second.end()) return -1;
  if (it->second.size() > 1) {
    std::ostringstream indices;
    for (std::size_t i = 0; i < it->second.size(); ++i) indices << (i ? ", " : "") << it->second[i];
    detail::throw_error(path.string(), ": the class name '", folder, "' is ambiguous (ImageNet classes ",
                        indices.str(), "); name the folder by its WordNet id");
  }
  return it->second.front();
}

bool is_wordnet_id(const std::string& name) {
  return name.size() == 9 && name[0] == 'n' &&
         std::all_of(name.begin() + 1, name.end(), [](unsigned char c) { return std::isdigit(c); });
}

void add_unsupported(Dataset& d, const fs::path& path) {
  ++d.unsupported_files;
  if (d.unsupported_examples.size() < kMaxExamples) d.unsupported_examples.push_back(path.string());
}

// Gives each class folder its index under `mapping` (resolving Auto) and checks it against n_classes.
void assign_indices(Dataset& d, const DatasetOptions& options) {
  ClassMapping mapping = options.mapping;
  if (mapping == ClassMapping::Auto) {
    const bool all_known = std::all_of(d.classes.begin(), d.classes.end(), [](const ClassFolder& c) {
      return c.images == 0 || (is_wordnet_id(c.name) && imagenet_index(c.name, c.name) >= 0);  // ids never throw
    });
    mapping = all_known ? ClassMapping::ImageNet : ClassMapping::FolderOrder;
  }
  d.mapping = mapping;
  for (std::size_t i = 0; i < d.classes.size(); ++i) {
    ClassFolder& c = d.classes[i];
    const fs::path path = fs::path(d.root) / c.name;
    if (mapping == ClassMapping::FolderOrder) {
      c.class_index = static_cast<int>(i);
      BIGCOLOR_CHECK(c.images == 0 || c.class_index < options.n_classes, path.string(), ": class folder ", i + 1,
                     " of ", d.classes.size(), " in sorted order gets index ", c.class_index, ", but the model has ",
                     options.n_classes, " classes");
    } else {
      if (c.images == 0) continue;  // no sample needs its index: stays -1
      c.class_index = imagenet_index(c.name, path);
      BIGCOLOR_CHECK(c.class_index >= 0, path.string(), ": '", c.name,
                     "' is neither an ImageNet WordNet id (e.g. n01440764) nor an ImageNet class name "
                     "(class mapping 'imagenet'; use 'folder_order' to number folders by position)");
      BIGCOLOR_CHECK(c.class_index < options.n_classes, path.string(), ": ImageNet class ", c.class_index,
                     ", but the model has ", options.n_classes, " classes");
    }
  }
}

}  // namespace

ClassMapping parse_class_mapping(const std::string& name) {
  if (name == "auto") return ClassMapping::Auto;
  if (name == "folder_order") return ClassMapping::FolderOrder;
  if (name == "imagenet") return ClassMapping::ImageNet;
  detail::throw_error("unknown class mapping '", name, "' (auto, folder_order or imagenet)");
}

const char* class_mapping_name(ClassMapping mapping) {
  switch (mapping) {
    case ClassMapping::Auto: return "auto";
    case ClassMapping::FolderOrder: return "folder_order";
    case ClassMapping::ImageNet: return "imagenet";
  }
  return "?";
}

Dataset scan_dataset(const std::string& root, const DatasetOptions& options) {
  BIGCOLOR_CHECK(options.n_classes > 0, root, ": n_classes must be positive, got ", options.n_classes);
  const fs::path root_path(root);
  std::error_code ec;
  const fs::file_status status = fs::status(root_path, ec);
  BIGCOLOR_CHECK(!ec || ec == std::errc::no_such_file_or_directory, root, ": cannot access (", ec.message(), ")");
  BIGCOLOR_CHECK(fs::exists(status), root, ": no such file or directory");
  BIGCOLOR_CHECK(fs::is_directory(status), root, ": not a directory (the training data is a folder of images)");
  const Listing top = list_dir(root_path);
  BIGCOLOR_CHECK(!top.error, root, ": cannot read the folder (", top.error.message(), ")");

  Dataset d;
  d.root = root;
  std::vector<std::vector<std::string>> class_files(top.dirs.size());  // image paths per class folder
  for (std::size_t i = 0; i < top.dirs.size(); ++i) {
    std::vector<WalkedDir> dirs;
    std::vector<fs::path> ancestors;
    walk(root_path / top.dirs[i], "", ancestors, dirs);
    std::stable_sort(dirs.begin(), dirs.end(), [](const WalkedDir& a, const WalkedDir& b) { return a.key < b.key; });
    for (const WalkedDir& dir : dirs) {
      for (const std::string& name : dir.files) {
        const ImageFileKind kind = image_file_kind(name);
        if (kind == ImageFileKind::Readable) class_files[i].push_back((dir.path / name).string());
        if (kind == ImageFileKind::Unsupported) add_unsupported(d, dir.path / name);
      }
    }
    d.classes.push_back({top.dirs[i], -1, static_cast<std::int64_t>(class_files[i].size())});
  }
  std::vector<std::string> loose_images, loose_unsupported;
  for (const std::string& name : top.files) {
    const ImageFileKind kind = image_file_kind(name);
    if (kind == ImageFileKind::Readable) loose_images.push_back((root_path / name).string());
    if (kind == ImageFileKind::Unsupported) loose_unsupported.push_back((root_path / name).string());
  }

  const bool any_class_images =
      std::any_of(d.classes.begin(), d.classes.end(), [](const ClassFolder& c) { return c.images > 0; });
  if (any_class_images) {
    d.layout = DatasetLayout::ImageFolder;
    d.loose_files = static_cast<std::int64_t>(loose_images.size() + loose_unsupported.size());
    assign_indices(d, options);
    for (std::size_t i = 0; i < d.classes.size(); ++i) {
      for (std::string& path : class_files[i]) d.samples.push_back({std::move(path), d.classes[i].class_index});
    }
    return d;
  }
  if (loose_images.empty()) {
    std::ostringstream message;
    message << root << ": no images found (read: " << kReadExtensionsText
            << ", in one sub-folder per class or directly inside)";
    const std::int64_t unsupported = d.unsupported_files + static_cast<std::int64_t>(loose_unsupported.size());
    if (unsupported > 0) message << "; " << unsupported << " files in unsupported formats (.ppm .pgm .tif .tiff .webp)";
    throw Error(message.str());
  }
  BIGCOLOR_CHECK(options.fixed_class.has_value(), root, ": a flat folder of ", loose_images.size(),
                 " images (no class sub-folders) needs a fixed class for all of them (--fixed-class N)");
  const int fixed = *options.fixed_class;
  BIGCOLOR_CHECK(fixed >= 0 && fixed < options.n_classes, root, ": fixed class ", fixed, " is outside 0..",
                 options.n_classes - 1);
  d.layout = DatasetLayout::Flat;
  d.mapping = ClassMapping::FolderOrder;
  d.classes.clear();
  for (const std::string& path : loose_unsupported) add_unsupported(d, path);
  for (std::string& path : loose_images) d.samples.push_back({std::move(path), fixed});
  return d;
}

std::string Dataset::summary() const {
  std::ostringstream s;
  s << root << ": ";
  if (layout == DatasetLayout::Flat) {
    s << "flat folder, " << samples.size() << " images of class " << (samples.empty() ? -1 : samples[0].class_index);
  } else {
    const auto empty =
        std::count_if(classes.begin(), classes.end(), [](const ClassFolder& c) { return c.images == 0; });
    s << "ImageFolder, " << classes.size() << " class folders (" << class_mapping_name(mapping) << " indices), "
      << samples.size() << " images";
    if (empty > 0) s << "; " << empty << " class folders without images";
    if (loose_files > 0) s << "; " << loose_files << " loose files in the root ignored";
  }
  if (unsupported_files > 0) {
    s << "; " << unsupported_files << " files in unsupported formats skipped (e.g. " << unsupported_examples.front()
      << ")";
  }
  return s.str();
}

int center_crop_offset(int extent, int size) {
  BIGCOLOR_CHECK(size > 0 && size <= extent, "center crop of ", size, " in ", extent, " pixels");
  const int d = extent - size;
  if (d % 2 == 0) return d / 2;
  const int k = d / 2;  // (d / 2.0) = k + 0.5: Python's round goes to the even neighbour
  return k % 2 == 0 ? k : k + 1;
}

Tensor resize_center_crop(const Tensor& x, int size) {
  BIGCOLOR_CHECK(x.defined() && x.device() == Device::CPU && x.dtype() == DType::F32 && x.ndim() == 4,
                 "resize_center_crop: needs a (B, C, H, W) F32 CPU tensor, got ",
                 x.defined() ? x.describe() : std::string("an undefined tensor"));
  BIGCOLOR_CHECK(size > 0, "resize_center_crop: size ", size, " is not positive");
  const int in_h = static_cast<int>(x.dim(2)), in_w = static_cast<int>(x.dim(3));
  const ImageSize s = model_input_size(in_h, in_w, ResizeMode::Absolute, size);
  const Tensor r = (s.height == in_h && s.width == in_w) ? x : resize_bilinear(x, s.height, s.width);
  const int top = center_crop_offset(s.height, size), left = center_crop_offset(s.width, size);
  const std::int64_t planes = x.dim(0) * x.dim(1);
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), size, size});
  const float* src = r.data<float>();
  float* dst = out.data<float>();
  for (std::int64_t p = 0; p < planes; ++p) {
    for (int y = 0; y < size; ++y) {
      const float* row = src + (p * s.height + top + y) * s.width + left;
      std::memcpy(dst + (p * size + y) * size, row, sizeof(float) * static_cast<std::size_t>(size));
    }
  }
  return out;
}

Tensor load_training_sample(const std::string& path, int size) {
  const Image image = load_image(path);
  Tensor x = to_tensor(image);  // (1, C, H, W)
  if (image.channels == 1) {
    // PIL convert('RGB') of a gray image: R = G = B = L.
    const std::size_t hw = static_cast<std::size_t>(image.width) * image.height;
    Tensor rgb = Tensor::empty({1, 3, image.height, image.width});
    for (int c = 0; c < 3; ++c) std::memcpy(rgb.data<float>() + c * hw, x.data<float>(), sizeof(float) * hw);
    x = rgb;
  }
  return resize_center_crop(x, size).reshape({3, size, size});
}

double colorfulness(const Tensor& rgb) {
  const bool shape_ok = rgb.defined() && ((rgb.ndim() == 3 && rgb.dim(0) == 3) ||
                                          (rgb.ndim() == 4 && rgb.dim(0) == 1 && rgb.dim(1) == 3));
  BIGCOLOR_CHECK(shape_ok && rgb.device() == Device::CPU && rgb.dtype() == DType::F32,
                 "colorfulness: needs a (3, H, W) or (1, 3, H, W) F32 CPU tensor, got ",
                 rgb.defined() ? rgb.describe() : std::string("an undefined tensor"));
  const std::int64_t n = rgb.dim(-1) * rgb.dim(-2);
  BIGCOLOR_CHECK(n > 0, "colorfulness: empty image ", rgb.describe());
  const float* r = rgb.data<float>();
  const float* g = r + n;
  const float* b = g + n;
  const auto rg = [&](std::int64_t i) { return std::abs(255.0 * r[i] - 255.0 * g[i]); };
  const auto yb = [&](std::int64_t i) { return std::abs(0.5 * (255.0 * r[i] + 255.0 * g[i]) - 255.0 * b[i]); };
  // Two passes (mean, then mean squared deviation), as numpy's std computes it.
  double sum_rg = 0, sum_yb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    sum_rg += rg(i);
    sum_yb += yb(i);
  }
  const double mean_rg = sum_rg / static_cast<double>(n), mean_yb = sum_yb / static_cast<double>(n);
  double var_rg = 0, var_yb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    var_rg += (rg(i) - mean_rg) * (rg(i) - mean_rg);
    var_yb += (yb(i) - mean_yb) * (yb(i) - mean_yb);
  }
  var_rg /= static_cast<double>(n);
  var_yb /= static_cast<double>(n);
  return std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
}

}  // namespace bigcolor::train
