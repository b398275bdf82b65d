// The training data pipeline (src/train/dataset.h, data_loader.h): folder scanning in torchvision's ImageFolder
// order, class mappings, the official sample transform and batch transforms against torchvision
// (tests/golden/training_data.safetensors and tests/golden/training_data/*.png, written by
// tools/make_golden_training_data.py), colourfulness, and the threaded loader's determinism, skipping and resuming.
// Test folders are made under a fresh temporary directory and removed afterwards.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"
#include "train/data_loader.h"
#include "train/dataset.h"

namespace {

using namespace bigcolor;
using namespace bigcolor::train;
namespace fs = std::filesystem;

// A fresh folder for one test, removed when the test ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("bigcolor_test_training_data_" + std::to_string(::getpid())) / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove(path.parent_path(), ec);  // only once empty: another TempDir may still be alive
  }
  std::string str() const { return path.string(); }
};

// A small RGB image: random colours from `seed` (so it is colourful), or gray when `gray`.
void write_image(const fs::path& path, std::uint64_t seed, bool gray = false, int h = 10, int w = 12) {
  fs::create_directories(path.parent_path());
  Rng rng(seed);
  Image image{w, h, 3, std::vector<float>(static_cast<std::size_t>(h) * w * 3)};
  for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
    for (int c = 0; c < 3; ++c) image.pixels[i + c] = gray && c > 0 ? image.pixels[i] : rng.uniform();
  }
  save_image(path.string(), image);
}

