// Read-only ZIP reader for torch.save archives. Structures as in PKWARE's APPNOTE.TXT (sections 4.3.6 to 4.3.16,
// 4.5.3): all integers little-endian. See zip_archive.h for what is supported and what is checked.
#include "io/zip_archive.h"

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "io/pickle.h"  // printable(): file-provided names made safe for one-line messages
#include "tensor/error.h"
#include "tensor/files.h"

namespace bigcolor {

namespace {

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;  // fixed part
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

std::uint16_t le16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t le64(const unsigned char* p) {
  return static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
}

// Whether [offset, offset + n) lies within [0, limit), without overflow.
bool within(std::uint64_t offset, std::uint64_t n, std::uint64_t limit) { return offset <= limit && n <= limit - offset; }

const char* method_name(std::uint16_t method) {
  switch (method) {
    case 0: return "stored";
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    default: return "unknown";
  }
}

// Slicing-by-8 tables for the reflected polynomial 0xEDB88320.
struct CrcTables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  CrcTables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

}  // namespace

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  static const CrcTables tables;
  const auto& t = tables.t;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  while (n >= 8) {
    std::uint32_t lo = c ^ le32(p);
    std::uint32_t hi = le32(p + 4);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
        t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  file_ = open_regular_file(path);
  try {
    BIGCOLOR_CHECK(fseeko(file_, 0, SEEK_END) == 0, path, ": cannot seek");
    off_t end = ftello(file_);
    BIGCOLOR_CHECK(end >= 0, path, ": cannot tell the file size");
    file_size_ = static_cast<std::uint64_t>(end);
    BIGCOLOR_CHECK(file_size_ >= kEndSize, path, ": not a zip archive or truncated (", file_size_,
                   " bytes, shorter than an end-of-central-directory record)");

    // 1. The end-of-central-directory record: the last 22 + comment bytes of the file. Scan backwards through at
    //    most 22 + 65535 bytes for a signature whose comment length reaches exactly the end of the file.
    const std::uint64_t tail_size = std::min<std::uint64_t>(file_size_, kEndSize + kMaxZipComment);
    std::vector<unsigned char> tail(tail_size);
    read_at(file_size_ - tail_size, tail.data(), tail_size, "end of central directory");
    std::uint64_t end_pos = 0;
    bool found = false;
    for (std::uint64_t i = tail_size - kEndSize + 1; i-- > 0;) {
      const unsigned char* p = tail.data() + i;
      if (le32(p) == kEndSig && i + kEndSize + le16(p + 20) == tail_size) {
        end_pos = file_size_ - tail_size + i;
        found = true;
        break;
      }
    }
    BIGCOLOR_CHECK(found, path,
                   ": not a zip archive or truncated (no end-of-central-directory record in its last ", tail_size,
                   " bytes)");
    const unsigned char* e = tail.data() + (end_pos - (file_size_ - tail_size));
    std::uint64_t disk = le16(e + 4), cd_disk = le16(e + 6), disk_entries = le16(e + 8), total_entries = le16(e + 10);
    std::uint64_t cd_size = le32(e + 12), cd_offset = le32(e + 16);
    std::uint64_t cd_limit = end_pos;  // the central directory must end before the end record(s)

    // 2. ZIP64: a locator just before the end record points at the ZIP64 end record, whose 64-bit fields replace
    //    the saturated (0xFFFF / 0xFFFFFFFF) ones.
    bool has_locator = false;
    unsigned char loc[kZip64LocatorSize];
    if (end_pos >= kZip64LocatorSize) {
      read_at(end_pos - kZip64LocatorSize, loc, kZip64LocatorSize, "ZIP64 end-of-central-directory locator");
      has_locator = le32(loc) == kZip64LocatorSig;
    }
    const bool saturated = disk == 0xFFFF || cd_disk == 0xFFFF || disk_entries == 0xFFFF || total_entries == 0xFFFF ||
                           cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu;
    if (has_locator) {
      BIGCOLOR_CHECK(le32(loc + 4) == 0 && le32(loc + 16) <= 1, path, ": multi-disk zip archives are not supported");
      const std::uint64_t z64_pos = le64(loc + 8);
      const std::uint64_t locator_pos = end_pos - kZip64LocatorSize;
      BIGCOLOR_CHECK(within(z64_pos, kZip64EndSize, locator_pos), path, ": ZIP64 end record offset ", z64_pos,
                     " lies outside the file (corrupt archive)");
      unsigned char z[kZip64EndSize];
      read_at(z64_pos, z, kZip64EndSize, "ZIP64 end-of-central-directory record");
      BIGCOLOR_CHECK(le32(z) == kZip64EndSig, path, ": bad ZIP64 end-of-central-directory signature at offset ",
                     z64_pos, " (corrupt archive)");
      // A field of the classic record that is not saturated must agree with its ZIP64 counterpart.
      auto merge = [&](std::uint64_t& field, std::uint64_t wide, std::uint64_t saturated_value, const char* what) {
        BIGCOLOR_CHECK(field == saturated_value || field == wide, path, ": the end record and the ZIP64 end record ",
                       "disagree about the ", what, " (", field, " vs ", wide, "; corrupt archive)");
        field = wide;
      };
      merge(disk, le32(z + 16), 0xFFFF, "disk number");
      merge(cd_disk, le32(z + 20), 0xFFFF, "central directory disk");
      merge(disk_entries, le64(z + 24), 0xFFFF, "number of entries");
      merge(total_entries, le64(z + 32), 0xFFFF, "number of entries");
      merge(cd_size, le64(z + 40), 0xFFFFFFFFu, "central directory size");
      merge(cd_offset, le64(z + 48), 0xFFFFFFFFu, "central directory offset");
      cd_limit = z64_pos;
    } else {
      BIGCOLOR_CHECK(!saturated, path, ": the end record needs a ZIP64 end record, which is missing (corrupt archive)");
    }
    BIGCOLOR_CHECK(disk == 0 && cd_disk == 0 && disk_entries == total_entries, path,
                   ": multi-disk zip archives are not supported");

    // 3. The central directory.
    BIGCOLOR_CHECK(within(cd_offset, cd_size, cd_limit), path, ": central directory (offset ", cd_offset, ", ",
                   cd_size, " bytes) lies outside the file (", file_size_, " bytes; corrupt or truncated archive)");
    BIGCOLOR_CHECK(total_entries <= cd_size / kCentralHeaderSize, path, ": central directory claims ", total_entries,
                   " entries but holds only ", cd_size, " bytes (corrupt archive)");
    std::vector<unsigned char> cd(cd_size);
    read_at(cd_offset, cd.data(), cd_size, "central directory");
    entries_.reserve(total_entries);
    std::uint64_t pos = 0;
    for (std::uint64_t i = 0; i < total_entries; ++i) {
      BIGCOLOR_CHECK(within(pos, kCentralHeaderSize, cd_size), path, ": central directory entry ", i,
                     " runs past the end of the central directory (corrupt archive)");
      const unsigned char* h = cd.data() + pos;
      BIGCOLOR_CHECK(le32(h) == kCentralHeaderSig, path, ": central directory entry ", i,
                     " has a bad signature (corrupt archive)");
      const std::uint64_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
      BIGCOLOR_CHECK(within(pos + kCentralHeaderSize, name_len + extra_len + comment_len, cd_size), path,
                     ": central directory entry ", i, " runs past the end of the central directory (corrupt archive)");
      Entry entry;
      entry.flags = le16(h + 8);
      entry.method = le16(h + 10);
      entry.crc32 = le32(h + 16);
      entry.compressed_size = le32(h + 20);
      entry.size = le32(h + 24);
      std::uint64_t entry_disk = le16(h + 34);
      entry.local_header_offset = le32(h + 42);
      entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);

      // ZIP64 extended information: 8-byte values for exactly the fields that are saturated, in this order.
      const unsigned char* x = h + kCentralHeaderSize + name_len;
      std::uint64_t xpos = 0;
      while (xpos + 4 <= extra_len) {
        const std::uint16_t id = le16(x + xpos), len = le16(x + xpos + 2);
        BIGCOLOR_CHECK(xpos + 4 + len <= extra_len, path, ": entry '", printable(entry.name),
                       "' has a malformed extra field (corrupt archive)");
        if (id == kZip64ExtraId) {
          const unsigned char* f = x + xpos + 4;
          std::uint64_t used = 0;
          auto take64 = [&](std::uint64_t& field) {
            BIGCOLOR_CHECK(used + 8 <= len, path, ": entry '", printable(entry.name),
                           "' has a truncated ZIP64 extra field (corrupt archive)");
            field = le64(f + used);
            used += 8;
          };
          if (entry.size == 0xFFFFFFFFu) take64(entry.size);
          if (entry.compressed_size == 0xFFFFFFFFu) take64(entry.compressed_size);
          if (entry.local_header_offset == 0xFFFFFFFFu) take64(entry.local_header_offset);
          if (entry_disk == 0xFFFF) {
            BIGCOLOR_CHECK(used + 4 <= len, path, ": entry '", printable(entry.name),
                           "' has a truncated ZIP64 extra field (corrupt archive)");
            entry_disk = le32(f + used);
          }
        }
        xpos += 4 + std::uint64_t(len);
      }
      BIGCOLOR_CHECK(entry_disk == 0, path, ": multi-disk zip archives are not supported");
      BIGCOLOR_CHECK(entry.method != 0 || entry.compressed_size == entry.size, path, ": stored entry '", printable(entry.name),
                     "' has a compressed size (", entry.compressed_size, ") different from its size (", entry.size,
                     "; corrupt archive)");

      // The local header: its signature, its name, and where the data begins. Everything must lie before the
      // central directory.
      BIGCOLOR_CHECK(within(entry.local_header_offset, kLocalHeaderSize, cd_offset), path, ": entry '", printable(entry.name),
                     "' has its local header at offset ", entry.local_header_offset,
                     ", outside the file's data area (corrupt or truncated archive)");
      unsigned char local[kLocalHeaderSize];
      read_at(entry.local_header_offset, local, kLocalHeaderSize, "local file header");
      BIGCOLOR_CHECK(le32(local) == kLocalHeaderSig, path, ": entry '", printable(entry.name),
                     "' has a bad local header signature at offset ", entry.local_header_offset, " (corrupt archive)");
      const std::uint64_t local_name_len = le16(local + 26), local_extra_len = le16(local + 28);
      const std::uint64_t name_pos = entry.local_header_offset + kLocalHeaderSize;
      BIGCOLOR_CHECK(within(name_pos, local_name_len + local_extra_len, cd_offset), path, ": entry '", printable(entry.name),
                     "' has a local header running past the data area (corrupt or truncated archive)");
      std::string local_name(local_name_len, '\0');
      read_at(name_pos, local_name.data(), local_name_len, "local file header");
      BIGCOLOR_CHECK(local_name == entry.name, path, ": entry '", printable(entry.name), "' has the name '", printable(local_name),
                     "' in its local header (corrupt archive)");
      entry.data_offset = name_pos + local_name_len + local_extra_len;
      BIGCOLOR_CHECK(within(entry.data_offset, entry.compressed_size, cd_offset), path, ": entry '", printable(entry.name),
                     "' (", entry.compressed_size, " bytes at offset ", entry.data_offset,
                     ") runs past the end of the data area (corrupt or truncated archive)");

      BIGCOLOR_CHECK(index_.emplace(entry.name, entries_.size()).second, path, ": duplicate entry '", printable(entry.name),
                     "' (corrupt archive)");
      entries_.push_back(std::move(entry));
      pos += kCentralHeaderSize + name_len + extra_len + comment_len;
    }
  } catch (...) {
    std::fclose(file_);
    file_ = nullptr;
    throw;
  }
}

