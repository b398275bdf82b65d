// The validation run and the evaluation from the command line: `colorize --class-from-folder` over an ImageFolder
// tree (class = sorted sub-folder index, ImageFolder's order for --limit, results in the same tree, resumable), and
// `bigcolor eval` on the golden photo pairs of tests/golden/eval (its numbers are tests/test_eval_parity.cpp's; here:
// the table, the JSON, unpaired files and the exit statuses).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;
namespace fs = std::filesystem;

namespace {

std::string tiny() { return test::golden_path("official_tiny"); }

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli colorize --class-from-folder: ImageFolder classes, the same tree out, resumable, --limit in order") {
  Scratch s;
  write_image(s / "val/n001/x.png", 40, 32, 1, 1);
  write_image(s / "val/n002/z.png", 32, 40, 3, 2);
  write_image(s / "val/n002/sub/y.png", 48, 32, 1, 3);
  fs::create_directories(s / "val/n003");  // an empty class still takes index 2
  write_image(s / "val/n004/w.png", 32, 32, 1, 4);
  const Result r = run({"colorize", s / "val", "--class-from-folder", "-o", s / "out", "--ckpt", tiny(), "--size",
                        "32"});
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  for (const char* f : {"out/n001/x.jpg", "out/n002/z.jpg", "out/n002/sub/y.jpg", "out/n004/w.jpg"})
    CHECK_MESSAGE(fs::exists(s / f), f);
  CHECK(r.err.find("images/s") != std::string::npos);
  // Each result is the one of an explicit --class with the folder's index (n004 is class 3).
  const Result one = run({"colorize", s / "val/n004/w.png", "-o", s / "single", "--ckpt", tiny(), "--size", "32",
                          "--class", "3", "-q"});
  REQUIRE_MESSAGE(one.status == 0, describe(one));
  CHECK(read_text(s / "single/w_c003.jpg") == read_text(s / "out/n004/w.jpg"));
  // A second run keeps what is there.
  const std::string before = read_text(s / "out/n002/z.jpg");
  const Result again = run({"colorize", s / "val", "--class-from-folder", "-o", s / "out", "--ckpt", tiny(), "--size",
                            "32"});
  CHECK(again.status == 0);
  CHECK(again.err.find("4 skipped") != std::string::npos);
  CHECK(read_text(s / "out/n002/z.jpg") == before);
  // --limit takes ImageFolder's order: a folder's own files before its sub-folders'.
  const Result limited = run({"colorize", s / "val", "--class-from-folder", "-o", s / "lim", "--ckpt", tiny(),
                              "--size", "32", "--limit", "2", "-q"});
  REQUIRE_MESSAGE(limited.status == 0, describe(limited));
  CHECK(fs::exists(s / "lim/n001/x.jpg"));
  CHECK(fs::exists(s / "lim/n002/z.jpg"));
  CHECK_FALSE(fs::exists(s / "lim/n002/sub"));
  // Usage errors.
  const Result with_class = run({"colorize", s / "val", "--class-from-folder", "--class", "1", "-o", s / "e1",
                                 "--ckpt", tiny()});
  CHECK(with_class.status == 2);
  CHECK(with_class.err.find("excludes --class") != std::string::npos);
  const Result file_input = run({"colorize", s / "val/n001/x.png", "--class-from-folder", "-o", s / "e2", "--ckpt",
                                 tiny()});
  CHECK(file_input.status == 1);
  CHECK(file_input.err.find("needs ImageFolder roots") != std::string::npos);
}

}  // TEST_SUITE("cli")
