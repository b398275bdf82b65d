// Hardening, at the library level: every file is published safely (tensor/files.h), readers refuse what is not a
// regular file without blocking, and readers are bounded in what a small file expands to. Each case failed before
// its fix: a planted symlink at the old fixed "<name>.tmp" redirected the write, a failed or interrupted write left
// its temporary behind, a FIFO blocked the reader, and a 374 KB archive expanded to 384 MiB of tensors.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "imaging/image.h"
#include "io/torch_file.h"
#include "tensor/error.h"
#include "tensor/files.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

using namespace bigcolor;
namespace fs = std::filesystem;

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::map<std::string, Tensor> one_tensor(std::int64_t n) {
  return {{"x", Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(n), 1.5f), {n})}};
}

// Runs `body` in a child process; returns its wait status. The child exits 0 when body returns normally.
template <typename F>
int in_child(F body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      code = body();
    } catch (...) {
      code = 99;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_SUITE("hardening") {

TEST_CASE("hardening: a symlink planted at a temporary name is never followed") {
  test::TempFolder dir("bigcolor_hardening_");
  const fs::path victim = dir.path() / "victim.txt", out = dir.path() / "model.safetensors";
  std::ofstream(victim) << "keep me";
  // The names the old writers used: "<name>.tmp" (safetensors, run.json) and "<name>.tmp-PID-N" (images).
  fs::create_symlink(victim, out.string() + ".tmp");
  fs::create_symlink(victim, out.string() + ".tmp-" + std::to_string(::getpid()) + "-0");
  save_safetensors(out.string(), one_tensor(4));
  CHECK(read_all(victim) == "keep me");
  CHECK(fs::is_regular_file(fs::symlink_status(out)));
  CHECK(load_safetensors(out.string()).at("x").to_vector() == std::vector<float>(4, 1.5f));
  CHECK(fs::is_symlink(fs::symlink_status(out.string() + ".tmp")));  // left as the user had it

  // A symlink at the destination itself is replaced by the new file; its target is not written through.
  const fs::path linked = dir.path() / "linked.png";
  fs::create_symlink(victim, linked);
  Image im;
  im.width = im.height = 2;
  im.channels = 1;
  im.pixels = {0.f, 1.f, 0.5f, 0.25f};
  save_image(linked.string(), im);
  CHECK(read_all(victim) == "keep me");
  CHECK(fs::is_regular_file(fs::symlink_status(linked)));
}

TEST_CASE("hardening: a failed write leaves no temporary and the old file intact") {
  test::TempFolder dir("bigcolor_hardening_");
  const fs::path out = dir.path() / "run.json";
  write_file_atomically(out.string(), std::string("old\n"));
  // An exception from the writer midway.
  CHECK_THROWS_AS(write_file_atomically(out.string(),
                                        [&](int fd) {
                                          write_all(fd, "partial", 7, out.string());
                                          throw Error("stop");
                                        }),
                  Error);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"run.json"});
  CHECK(read_all(out) == "old\n");

  // The disk filling up (a file size limit: write() fails with EFBIG), in a child process that checks the same.
  const fs::path big = dir.path() / "big.safetensors";
  const int status = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save_safetensors(big.string(), one_tensor(100000));
      return 1;  // should not have fitted
    } catch (const Error& e) {
      if (std::string(e.what()).find(big.string()) != 0) return 2;  // the message names the file
    }
    return names_in(dir.path()) == std::vector<std::string>{"run.json"} ? 0 : 3;
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // Several files staged: a failure while writing the second leaves the first destination untouched.
  const fs::path a = dir.path() / "a.bin", b = dir.path() / "b.bin";
  write_file_atomically(a.string(), std::string("A0"));
  CHECK_THROWS_AS(([&] {
                    StagedFile first(a.string(), "A1", 2);
                    StagedFile second(b.string(), [](int) { throw Error("disk full"); });
                    first.publish();
                    second.publish();
                  }()),
                  Error);
  CHECK(read_all(a) == "A0");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"a.bin", "run.json"});
}

TEST_CASE("hardening: SIGINT or SIGTERM during a write removes the temporary") {
  for (const int sig : {SIGINT, SIGTERM}) {
    CAPTURE(sig);
    test::TempFolder dir("bigcolor_hardening_");
    const fs::path out = dir.path() / "checkpoint.safetensors";
    const int status = in_child([&] {
      install_cleanup_on_signals();
      write_file_atomically(out.string(), [&](int fd) {
        write_all(fd, "half a checkpoint", 17, out.string());
        ::raise(sig);  // as a Ctrl-C would arrive now
      });
      return 0;
    });
    CHECK(WIFSIGNALED(status));  // it still dies of the signal, as the user asked
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);
    CHECK(names_in(dir.path()).empty());
  }
}

TEST_CASE("hardening: readers refuse FIFOs and devices at once, with one line naming the file") {
  test::TempFolder dir("bigcolor_hardening_");
  const fs::path fifo = dir.path() / "photo.png";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // In a child with an alarm: a reader that blocks on the FIFO (no writer ever comes) dies of SIGALRM.
  const int status = in_child([&] {
    ::alarm(20);
    int refused = 0;
    const auto expect = [&](auto&& read, const std::string& what) {
      try {
        read();
      } catch (const Error& e) {
        const std::string m = e.what();
        if (m.find(what) != std::string::npos && m.find('\n') == std::string::npos) ++refused;
      }
    };
    expect([&] { load_image(fifo.string()); }, fifo.string() + ": not a regular file (a FIFO)");
    expect([&] { load_safetensors(fifo.string()); }, fifo.string() + ": not a regular file (a FIFO)");
    expect([&] { load_pickle_file(fifo.string()); }, fifo.string() + ": not a regular file (a FIFO)");
    expect([&] { load_torch_state(fifo.string()); }, fifo.string() + ": not a regular file (a FIFO)");
    expect([&] { load_image("/dev/zero"); }, "/dev/zero: not a regular file (a character device)");
    expect([&] { load_safetensors("/dev/null"); }, "/dev/null: not a regular file (a character device)");
    return refused == 6 ? 0 : 10 + refused;
  });
  REQUIRE_MESSAGE(WIFEXITED(status), "a reader blocked on a FIFO");
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("hardening: a torch.save archive whose tensors share one storage cannot expand without bound") {
  // 1500 tensors viewing one 256 KiB storage (tools/make_golden_hostile.py): 384 MiB when each is copied out.
  const std::string path = test::golden_path("hostile/shared_storage.pt");
  REQUIRE(fs::file_size(path) < 1000000);
  try {
    load_torch_state(path);
    FAIL("the archive was materialized whole");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find(path + ": its tensors expand to more than") == 0);
    CHECK(m.find("twice the file's size") != std::string::npos);
  }
}

}  // TEST_SUITE("hardening")
