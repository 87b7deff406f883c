#include "cloud/store/block_store.h"

#include <filesystem>

#include "common/base/sha256.h"

namespace bt {

bool IsDigest(std::string_view d) {
  if (d.size() != 64) return false;
  for (char c : d) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<BlockStore>> BlockStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create the block store: ", ec.message()));
  return std::unique_ptr<BlockStore>(new BlockStore(dir));
}

std::string BlockStore::PathFor(const std::string& digest) const {
  return absl::StrCat(dir_, "/", digest.substr(0, 2), "/", digest, ".safetensors");
}

bool BlockStore::Has(const std::string& digest) const {
  std::error_code ec;
  return IsDigest(digest) && std::filesystem::exists(PathFor(digest), ec);
}

absl::StatusOr<std::string> BlockStore::Put(std::string_view bytes, const std::string& expected_digest) const {
  const std::string digest = Sha256Hex(bytes);
  if (!expected_digest.empty() && digest != expected_digest) {
    return absl::DataLossError(absl::StrCat("block bytes hash to ", digest.substr(0, 16), "…, expected ",
                                            expected_digest.substr(0, 16), "…"));
  }
  if (Has(digest)) return digest;
  std::error_code ec;
  std::filesystem::create_directories(absl::StrCat(dir_, "/", digest.substr(0, 2)), ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir_, ": ", ec.message()));
  RETURN_IF_ERROR(WriteFileAtomically(PathFor(digest), bytes));
  return digest;
}

absl::StatusOr<std::unique_ptr<MappedFile>> BlockStore::Get(const std::string& digest) const {
  if (!IsDigest(digest)) return absl::InvalidArgumentError(absl::StrCat("'", digest, "' is not a SHA-256 digest"));
  if (!Has(digest)) return absl::NotFoundError(absl::StrCat("no block ", digest.substr(0, 16), "…"));
  return MappedFile::Open(PathFor(digest));
}

}  // namespace bt
