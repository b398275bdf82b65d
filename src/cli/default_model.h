// Which weights `bigcolor colorize` uses when no --ckpt is given: the official release when it is present
// (ckpts/bigcolor, where tools/get_weights.sh puts it), otherwise the small model that ships in weights/
// (bigcolor-small.safetensors, trained here on freely licensed photos; its manifest bigcolor-small.json names its
// SHA-256, and the file is checked against it before use).
//
// Where they are looked for, first found wins:
//   official: ./ckpts/bigcolor (the working folder), then <the executable's folder>/../ckpts/bigcolor;
//   bundled:  $BIGCOLOR_WEIGHTS_DIR, <exe>/../weights (a build folder in the source tree), <exe>/../share/bigcolor/
//             weights (an installed copy), then the source tree this binary was built from.
#pragma once

#include <string>

namespace bigcolor::cli {

inline constexpr const char* kBundledManifest = "bigcolor-small.json";

struct ChosenModel {
  std::string path;
  enum class Kind { Given, Official, Bundled } kind = Kind::Given;
  int image_size = 0;  // Bundled: the size it was trained at (the manifest's "image_size"), its best --size
};

// `ckpt` non-empty: that path (Kind::Given). Otherwise the official release or the bundled model, the latter
// verified (bigcolor::Error naming the file: no manifest, a manifest without the file, a size or SHA-256 that
// differs: "corrupt or truncated"). Error when neither is found.
ChosenModel choose_model(const std::string& ckpt);

// Checks the weights file named by a manifest (JSON: "file" relative to the manifest's folder, "bytes", "sha256",
// optional "image_size"); returns the file's path and that size (0 when absent).
ChosenModel verify_manifest(const std::string& manifest_path);

}  // namespace bigcolor::cli