// prefix + i + suffix. (Built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.)
std::string numbered(const char* prefix, int i, const char* suffix = "") {
  return std::string(prefix).append(std::to_string(i)).append(suffix);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> relative_paths(const Dataset& d) {
  std::vector<std::string> out;
  for (const DatasetSample& s : d.samples) out.push_back(fs::path(s.path).lexically_relative(d.root).generic_string());
  return out;
}

template <typename F>
void check_error(F&& call, const std::string& path, const std::string& problem) {
  try {
    call();
    FAIL("no error (expected '", problem, "' for ", path, ")");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO("message: ", message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(problem) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

double max_abs(const Tensor& a, const Tensor& b) { return test::compare(a, b).max_abs_error; }

}  // namespace

TEST_CASE("training data: ImageFolder classes sorted by name, torchvision indices, recursive sorted walk") {
  TempDir dir("order");
  for (const char* cls : {"b_cls", "a_cls", "C_cls"}) write_image(dir.path / cls / "x.png", 1);
  // Inside a class: folders in sorted(os.walk) order ("" < "/a" < "/a b" < "/a/x"), names sorted, any case.
  const fs::path a = dir.path / "a_cls";
  write_image(a / "z.png", 2);
  fs::copy_file(a / "z.png", a / "B.PNG");
  fs::copy_file(a / "z.png", a / ".png");  // torchvision keeps it: its name ends with .png
  write_image(a / "a" / "b.png", 3);
  write_image(a / "a b" / "c.jpg", 4);
  write_text(a / "a" / "x" / "d.bmp", "scanning does not decode");
  const Dataset d = scan_dataset(dir.str());
  CHECK(d.layout == DatasetLayout::ImageFolder);
  CHECK(d.mapping == ClassMapping::FolderOrder);  // auto: the names are not WordNet ids
  REQUIRE(d.classes.size() == 3);
  CHECK((d.classes[0].name == "C_cls" && d.classes[1].name == "a_cls" && d.classes[2].name == "b_cls"));  // bytes
  CHECK(d.classes[1].images == 7);
  const std::vector<std::string> expected = {"C_cls/x.png",   "a_cls/.png",   "a_cls/B.PNG", "a_cls/x.png",
                                             "a_cls/z.png",   "a_cls/a/b.png", "a_cls/a b/c.jpg",
                                             "a_cls/a/x/d.bmp", "b_cls/x.png"};
  CHECK(relative_paths(d) == expected);
  std::vector<int> classes;
  for (const DatasetSample& s : d.samples) classes.push_back(s.class_index);
  CHECK(classes == std::vector<int>{0, 1, 1, 1, 1, 1, 1, 1, 2});
  CHECK(d.unsupported_files == 0);
  CHECK(d.loose_files == 0);
}

TEST_CASE("training data: imagenet class mapping, auto mode and n_classes") {
  TempDir dir("imagenet");
  write_image(dir.path / "n02099601" / "a.png", 1);  // golden retriever, 207
  write_image(dir.path / "n01440764" / "a.png", 2);  // tench, 0
  Dataset d = scan_dataset(dir.str());
  CHECK(d.mapping == ClassMapping::ImageNet);
  CHECK(d.samples[0].class_index == 0);
  CHECK(d.samples[1].class_index == 207);
  d = scan_dataset(dir.str(), {ClassMapping::FolderOrder, 1000, std::nullopt});
  CHECK(d.samples[1].class_index == 1);
  check_error([&] { scan_dataset(dir.str(), {ClassMapping::ImageNet, 100, std::nullopt}); },
              (dir.path / "n02099601").string(), "ImageNet class 207");

  write_image(dir.path / "goldfish" / "a.png", 3);  // an exact class name: not a WordNet id, so auto -> folder order
  CHECK(scan_dataset(dir.str()).mapping == ClassMapping::FolderOrder);
  d = scan_dataset(dir.str(), {ClassMapping::ImageNet, 1000, std::nullopt});
  CHECK(d.samples[0].path.find("goldfish") != std::string::npos);
  CHECK(d.samples[0].class_index == 1);
  check_error([&] { scan_dataset(dir.str(), {ClassMapping::FolderOrder, 2, std::nullopt}); },
              (dir.path / "n02099601").string(), "the model has 2 classes");

  write_image(dir.path / "crane" / "a.png", 4);  // two ImageNet classes carry this name
  check_error([&] { scan_dataset(dir.str(), {ClassMapping::ImageNet, 1000, std::nullopt}); },
              (dir.path / "crane").string(), "ambiguous");
  fs::remove_all(dir.path / "crane");
  write_image(dir.path / "cats" / "a.png", 5);
  check_error([&] { scan_dataset(dir.str(), {ClassMapping::ImageNet, 1000, std::nullopt}); },
              (dir.path / "cats").string(), "neither an ImageNet WordNet id");
  CHECK(parse_class_mapping("folder_order") == ClassMapping::FolderOrder);
  CHECK_THROWS_AS(parse_class_mapping("wnid"), Error);
}

TEST_CASE("training data: flat folder, loose, unsupported and empty-folder counts") {
  TempDir dir("flat");
  write_image(dir.path / "b.png", 1);
  write_image(dir.path / "a.jpg", 2);
  write_text(dir.path / "c.tif", "tiff");
  write_text(dir.path / "notes.txt", "ignored");
  fs::create_directories(dir.path / "empty");
  Dataset d = scan_dataset(dir.str(), {ClassMapping::Auto, 1000, 7});
  CHECK(d.layout == DatasetLayout::Flat);
  CHECK(relative_paths(d) == std::vector<std::string>{"a.jpg", "b.png"});
  CHECK((d.samples[0].class_index == 7 && d.samples[1].class_index == 7));
  CHECK(d.unsupported_files == 1);
  check_error([&] { scan_dataset(dir.str()); }, dir.str(), "needs a fixed class");
  check_error([&] { scan_dataset(dir.str(), {ClassMapping::Auto, 10, 10}); }, dir.str(), "fixed class 10");

  // Class folders with images turn it into an ImageFolder: the loose files are ignored and counted.
  write_image(dir.path / "k1" / "a.png", 3);
  write_text(dir.path / "k1" / "b.WEBP", "webp");
  write_text(dir.path / "k1" / "sub" / "c.ppm", "ppm");
  d = scan_dataset(dir.str(), {ClassMapping::Auto, 1000, 7});
  CHECK(d.layout == DatasetLayout::ImageFolder);
  CHECK(relative_paths(d) == std::vector<std::string>{"k1/a.png"});
  CHECK(d.samples[0].class_index == 1);  // "empty" keeps index 0
  CHECK(d.classes[0].name == "empty");
  CHECK(d.classes[0].images == 0);
  CHECK(d.loose_files == 3);  // a.jpg, b.png, c.tif
  CHECK(d.unsupported_files == 2);
  CHECK(d.unsupported_examples.size() == 2);
  CHECK(d.summary().find("2 files in unsupported formats") != std::string::npos);
}

TEST_CASE("training data: missing, not-a-directory and empty folders are errors naming the path") {
  TempDir dir("errors");
  check_error([&] { scan_dataset((dir.path / "nope").string()); }, (dir.path / "nope").string(),
              "no such file or directory");
  write_text(dir.path / "file.png", "x");
  check_error([&] { scan_dataset((dir.path / "file.png").string()); }, (dir.path / "file.png").string(),
              "not a directory");
  fs::create_directories(dir.path / "empty" / "cls");
  write_text(dir.path / "empty" / "cls" / "a.tiff", "x");
  check_error([&] { scan_dataset((dir.path / "empty").string()); }, (dir.path / "empty").string(),
              "no images found (read: .jpg .jpeg .png .bmp");
  check_error([&] { scan_dataset((dir.path / "empty").string()); }, (dir.path / "empty").string(),
              "1 files in unsupported formats");
}

TEST_CASE("training data: samples, gray and enhance match torchvision; colourfulness matches numpy") {
  const SafetensorsFile golden = load_safetensors(test::golden_path("training_data.safetensors"));
  const auto meta = [&](const std::string& key) { return golden.metadata.at(key); };
  const auto png = [](const std::string& name) { return test::golden_path("training_data/" + name + ".png"); };
  for (const std::string name : {"wide", "tall", "gray"}) {
    INFO("sample ", name);
    const int size = std::stoi(meta("sample." + name + ".size"));
    const Tensor sample = load_training_sample(png(name), size);
    CHECK(max_abs(sample, golden.at("sample." + name)) <= 1e-6);
    const double expected = std::stod(meta("colorfulness.sample." + name));
    CHECK(colorfulness(sample) == doctest::Approx(expected).epsilon(1e-5));
  }
  // Short side already 64: no resize, only the crop (half to even: 2.5 -> 2).
  for (const std::string name : {"square", "crop"}) {
    INFO("unchanged ", name);
    const Tensor full = to_tensor(load_image(png(name)));
    const int top = std::stoi(meta("unchanged." + name + ".top"));
    const int left = std::stoi(meta("unchanged." + name + ".left"));
    const Tensor sample = load_training_sample(png(name), 64);
    const int w = static_cast<int>(full.dim(3)), h = static_cast<int>(full.dim(2));
    CHECK(top == center_crop_offset(h, 64));
    CHECK(left == center_crop_offset(w, 64));
    const std::vector<float> f = full.to_vector(), s = sample.to_vector();
    bool same = true;
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 64; ++y) {
        for (int x = 0; x < 64; ++x) same &= s[(c * 64 + y) * 64 + x] == f[(c * h + y + top) * w + x + left];
      }
    }
    CHECK(same);
  }
  for (const std::string name : {"wide", "tall", "square", "crop"}) {
    const double expected = std::stod(meta("colorfulness.image." + name));
    CHECK(colorfulness(to_tensor(load_image(png(name)))) == doctest::Approx(expected).epsilon(1e-5));
  }
  CHECK(std::stod(meta("colorfulness.image.gray")) == 0.0);

  CHECK(max_abs(grayscale(golden.at("gray.in")), golden.at("gray.out")) <= 1e-6);
  CHECK(max_abs(color_enhance(golden.at("enhance.in"), 1.2), golden.at("enhance.k1.2")) <= 1e-6);
  CHECK(max_abs(color_enhance(golden.at("enhance.in"), 1.5), golden.at("enhance.k1.5")) <= 1e-6);
}

TEST_CASE("training data: crop offsets round half to even; colourfulness of known images") {
  const std::vector<std::pair<int, int>> cases = {{0, 0}, {1, 0}, {2, 1}, {3, 2}, {5, 2}, {7, 4}, {21, 10}};
  for (const auto& [d, offset] : cases) CHECK(center_crop_offset(64 + d, 64) == offset);
  CHECK_THROWS_AS(center_crop_offset(10, 11), Error);

  Rng rng(3);
  std::vector<float> values(60);  // R = G = B
  for (std::size_t i = 0; i < 20; ++i) values[i] = values[i + 20] = values[i + 40] = rng.uniform();
  CHECK(colorfulness(Tensor::from_vector(values, {1, 3, 5, 4})) == 0.0);
  // Two pixels, pure red and pure blue: rg = (255, 0), yb = (127.5, 255): means 127.5 and 191.25, stds 127.5 and
  // 63.75 -> C = 127.5 sqrt(1.25) + 0.3 * 127.5 sqrt(3.25).
  const Tensor two = Tensor::from_vector({1, 0, 0, 0, 0, 1}, {3, 1, 2});
  CHECK(colorfulness(two) == doctest::Approx(127.5 * std::sqrt(1.25) + 0.3 * 127.5 * std::sqrt(3.25)).epsilon(1e-12));
  CHECK_THROWS_AS(colorfulness(Tensor::empty({2, 3, 4, 4})), Error);
}

namespace {

struct Record {
  std::vector<float> x;
  std::vector<std::int32_t> classes;
  std::vector<std::string> paths;
  bool operator==(const Record&) const = default;
};
using Seen = std::vector<Record>;  // one epoch's batches

Seen run_epoch(DataLoader& loader, const LoaderPosition& from) {
  Seen seen;
  loader.start_epoch(from);
  while (auto batch = loader.next()) {
    CHECK(batch->epoch == from.epoch);
    CHECK(batch->index == from.batch + static_cast<std::int64_t>(seen.size()));
    seen.push_back({batch->x.to_vector(), batch->classes.to_indices(), batch->paths});
  }
  return seen;
}

// 3 classes, 23 readable images, a truncated PNG and a text file named .jpg.
Dataset make_loader_dataset(const TempDir& dir) {
  for (int i = 0; i < 23; ++i) write_image(dir.path / numbered("k", i % 3) / numbered("i", i, ".png"), 100 + i);
  std::ifstream in(dir.path / "k0" / "i0.png", std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  write_text(dir.path / "k1" / "truncated.png", bytes.substr(0, bytes.size() / 2));
  write_text(dir.path / "k2" / "text.jpg", "not a JPEG at all");
  return scan_dataset(dir.str());
}

}  // namespace

TEST_CASE("training data: loader skips unreadable images, keeps batches full and is thread-independent") {
  TempDir dir("loader");
  const Dataset dataset = make_loader_dataset(dir);
  REQUIRE(dataset.size() == 25);
  LoaderOptions options{.batch_size = 4, .image_size = 8, .seed = 11, .num_threads = 1};
  DataLoader one(dataset, options);
  const Seen a = run_epoch(one, {0, 0, 0});
  CHECK(a.size() == 5);  // 23 usable images: 5 full batches, 3 dropped
  CHECK(one.skipped_this_epoch().unreadable == 2);
  REQUIRE(one.skipped_this_epoch().examples.size() == 2);
  for (const std::string& example : one.skipped_this_epoch().examples) {
    CHECK((example.find("truncated.png") != std::string::npos || example.find("text.jpg") != std::string::npos));
  }
  std::set<std::string> distinct;
  for (const Record& batch : a) {
    REQUIRE(batch.paths.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      distinct.insert(batch.paths[i]);
      const std::vector<float> expected = load_training_sample(batch.paths[i], 8).to_vector();
      CHECK(std::equal(expected.begin(), expected.end(), batch.x.begin() + static_cast<std::ptrdiff_t>(i * 192)));
      CHECK(batch.classes[i] == fs::path(batch.paths[i]).parent_path().filename().string()[1] - '0');  // "k<c>"
    }
  }
  CHECK(distinct.size() == 20);
  CHECK(run_epoch(one, {0, 0, 0}) == a);  // a second run of the same epoch

  options.num_threads = 3;
  options.prefetch_batches = 1;
  DataLoader three(dataset, options);
  CHECK(run_epoch(three, {0, 0, 0}) == a);
  CHECK(run_epoch(three, {1, 0, 0}) == run_epoch(one, {1, 0, 0}));
  CHECK(run_epoch(three, {1, 0, 0}) != a);  // another epoch, another order
  CHECK(one.skipped_total().unreadable == 6);
}

TEST_CASE("training data: epoch order depends only on (seed, epoch); resuming gives the same batches") {
  const std::vector<std::int64_t> order = epoch_order(1000, 5, 3);
  CHECK(order == epoch_order(1000, 5, 3));
  CHECK(order != epoch_order(1000, 5, 4));
  CHECK(order != epoch_order(1000, 6, 3));
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);

  TempDir dir("resume");
  const Dataset dataset = make_loader_dataset(dir);
  const LoaderOptions options{.batch_size = 3, .image_size = 8, .seed = 5, .num_threads = 2};
  DataLoader loader(dataset, options);
  const Seen full = run_epoch(loader, {2, 0, 0});
  REQUIRE(full.size() == 7);
  // Positions after batch 2 of epoch 2, from a run that stopped there.
  loader.start_epoch(LoaderPosition{2, 0, 0});
  LoaderPosition after;
  for (int i = 0; i < 3; ++i) after = loader.next()->next;
  CHECK(after.epoch == 2);
  CHECK(after.batch == 3);
  const Seen tail(full.begin() + 3, full.end());
  DataLoader fresh(dataset, options);
  CHECK(run_epoch(fresh, after) == tail);
  CHECK(run_epoch(fresh, {2, 3, -1}) == tail);     // cursor unknown: found by walking again
  CHECK(run_epoch(fresh, {2, 7, -1}).empty());     // past the last batch: the epoch is over
  CHECK_THROWS_AS(fresh.start_epoch(LoaderPosition{2, 0, 26}), Error);
}

TEST_CASE("training data: loader drop_last, colourfulness filter, errors and early stop") {
  TempDir dir("filter");
  for (int i = 0; i < 10; ++i) write_image(dir.path / numbered("c", i, ".png"), 200 + i);
  for (int i = 0; i < 4; ++i) write_image(dir.path / numbered("g", i, ".png"), 300 + i, true);
  const Dataset dataset = scan_dataset(dir.str(), {ClassMapping::Auto, 1000, 3});
  LoaderOptions options{.batch_size = 4, .image_size = 8};
  DataLoader all(dataset, options);
  CHECK(run_epoch(all, {0, 0, 0}).size() == 3);  // 14 images: 3 batches, 2 dropped
  CHECK(!all.next().has_value());                  // stays over
  CHECK(all.max_batches_per_epoch() == 3);

  options.min_colorfulness = kOfficialMinColorfulness;
  DataLoader filtered(dataset, options);
  const Seen seen = run_epoch(filtered, {0, 0, 0});
  CHECK(seen.size() == 2);  // 10 colourful images
  CHECK(filtered.skipped_this_epoch().low_colorfulness == 4);
  CHECK(filtered.skipped_this_epoch().examples.front().find("colourfulness 0 < 15") != std::string::npos);
  for (const Record& batch : seen) {
    for (const std::string& path : batch.paths) CHECK(fs::path(path).filename().string()[0] == 'c');
  }

  TempDir bad("bad");
  for (int i = 0; i < 4; ++i) write_text(bad.path / numbered("x", i, ".png"), "junk");
  DataLoader broken(scan_dataset(bad.str(), {ClassMapping::Auto, 1000, 0}), options);
  broken.start_epoch(0);
  check_error([&] { broken.next(); }, bad.str(), "gives no batch of 4 from 4 images: 4 unreadable");
  check_error([&] { DataLoader rejected(dataset, LoaderOptions{}); }, dir.str(), "fewer than the batch size 60");
  CHECK_THROWS_AS(DataLoader(dataset, options).next(), Error);  // no epoch started

  // Stopping mid-epoch, restarting, then destroying with decoders busy: no hang, no leaked thread.
  options.min_colorfulness = 0;
  options.num_threads = 3;
  for (int round = 0; round < 5; ++round) {
    DataLoader early(dataset, options);
    early.start_epoch(round);
    CHECK(early.next().has_value());
    early.start_epoch(round + 1);
  }
}
