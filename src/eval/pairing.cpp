#include "eval/pairing.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "imaging/image.h"
#include "tensor/error.h"

namespace bigcolor::eval {

namespace fs = std::filesystem;

namespace {

// key -> path of every image below `dir`; a folder reached twice through symlinks is read once.
std::map<std::string, std::string> images_below(const std::string& option, const std::string& dir) {
  std::error_code ec;
  BIGCOLOR_CHECK(fs::is_directory(dir, ec), option, " ", dir, ": not a folder");
  std::map<std::string, std::string> out;
  std::set<std::string> visited;
  std::vector<fs::path> todo{fs::path(dir)};
  while (!todo.empty()) {
    const fs::path d = todo.back();
    todo.pop_back();
    if (!visited.insert(fs::weakly_canonical(d, ec).string()).second) continue;
    for (const fs::directory_entry& e : fs::directory_iterator(d, ec)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      if (e.is_directory(ec)) {
        todo.push_back(e.path());
      } else if (image_file_kind(name) == ImageFileKind::Readable && e.is_regular_file(ec)) {
        fs::path rel = e.path().lexically_relative(dir);
        const std::string key = rel.replace_extension().generic_string();
        auto [it, fresh] = out.emplace(key, e.path().string());
        BIGCOLOR_CHECK(fresh, option, " ", dir, ": ", it->second, " and ", e.path().string(),
                       " have the same name without extension: which one is meant?");
      }
    }
    BIGCOLOR_CHECK(!ec, option, " ", d.string(), ": cannot read the folder: ", ec.message());
  }
  return out;
}

}  // namespace

Pairing pair_folders(const std::string& pred_dir, const std::string& ref_dir) {
  const std::map<std::string, std::string> pred = images_below("--pred", pred_dir);
  const std::map<std::string, std::string> ref = images_below("--ref", ref_dir);
  Pairing p;
  for (const auto& [key, path] : ref) {
    auto it = pred.find(key);
    if (it == pred.end()) {
      p.missing.push_back(path);
      continue;
    }
    const std::size_t slash = key.find('/');
    p.pairs.push_back({key, it->second, path, slash == std::string::npos ? "" : key.substr(0, slash)});
  }
  for (const auto& [key, path] : pred)
    if (!ref.count(key)) p.extra.push_back(path);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(ref_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && e.is_directory(ec)) p.classes.push_back(name);
  }
  std::sort(p.classes.begin(), p.classes.end());
  return p;
}

}  // namespace bigcolor::eval