ZipArchive::~ZipArchive() {
  if (file_ != nullptr) std::fclose(file_);
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const ZipArchive::Entry& ZipArchive::at(const std::string& name) const {
  const Entry* entry = find(name);
  BIGCOLOR_CHECK(entry != nullptr, path_, ": archive has no entry '", printable(name), "'");
  return *entry;
}

void ZipArchive::read_at(std::uint64_t offset, void* dst, std::uint64_t n, const char* what) const {
  if (n == 0) return;
  BIGCOLOR_CHECK(within(offset, n, file_size_), path_, ": ", what, " at offset ", offset, " (", n,
                 " bytes) runs past the end of the file (", file_size_, " bytes; truncated?)");
  BIGCOLOR_CHECK(fseeko(file_, static_cast<off_t>(offset), SEEK_SET) == 0, path_, ": cannot seek to offset ", offset);
  BIGCOLOR_CHECK(std::fread(dst, 1, n, file_) == n, path_, ": read error in ", what, " at offset ", offset,
                 " (file truncated while open?)");
}

void ZipArchive::read(const Entry& entry, std::uint64_t offset, void* dst, std::uint64_t n) const {
  BIGCOLOR_CHECK((entry.flags & 1) == 0, path_, ": entry '", printable(entry.name), "' is encrypted, which is not supported");
  BIGCOLOR_CHECK(entry.method == 0, path_, ": entry '", printable(entry.name), "' is compressed (", method_name(entry.method),
                 ", method ", entry.method, "); only stored (uncompressed) entries are supported");
  BIGCOLOR_CHECK(within(offset, n, entry.size), path_, ": read of ", n, " bytes at offset ", offset,
                 " runs past the end of entry '", printable(entry.name), "' (", entry.size, " bytes)");
  read_at(entry.data_offset + offset, dst, n, ("entry '" + printable(entry.name) + "'").c_str());
  if (offset == 0 && n == entry.size) {
    const std::uint32_t crc = crc32_update(0, dst, n);
    BIGCOLOR_CHECK(crc == entry.crc32, path_, ": entry '", printable(entry.name), "' fails its CRC-32 check (corrupt archive)");
  }
}

std::string ZipArchive::read_all(const Entry& entry, std::uint64_t max_bytes) const {
  BIGCOLOR_CHECK(entry.size <= max_bytes, path_, ": entry '", printable(entry.name), "' has ", entry.size,
                 " bytes, more than the limit of ", max_bytes);
  std::string bytes(entry.size, '\0');
  read(entry, 0, bytes.data(), entry.size);
  return bytes;
}

bool ZipArchive::has_zip_signature(const std::string& path) {
  std::FILE* f = nullptr;
  try {
    f = open_regular_file(path);  // never a FIFO's endless wait: a probe of what is not a file says no
  } catch (const Error&) {
    return false;
  }
  unsigned char sig[4] = {0, 0, 0, 0};
  const bool ok = std::fread(sig, 1, 4, f) == 4;
  std::fclose(f);
  return ok && (le32(sig) == kLocalHeaderSig || le32(sig) == kEndSig);
}

}  // namespace bigcolor
