// A minimal read-only ZIP reader, enough for the archives torch.save writes (PKWARE APPNOTE 6.3: end of central
// directory record, ZIP64 end records and extra fields, central directory, local file headers).
//
// Only STORED (uncompressed, unencrypted) entries can be read; torch.save writes nothing else. A compressed or
// encrypted entry is listed, and reading it is a bigcolor::Error naming it. The archive is never read whole: the
// central directory is read once, then entries are read through file offsets straight into the caller's memory.
//
// Nothing in the file is trusted. Every offset and size is checked against the file size before it is used, so a
// truncated or corrupt archive is an Error naming the file and the problem, never a crash, an out-of-bounds read
// or an allocation larger than the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

namespace bigcolor {

// Largest archive comment the end-of-central-directory search looks past (the format's own limit).
inline constexpr std::size_t kMaxZipComment = 0xFFFF;

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    std::uint16_t method = 0;             // 0 = stored, 8 = deflate, ...
    std::uint16_t flags = 0;              // general purpose bit flags (bit 0: encrypted)
    std::uint32_t crc32 = 0;              // of the uncompressed data
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;               // uncompressed size
    std::uint64_t local_header_offset = 0;
    std::uint64_t data_offset = 0;        // where the entry's bytes start in the file (after its local header)
  };

  // Opens the file and reads and checks the central directory and every local header. Throws Error.
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return file_size_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;  // null when absent
  const Entry& at(const std::string& name) const;    // Error naming the file and the entry when absent

  // Copies bytes [offset, offset + n) of a stored entry to `dst`. Error if the entry is compressed or encrypted
  // or the range lies outside it. When the range is the whole entry, its CRC-32 is checked too.
  void read(const Entry& entry, std::uint64_t offset, void* dst, std::uint64_t n) const;

  // The whole entry as a string (for small entries such as data.pkl); limited to `max_bytes`.
  std::string read_all(const Entry& entry, std::uint64_t max_bytes = std::uint64_t(1) << 30) const;

  // True when the file begins with a ZIP signature (a local file header or an empty archive's end record).
  static bool has_zip_signature(const std::string& path);

 private:
  void read_at(std::uint64_t offset, void* dst, std::uint64_t n, const char* what) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_size_ = 0;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// CRC-32 (ISO-HDLC, as ZIP uses), continuing from `crc` (0 to start).
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace bigcolor
