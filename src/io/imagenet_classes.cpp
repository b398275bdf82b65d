#include "io/imagenet_classes.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "tensor/error.h"

namespace bigcolor {

// Defined in the file CMake generates from weights/imagenet_classes.tsv.
extern const char* const kImageNetClassesTsv;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  const auto end = s.find_last_not_of(" \t\r");
  return begin == std::string::npos ? std::string() : s.substr(begin, end - begin + 1);
}

std::vector<ImageNetClass> parse_table() {
  std::vector<ImageNetClass> classes;
  std::istringstream lines(kImageNetClassesTsv);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string index, wnid, names;
    std::getline(fields, index, '\t');
    std::getline(fields, wnid, '\t');
    std::getline(fields, names);
    ImageNetClass c{std::stoi(index), wnid, {}};
    std::istringstream parts(names);
    std::string name;
    while (std::getline(parts, name, ',')) c.names.push_back(trim(name));
    classes.push_back(std::move(c));
  }
  return classes;
}

}  // namespace

const std::vector<ImageNetClass>& imagenet_classes() {
  static const std::vector<ImageNetClass> classes = parse_table();
  return classes;
}

int resolve_imagenet_class(const std::string& spec) {
  const std::string s = trim(spec);
  const auto& classes = imagenet_classes();
  BIGCOLOR_CHECK(!s.empty(), "--class: empty class");
  if (std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    BIGCOLOR_CHECK(s.size() <= 4 && std::stoi(s) < static_cast<int>(classes.size()), "--class: index ", s,
                   " outside 0..", classes.size() - 1);
    return std::stoi(s);
  }
  const std::string key = lower(s);
  std::vector<const ImageNetClass*> exact, partial;
  for (const ImageNetClass& c : classes) {
    if (lower(c.wnid) == key) return c.index;
    bool is_exact = false, is_partial = false;
    for (const std::string& name : c.names) {
      const std::string n = lower(name);
      is_exact |= n == key;
      is_partial |= n.find(key) != std::string::npos;
    }
    if (is_exact) exact.push_back(&c);
    else if (is_partial) partial.push_back(&c);
  }
  if (exact.size() == 1) return exact.front()->index;
  const std::vector<const ImageNetClass*>& candidates = exact.empty() ? partial : exact;
  if (exact.empty() && partial.size() == 1) return partial.front()->index;
  std::ostringstream message;
  message << "--class: '" << s << "' ";
  if (candidates.empty()) {
    message << "is no ImageNet class index (0-999), WordNet id or class name";
  } else {
    message << (exact.empty() ? "matches " : "is the name of ") << candidates.size() << " classes:";
    for (std::size_t i = 0; i < candidates.size() && i < 8; ++i)
      message << (i ? "," : "") << " " << candidates[i]->index << " (" << candidates[i]->names.front() << ")";
    if (candidates.size() > 8) message << ", ...";
    message << "; give the index";
  }
  throw Error(message.str());
}

}  // namespace bigcolor
