// `mpirun -np 2 bigcolor colorize ...` (OpenMPI, as CI runs it: as root, two ranks on two cores): the inputs are
// shared out, every result is written exactly once and is the file a single process writes, rank 0 prints the one
// summary, a failing input is counted once, and the commands that are not distributed refuse to run on several
// ranks. Without MPI in the build: a launch as one of several ranks is refused in one line.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>

#include "cli_test_util.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;
namespace fs = std::filesystem;

namespace {

std::string tiny() { return test::golden_path("official_tiny"); }

// The files below `dir` (relative paths) with their bytes.
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_text(e.path().string());
  return out;
}

}  // namespace

TEST_SUITE("cli") {

#ifdef BIGCOLOR_CLI_MPIRUN

TEST_CASE("cli mpi: two ranks colorize a folder into exactly the files of one process") {
  Scratch s;
  for (int i = 0; i < 5; ++i) write_image(s / ("in/p" + std::to_string(i) + ".png"), 40 + 8 * i, 32, 1, 10 + i);
  write_image(s / "in/sub/p0.png", 32, 32, 3, 20);  // the same stem in another folder: another output folder
  const std::vector<std::string> args{"colorize", s / "in", "-r", "--class", "1", "3", "--size", "32", "--ckpt", tiny()};
  std::vector<std::string> one = args, two = args;
  one.insert(one.end(), {"-o", s / "one", "-q"});
  two.insert(two.end(), {"-o", s / "two"});
  const Result single = run(one);
  REQUIRE_MESSAGE(single.status == 0, describe(single));
  const std::string mpirun = quote(BIGCOLOR_CLI_MPIRUN) + " --allow-run-as-root --oversubscribe -np 2";
  const Result dist = run_with(mpirun, two);
  REQUIRE_MESSAGE(dist.status == 0, describe(dist));
  const auto a = tree(s / "one"), b = tree(s / "two");
  CHECK(a.size() == 12);
  CHECK(a == b);  // the same names, the same bytes: each result written once, by one rank
  CHECK(count(dist.err, "colorized 6 of 6 images (12 results)") == 1);  // one summary, over both ranks
  CHECK(count(dist.err, "rank 0: [") >= 1);
  CHECK(count(dist.err, "rank 1: [") >= 1);
  CHECK(dist.err.find("the largest of 2 ranks") != std::string::npos);
}

TEST_CASE("cli mpi: a failing input is counted once; undistributed commands refuse several ranks") {
  Scratch s;
  write_image(s / "in/a.png", 32, 32, 1, 1);
  write_image(s / "in/b.png", 32, 32, 1, 2);
  { std::ofstream(s / "in/c.png") << "not a png"; }
  const std::string mpirun = quote(BIGCOLOR_CLI_MPIRUN) + " --allow-run-as-root --oversubscribe -np 2";
  const Result r = run_with(mpirun, {"colorize", s / "in", s / "missing.png", "--class", "1", "--size", "32",
                                     "--ckpt", tiny(), "-o", s / "out"});
  CHECK(r.status == 1);
  CHECK(count(r.err, "c.png") == 1);        // a bad image: on the rank that had it
  CHECK(count(r.err, "missing.png") == 1);  // a bad argument: every rank saw it, rank 0 says so
  CHECK(count(r.err, "colorized 2 of 4 images") == 1);
  CHECK(r.err.find("2 failed") != std::string::npos);
  const Result inspect = run_with(mpirun, {"inspect", tiny()});
  CHECK(inspect.status != 0);
  CHECK(inspect.err.find("only colorize and train are distributed") != std::string::npos);
}

#else

TEST_CASE("cli mpi: a build without MPI refuses to be one of several ranks") {
  const Result r = run_with("env OMPI_COMM_WORLD_SIZE=2", {"colorize", "x.png", "-o", "out", "--ckpt", tiny(),
                                                            "--class", "1"});
  CHECK(r.status == 1);
  CHECK(r.err.find("built without MPI: rebuild with -DBIGCOLOR_MPI=ON") != std::string::npos);
}

#endif

}  // TEST_SUITE("cli")
