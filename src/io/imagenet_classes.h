// The 1000 ImageNet-1k classes (index, WordNet id, names), bundled into the binary from
// weights/imagenet_classes.tsv, and the lookup behind `--class`: an index ("207"), a WordNet id ("n02099601") or a
// name ("golden retriever", any of the class's names, case-insensitive). An ambiguous name (e.g. "crane": a bird
// and a machine) or an unknown one is an Error that lists the candidates.
#pragma once

#include <string>
#include <vector>

namespace bigcolor {

struct ImageNetClass {
  int index = 0;
  std::string wnid;
  std::vector<std::string> names;
};

const std::vector<ImageNetClass>& imagenet_classes();
int resolve_imagenet_class(const std::string& spec);

}  // namespace bigcolor
