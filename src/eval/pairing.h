// Which prediction goes with which reference: files are paired by their path relative to the folder, without the
// extension ("n01440764/ILSVRC2012_val_00000293.JPEG" pairs with "n01440764/ILSVRC2012_val_00000293.jpg", as the
// validation run of `bigcolor colorize --class-from-folder` writes them). Every image file below either folder
// (.png, .jpg, .jpeg, .bmp, any case; hidden names skipped) is taken; one that has no partner is listed, never
// dropped silently. Two files of one folder with the same key (photo.png and photo.jpg) are an Error: the pairing
// would be a guess.
#pragma once

#include <string>
#include <vector>

namespace bigcolor::eval {

struct ImagePair {
  std::string key;        // relative path without extension, '/'-separated
  std::string pred, ref;  // the two files
  std::string folder;     // the key's first component (the ImageFolder class folder), "" at the top level
};

struct Pairing {
  std::vector<ImagePair> pairs;        // sorted by key
  std::vector<std::string> missing;    // references without a prediction (their paths)
  std::vector<std::string> extra;      // predictions without a reference
  std::vector<std::string> classes;    // the reference folder's sub-folders, sorted: ImageFolder's class order
};

Pairing pair_folders(const std::string& pred_dir, const std::string& ref_dir);

}  // namespace bigcolor::eval
