// Files in and out, safely: the one place where the runtime opens a file to read or publishes a file it wrote.
//
// Reading: every reader (images, safetensors, torch.save archives, pickles) opens its file with open_regular_file,
// which refuses what is not a regular file (a folder, a FIFO, a device such as /dev/zero, a socket) with one line
// naming the file and what it is, and never blocks: the file is opened with O_NONBLOCK and checked with fstat on the
// descriptor it reads from, so a FIFO planted between a check and the open cannot hang the process.
//
// Writing: write_file_atomically is the only way a file is published. It
//   1. creates a temporary file with a unique name in the destination's folder (".<name>.tmp-XXXXXX", mkstemp:
//      O_CREAT|O_EXCL, so a symlink or file already at any name is never followed, truncated or reused);
//   2. lets the caller write through the descriptor, then fsyncs it;
//   3. renames it over the destination (which replaces a symlink at the destination itself, never its target),
//      then fsyncs the folder so the new name survives a power loss;
//   4. removes the temporary on every failure path: a write error (disk full, a file size limit), an exception
//      from the caller's writer, and SIGINT/SIGTERM arriving during the write (install_cleanup_on_signals).
#pragma once

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bigcolor {

// Opens `path` for reading in binary mode. Throws Error "<path>: cannot open file: <reason>" when it does not exist
// or cannot be opened, and "<path>: not a regular file (a FIFO)" (folder, character device, ...) for the rest. The
// caller owns the FILE* (use ReadFile for RAII).
std::FILE* open_regular_file(const std::string& path);

// What keeps `path` from being read as a file, or "" when it is a regular file or a folder (symlinks followed):
// "no such file or folder", "not a regular file (a FIFO)", "(a character device)", ... The same words as
// open_regular_file's errors, for callers that check a path before opening it (the colorize inputs).
std::string file_problem(const std::string& path);

// RAII over open_regular_file.
class ReadFile {
 public:
  explicit ReadFile(const std::string& path) : file_(open_regular_file(path)) {}
  ~ReadFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;
  std::FILE* get() const { return file_; }
  std::uint64_t size() const;  // from fstat

 private:
  std::FILE* file_;
};

// The whole of a regular file (open_regular_file's checks), refusing files over `max_bytes` with an Error naming the
// file, its size and the limit. `what` names the kind of file in messages ("image file").
std::vector<std::uint8_t> read_regular_file(const std::string& path, std::uint64_t max_bytes, const char* what);

// Writes through `fd` (a fresh temporary file); throws to abandon the write.
using FileWriter = std::function<void(int fd)>;

class PendingTemporary;  // files.cpp: a temporary file, removed unless published

// One file written to its temporary (steps 1-2) and not yet published. publish() renames it over the destination
// (step 3); destroying it unpublished removes the temporary. Staging every file of a group before publishing any
// makes the group all-or-nothing for the writes: a disk that fills while writing the third file leaves the first
// two destinations as they were (colorize uses this for the results of one input).
class StagedFile {
 public:
  // `what` names the kind of file in messages: "<path>: cannot write image file: No space left on device".
  StagedFile(const std::string& path, const FileWriter& writer, const char* what = "file");
  StagedFile(const std::string& path, const void* data, std::size_t size, const char* what = "file");
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&&) = delete;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();
  const std::string& path() const { return path_; }
  void publish();

 private:
  std::string path_;
  std::unique_ptr<PendingTemporary> temp_;
};

// Publishes `path` atomically with the steps above. Errors name `path` and the cause ("No space left on device").
void write_file_atomically(const std::string& path, const FileWriter& writer, const char* what = "file");
void write_file_atomically(const std::string& path, const void* data, std::size_t size, const char* what = "file");
void write_file_atomically(const std::string& path, const std::string& text);

// Writes all of [data, data + size) to fd (retrying short writes and EINTR); throws Error naming `path` on failure.
void write_all(int fd, const void* data, std::size_t size, const std::string& path);

// From now on, SIGINT and SIGTERM remove the temporary files of writes in progress before the process dies of the
// signal as it would have (exit status 128 + signal). The `bigcolor` command calls this first thing; a command
// that handles the signals itself (train) calls remove_pending_temporaries() from its own handler's second signal.
void install_cleanup_on_signals();
// Async-signal-safe: unlinks every temporary file of a write in progress.
void remove_pending_temporaries();
// The handler install_cleanup_on_signals installs: removes the temporaries, then dies of `signal`.
extern "C" void bigcolor_cleanup_and_die(int signal);

}  // namespace bigcolor
