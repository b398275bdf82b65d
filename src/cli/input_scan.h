// The inputs of `bigcolor colorize` (and `classify`): image files, folders (sorted, optionally recursive, each
// real folder once however many symlinks lead to it), and torchvision ImageFolder trees (--class-from-folder).
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bigcolor::cli {

// .png, .jpg, .jpeg, .bmp (case-insensitive): what the image reader decodes (imaging/image.h: image_file_kind).
bool is_image_name(const std::filesystem::path& p);

// Whether two paths name the same folder (both resolved; false when either cannot be).
bool same_folder(const std::filesystem::path& a, const std::filesystem::path& b);

struct InputImage {
  std::string path;                   // as loaded and shown
  std::filesystem::path out_subdir;   // relative to the output folder: the image's folder below the input folder
  std::string stem;
  int class_index = -1;               // --class-from-folder: the ImageFolder class (sub-folder index), else -1
};

// One folder traversal of the inputs. Each real folder is visited once, however many symlinks lead to it (a link
// to an ancestor would otherwise loop until the path length gives out), and the output folder is never entered.
struct FolderScan {
  bool recursive = false;
  std::filesystem::path skip;  // the output folder
  std::set<std::pair<std::uintmax_t, std::uintmax_t>> visited;  // (device, inode) of each folder entered
  std::vector<std::string> problems;  // image-named entries that are not regular files, one line each

  // The images directly in `dir` (and below it with `recursive`), sorted by name; names starting with '.' and
  // files whose extension is not .png/.jpg/.jpeg/.bmp are skipped. out_subdir is dir relative to `root`.
  void scan(const std::filesystem::path& root, const std::filesystem::path& dir, std::vector<InputImage>& out);
};

// torchvision's ImageFolder over `root`: the classes are root's sub-folders sorted by name (hidden ones skipped),
// class i = the i-th; each class folder's images are taken recursively, sorted (ImageFolder walks with
// followlinks=True; here each real folder once), in ImageFolder's order (by folder path, then file name).
// out_subdir keeps the tree (class folder, then any folders below it). `class_names` receives the sorted class folder names. Images ImageFolder would list but this reader cannot
// decode (.ppm, .pgm, .tif, .tiff, .webp) are counted in `undecodable`, so nothing is skipped silently.
std::vector<InputImage> image_folder_inputs(const std::filesystem::path& root, FolderScan& scan,
                                            std::vector<std::string>& class_names, std::size_t& undecodable);

}  // namespace bigcolor::cli
