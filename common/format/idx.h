// Reader for the IDX format of (Fashion-)MNIST: big-endian magic (0x00 0x00 type ndims), big-endian dims, raw
// data. Gzip-compressed files (as Debian ships them) are read transparently. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // only unsigned-byte IDX files are supported
};

// Largest IDX file read (after decompression): Fashion-MNIST's training images are 47 MB.
inline constexpr size_t kMaxIdxBytes = size_t{1} << 30;

// Reads `path`, or `path` + ".gz" when `path` does not exist. Every malformed file (bad magic, unsupported type,
// truncated header, dimensions that do not match the data) is DATA_LOSS naming the file.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);
// The same checks on decompressed bytes; `path` names them in errors.
absl::StatusOr<IdxArray> ParseIdx(const std::vector<uint8_t>& bytes, const std::string& path);

}  // namespace bt
