// Training images: a folder scanned as the official training scans ImageNet, and one sample loaded exactly as its
// transform makes it.
//
// The official train.py reads `torchvision.datasets.ImageFolder(root, transform=Compose([ToTensor(), Resize(256),
// CenterCrop(256)]))` (torchvision 0.11, PIL loader with convert('RGB')). Scanning (scan_dataset):
//   - ImageFolder tree: every sub-folder of root is a class. Class folders are sorted by name (byte order, as
//     Python's sorted), and torchvision's class index is the position in that list. Inside a class folder, files
//     are found recursively in torchvision's make_dataset order: the folders of `os.walk(class, followlinks=True)`
//     sorted by their full path string (so "a b" comes before "a/x": ' ' < '/'), then file names sorted. A file is
//     kept when its lower-cased name ends with .jpg .jpeg .png or .bmp (what load_image decodes); torchvision's
//     other extensions (.ppm .pgm .tif .tiff .webp) are counted as unsupported and skipped; other files are ignored
//     as torchvision ignores them. Symlinked folders are followed (followlinks=True), except a link back to a folder
//     being walked (a loop, which Python would follow until the path is too long).
//   - Flat folder (no sub-folder holds an image, images directly in root): every image gets options.fixed_class.
//   - Both class folders with images and loose images in root: an ImageFolder; the loose images are ignored (as
//     torchvision does) and counted in loose_files.
//   Deviation: torchvision refuses a class folder without images; here it keeps its index and is listed with 0
//   images, so a stray empty folder neither stops training nor shifts other classes.
// Class index (options.mapping): folder_order (torchvision: the position), imagenet (the folder name is a WordNet
// id such as n01440764 or exactly one of a class's names in the bundled ImageNet list, so a subset of ImageNet
// keeps the pretrained class embedding's indices), or auto: imagenet when every class folder holding images is a
// known WordNet id, else folder_order. For the full 1000-folder ImageNet train set both give the same indices.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor::train {

inline constexpr int kTrainingImageSize = 256;         // Resize(256) + CenterCrop(256)
inline constexpr double kOfficialMinColorfulness = 15;  // the recipe leaves out images under this (spec section 7)

enum class ClassMapping { Auto, FolderOrder, ImageNet };
ClassMapping parse_class_mapping(const std::string& name);  // "auto", "folder_order", "imagenet"
const char* class_mapping_name(ClassMapping mapping);

struct DatasetOptions {
  ClassMapping mapping = ClassMapping::Auto;
  int n_classes = 1000;            // every class index must be below this (the model's class embedding)
  std::optional<int> fixed_class;  // the class of every image of a flat folder (required there, unused otherwise)
};

enum class DatasetLayout { ImageFolder, Flat };

struct DatasetSample {
  std::string path;
  int class_index = 0;
};

struct ClassFolder {
  std::string name;       // the folder's name in root
  int class_index = -1;   // -1: a folder without images under the imagenet mapping (it needs no index)
  std::int64_t images = 0;
};

struct Dataset {
  std::string root;
  DatasetLayout layout = DatasetLayout::ImageFolder;
  ClassMapping mapping = ClassMapping::FolderOrder;  // as resolved (never Auto); FolderOrder for a flat folder
  std::vector<ClassFolder> classes;                  // sorted by name; empty for a flat folder
  std::vector<DatasetSample> samples;                // torchvision's order
  std::int64_t unsupported_files = 0;  // files with a torchvision extension load_image does not read, skipped
  std::int64_t loose_files = 0;        // image-extension files directly in root of an ImageFolder tree, ignored
  std::vector<std::string> unsupported_examples;  // the first few of them (paths)

  std::int64_t size() const { return static_cast<std::int64_t>(samples.size()); }
  std::string summary() const;  // one line for logs: root, layout, mapping, classes, images, skipped files
};

// Errors (bigcolor::Error naming the path): missing root, not a directory, no readable image (the message lists
// the extensions read), a flat folder without fixed_class, a class index outside 0..n_classes-1, an unknown or
// ambiguous folder name under the imagenet mapping.
Dataset scan_dataset(const std::string& root, const DatasetOptions& options = {});

// torchvision CenterCrop's offset of a crop of `size` in `extent`: int(round((extent - size) / 2.0)) with Python's
// round (half to even: 1 -> 0, 3 -> 2, 5 -> 2). size <= extent.
int center_crop_offset(int extent, int size);

// torchvision 0.11 Resize(size) then CenterCrop(size) on a (B, C, H, W) F32 CPU tensor -> (B, C, size, size).
// Resize: unchanged when the short side already is `size`, else short -> size and long -> int(size * long / short),
// bilinear without antialiasing (resize_bilinear).
Tensor resize_center_crop(const Tensor& x, int size);

// One training sample: load_image, a gray image replicated to 3 channels (PIL convert('RGB') of L), ToTensor,
// resize_center_crop. (3, size, size) F32 CPU in [0,1]. Throws what load_image throws.
Tensor load_training_sample(const std::string& path, int size = kTrainingImageSize);

// Colourfulness (spec section 8, the absolute-value Hasler-Suesstrunk variant) of one RGB image given as a
// (3, H, W) or (1, 3, H, W) F32 CPU tensor in [0,1], on 0..255 values (x * 255 in double): rg = |R - G|,
// yb = |0.5 (R + G) - B|, C = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2), std the population
// standard deviation (numpy's default), all in double. A gray image gives 0.
double colorfulness(const Tensor& rgb);

}  // namespace bigcolor::train
