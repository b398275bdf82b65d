#include "cli/default_model.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "tensor/error.h"
#include "tensor/sha256.h"

namespace bigcolor::cli {

namespace {

namespace fs = std::filesystem;

fs::path executable_folder() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::vector<fs::path> bundled_folders() {
  std::vector<fs::path> out;
  if (const char* dir = std::getenv("BIGCOLOR_WEIGHTS_DIR"); dir && *dir) out.emplace_back(dir);
  const fs::path exe = executable_folder();
  if (!exe.empty()) {
    out.push_back(exe / ".." / "weights");
    out.push_back(exe / ".." / "share" / "bigcolor" / "weights");
  }
#ifdef BIGCOLOR_SOURCE_WEIGHTS_DIR
  out.emplace_back(BIGCOLOR_SOURCE_WEIGHTS_DIR);
#endif
  return out;
}

std::optional<fs::path> official_release() {
  std::vector<fs::path> candidates = {fs::path("ckpts") / "bigcolor"};
  const fs::path exe = executable_folder();
  if (!exe.empty()) candidates.push_back(exe / ".." / "ckpts" / "bigcolor");
  std::error_code ec;
  for (const fs::path& c : candidates)
    if (fs::is_directory(c, ec)) return c.lexically_normal();
  return std::nullopt;
}

}  // namespace

ChosenModel verify_manifest(const std::string& manifest_path) {
  std::ifstream in(manifest_path, std::ios::binary);
  BIGCOLOR_CHECK(in.good(), manifest_path, ": cannot be opened");
  nlohmann::json manifest;
  std::string file, expected;
  std::uintmax_t bytes = 0;
  int image_size = 0;
  try {
    manifest = nlohmann::json::parse(in);
    file = manifest.at("file").get<std::string>();
    expected = manifest.at("sha256").get<std::string>();
    bytes = manifest.at("bytes").get<std::uintmax_t>();
    if (manifest.contains("image_size")) image_size = manifest.at("image_size").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(manifest_path + ": not a weights manifest (" + e.what() + ")");
  }
  BIGCOLOR_CHECK(file.find('/') == std::string::npos && file.find("..") == std::string::npos, manifest_path,
                 ": 'file' must name a file beside the manifest");
  const std::string weights = (fs::path(manifest_path).parent_path() / file).string();
  std::error_code ec;
  BIGCOLOR_CHECK(fs::is_regular_file(weights, ec), weights, ": missing (named by ", manifest_path, ")");
  const std::uintmax_t size = fs::file_size(weights, ec);
  BIGCOLOR_CHECK(size == bytes, weights, ": ", size, " bytes where its manifest says ", bytes,
                 ": the file is truncated or corrupt (restore it: git checkout -- weights/)");
  const std::string actual = sha256_file_hex(weights);
  BIGCOLOR_CHECK(actual == expected, weights, ": SHA-256 ", actual, " where its manifest says ", expected,
                 ": the file is corrupt (restore it: git checkout -- weights/)");
  return {weights, ChosenModel::Kind::Bundled, image_size};
}

ChosenModel choose_model(const std::string& ckpt) {
  if (!ckpt.empty()) return {ckpt, ChosenModel::Kind::Given};
  if (const std::optional<fs::path> official = official_release())
    return {official->string(), ChosenModel::Kind::Official};
  std::error_code ec;
  for (const fs::path& dir : bundled_folders()) {
    const fs::path manifest = dir / kBundledManifest;
    if (fs::is_regular_file(manifest, ec)) return verify_manifest(manifest.lexically_normal().string());
  }
  throw Error("no --ckpt given, and neither the official release (ckpts/bigcolor: tools/get_weights.sh fetches it) "
              "nor the bundled model (weights/" + std::string(kBundledManifest) + ") was found");
}

}  // namespace bigcolor::cli
