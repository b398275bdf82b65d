#include "cli/input_scan.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "imaging/image.h"
#include "tensor/files.h"

namespace bigcolor::cli {
namespace fs = std::filesystem;

bool is_image_name(const fs::path& p) { return image_file_kind(p.filename().string()) == ImageFileKind::Readable; }

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec1, ec2;
  const fs::path ca = fs::weakly_canonical(a, ec1), cb = fs::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

void FolderScan::scan(const fs::path& root, const fs::path& dir, std::vector<InputImage>& out) {
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
        problems.push_back(e.path().string() + ": " + file_problem(e.path().string()));
        continue;
      }
      fs::path sub = dir.lexically_relative(root);
      if (sub == ".") sub.clear();
      out.push_back({e.path().string(), sub, e.path().stem().string()});
    }
  }
  for (const fs::path& p : linked) scan(root, p, out);
}



std::vector<InputImage> image_folder_inputs(const fs::path& root, FolderScan& scan,
                                            std::vector<std::string>& class_names, std::size_t& undecodable) {
  std::vector<fs::path> classes;
  for (const fs::directory_entry& e : fs::directory_iterator(root)) {
    std::error_code ec;
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && e.is_directory(ec)) classes.push_back(e.path());
  }
  std::sort(classes.begin(), classes.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  std::vector<InputImage> out;
  const bool recursive = scan.recursive;
  scan.recursive = true;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    class_names.push_back(classes[c].filename().string());
    const std::size_t before = out.size();
    scan.scan(root, classes[c], out);
    for (std::size_t i = before; i < out.size(); ++i) out[i].class_index = static_cast<int>(c);
    // ImageFolder's order within a class: sorted(os.walk(...)) by folder path, then the file names of each folder
    // sorted, so a folder's own files come before its sub-folders' ("b/z.png" before "b/sub/y.png").
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
                     [](const InputImage& a, const InputImage& b) {
                       const fs::path pa(a.path), pb(b.path);
                       const std::string da = pa.parent_path().string(), db = pb.parent_path().string();
                       return da != db ? da < db : pa.filename().string() < pb.filename().string();
                     });
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(classes[c], fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (image_file_kind(it->path().filename().string()) == ImageFileKind::Unsupported) ++undecodable;
    }
  }
  scan.recursive = recursive;
  return out;
}

}  // namespace bigcolor::cli
