// SHA-256 (FIPS 180-4), for checking that a shipped weights file is the one its manifest names (weights/).
#pragma once

#include <cstdint>
#include <string>

namespace bigcolor {

// The digest of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(const std::string& bytes);
// The digest of a file's content, read in chunks. Error (naming the file): it cannot be opened or read.
std::string sha256_file_hex(const std::string& path);

}  // namespace bigcolor
