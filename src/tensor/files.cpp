// Safe reading and atomic writing of files (see files.h).
#include "tensor/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace bigcolor {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

// The temporaries of writes in progress, for the signal handler: fixed slots of fixed size, since a handler may not
// allocate or take locks. A slot is claimed by the writer (state 0 -> 1), filled, then published (1 -> 2); the
// handler unlinks only published slots.
constexpr int kSlots = 32;
constexpr std::size_t kSlotPath = 4096;
struct PendingSlot {
  std::atomic<int> state{0};
  char path[kSlotPath];
};
PendingSlot g_pending[kSlots];

// Registers a temporary's name for the handler; -1 when every slot is taken or the name is too long (the write
// still works, it is just not cleaned up by a signal).
int register_pending(const std::string& path) {
  if (path.size() >= kSlotPath) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_pending[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_pending[i].path, path.c_str(), path.size() + 1);
      g_pending[i].state.store(2);
      return i;
    }
  }
  return -1;
}

void release_pending(int slot) {
  if (slot >= 0) g_pending[slot].state.store(0);
}

}  // namespace

// Unlinks the temporary and forgets it; a write's every way out goes through here.
class PendingTemporary {
 public:
  PendingTemporary(std::string path, int fd) : path_(std::move(path)), fd_(fd), slot_(register_pending(path_)) {}
  ~PendingTemporary() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
    release_pending(slot_);
  }
  PendingTemporary(const PendingTemporary&) = delete;
  PendingTemporary& operator=(const PendingTemporary&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Closes the descriptor, returning the errno of a failed close (0 when it worked).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void published() {  // renamed: nothing left to remove
    path_.clear();
    release_pending(slot_);
    slot_ = -1;
  }

 private:
  std::string path_;
  int fd_;
  int slot_;
};

namespace {

// The process's umask (read once: reading it means setting it, briefly).
mode_t process_umask() {
  static const mode_t mask = [] {
    const mode_t m = ::umask(022);
    ::umask(m);
    return m;
  }();
  return mask;
}

}  // namespace

std::FILE* open_regular_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever. It changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) detail::throw_error(path, ": cannot open file: no such file");
    detail::throw_error(path, ": cannot open file: ", std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t mode = st.st_mode;
    ::close(fd);
    if (S_ISDIR(mode)) detail::throw_error(path, ": is a directory, not a file");
    detail::throw_error(path, ": not a regular file (", file_kind(mode), ")");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  std::FILE* file = ::fdopen(fd, "rb");
  if (file == nullptr) {
    const int err = errno;
    ::close(fd);
    detail::throw_error(path, ": cannot open file: ", std::strerror(err));
  }
  return file;
}

std::string file_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "no such file or folder";
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return "";
  return std::string("not a regular file (") + file_kind(st.st_mode) + ")";
}

std::uint64_t ReadFile::size() const {
  struct stat st {};
  if (::fstat(::fileno(file_), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

std::vector<std::uint8_t> read_regular_file(const std::string& path, std::uint64_t max_bytes, const char* what) {
  const ReadFile file(path);
  const std::uint64_t size = file.size();
  BIGCOLOR_CHECK(size <= max_bytes, path, ": file is ", size, " bytes, over the limit of ", max_bytes, " bytes for ",
                 what == nullptr ? "this kind of file" : what);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    detail::throw_error(path, ": cannot read file: read error (truncated while reading?)");
  return bytes;
}

void write_all(int fd, const void* data, std::size_t size, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, p + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      detail::throw_error(path, ": cannot write file: ", std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
}

StagedFile::StagedFile(const std::string& path, const FileWriter& writer, const char* what) : path_(path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string name = target.filename().string();
  BIGCOLOR_CHECK(!name.empty() && name != "." && name != "..", path, ": not a file name to write");
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string pattern = (folder / ("." + name + ".tmp-XXXXXX")).string();
  const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    detail::throw_error(path, ": cannot write ", what, ": ", std::strerror(err));
  }
  temp_ = std::make_unique<PendingTemporary>(pattern, fd);
  ::fchmod(fd, 0666 & ~process_umask());  // mkstemp makes 0600; publish with what open(..., 0666) would give
  writer(fd);
  if (::fsync(fd) != 0) {
    const int err = errno;
    detail::throw_error(path, ": cannot write ", what, ": ", std::strerror(err));
  }
  if (const int err = temp_->close(); err != 0) detail::throw_error(path, ": cannot write ", what, ": ", std::strerror(err));
}

StagedFile::StagedFile(const std::string& path, const void* data, std::size_t size, const char* what)
    : StagedFile(path, [&](int fd) { write_all(fd, data, size, path); }, what) {}

StagedFile::StagedFile(StagedFile&& other) noexcept = default;
StagedFile::~StagedFile() = default;

void StagedFile::publish() {
  BIGCOLOR_CHECK(temp_ != nullptr, path_, ": published twice");
  if (std::rename(temp_->path().c_str(), path_.c_str()) != 0) {
    const int err = errno;
    detail::throw_error(path_, ": cannot replace file: ", std::strerror(err));
  }
  temp_->published();
  temp_.reset();
  // The rename is durable once the folder's entry is on disk.
  const std::filesystem::path target(path_);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomically(const std::string& path, const FileWriter& writer, const char* what) {
  StagedFile(path, writer, what).publish();
}

void write_file_atomically(const std::string& path, const void* data, std::size_t size, const char* what) {
  StagedFile(path, data, size, what).publish();
}

void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, text.data(), text.size());
}

void remove_pending_temporaries() {
  for (PendingSlot& slot : g_pending)
    if (slot.state.load() == 2) ::unlink(slot.path);
}

extern "C" void bigcolor_cleanup_and_die(int signal) {
  remove_pending_temporaries();
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void install_cleanup_on_signals() {
  std::signal(SIGINT, bigcolor_cleanup_and_die);
  std::signal(SIGTERM, bigcolor_cleanup_and_die);
}

}  // namespace bigcolor
