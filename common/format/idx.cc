#include "common/format/idx.h"

#include <zlib.h>

#include <filesystem>

namespace bt {

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& requested) {
  std::string path = requested;
  if (!std::filesystem::exists(path) && std::filesystem::exists(path + ".gz")) path += ".gz";
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("cannot open IDX file '", path, "'"));
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  while (true) {
    if (bytes.size() > kMaxIdxBytes) {
      gzclose(file);
      return absl::ResourceExhaustedError(absl::StrCat("'", path, "' holds more than ", kMaxIdxBytes, " bytes"));
    }
    int n = gzread(file, buffer, sizeof(buffer));
    if (n < 0) {
      gzclose(file);
      return absl::DataLossError(absl::StrCat("'", path, "' is corrupt (gzip read failed)"));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  gzclose(file);
  return ParseIdx(bytes, path);
}

absl::StatusOr<IdxArray> ParseIdx(const std::vector<uint8_t>& bytes, const std::string& path) {
  if (bytes.size() > kMaxIdxBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("'", path, "' holds more than ", kMaxIdxBytes, " bytes"));
  }
  auto bad = [&](const std::string& why) { return absl::DataLossError(absl::StrCat("'", path, "': ", why)); };
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) return bad("not an IDX file (bad magic)");
  if (bytes[2] != 0x08) return bad("only unsigned-byte IDX data is supported");
  const size_t ndims = bytes[3];
  if (ndims == 0 || bytes.size() < 4 + 4 * ndims) return bad("truncated header");
  IdxArray out;
  uint64_t count = 1;
  for (size_t i = 0; i < ndims; ++i) {
    const uint8_t* p = &bytes[4 + 4 * i];
    uint32_t dim = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    out.dims.push_back(dim);
    // The product can only be right if it does not exceed what the file holds; checking as it grows also keeps it
    // from overflowing.
    if (dim != 0 && count > (bytes.size() - 4 - 4 * ndims) / dim) return bad("dimensions larger than the data");
    count *= dim;
  }
  const size_t offset = 4 + 4 * ndims;
  if (bytes.size() - offset != count) {
    return bad(absl::StrCat("header promises ", count, " values, file holds ", bytes.size() - offset));
  }
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end());
  return out;
}

}  // namespace bt
