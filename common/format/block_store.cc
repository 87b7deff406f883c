#include "common/format/block_store.h"

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

namespace {
absl::Status NotADigest(const std::string& digest) {
  return absl::InvalidArgumentError(absl::StrCat("'", digest.substr(0, 80), "' is not a SHA-256 digest"));
}
}  // namespace

absl::StatusOr<std::unique_ptr<BlockStore>> BlockStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create the block store: ", ec.message()));
  auto store = std::make_unique<BlockStore>(dir);
  RETURN_IF_ERROR(store->MigrateFlatLayout());
  return store;
}

absl::Status BlockStore::MigrateFlatLayout() const {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::path path = it->path();
    const std::string stem = path.stem().string();
    const std::string ext = path.extension().string();
    if (!it->is_regular_file() || !IsDigest(stem) || (ext != ".safetensors" && ext != ".partial")) continue;
    std::filesystem::create_directories(ShardDir(stem), ec);
    const std::string target = ext == ".partial" ? PartialPathFor(stem) : PathFor(stem);
    std::filesystem::rename(path, target, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot move ", path.string(), " to ", target, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<BlockStore::SweepResult> BlockStore::Sweep(const std::function<bool(const std::string&)>& keep) const {
  SweepResult result;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return result;
  for (std::filesystem::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::filesystem::path path = it->path();
    const std::string name = path.filename().string();
    const bool temporary = name.find(".tmp.") != std::string::npos;
    const bool orphan = path.extension() == ".safetensors" && IsDigest(path.stem().string()) && !keep(path.stem().string());
    if (!temporary && !orphan) continue;
    const uint64_t size = it->file_size(ec);
    std::error_code removed;
    std::filesystem::remove(path, removed);
    if (removed) return absl::UnavailableError(absl::StrCat("cannot remove ", path.string(), ": ", removed.message()));
    (temporary ? result.temporary : result.blocks) += 1;
    result.bytes += size;
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir_, ": ", ec.message()));
  return result;
}

std::string BlockStore::ShardDir(const std::string& digest) const { return absl::StrCat(dir_, "/", digest.substr(0, 2)); }

std::string BlockStore::PathFor(const std::string& digest) const {
  return absl::StrCat(ShardDir(digest), "/", digest, ".safetensors");
}

std::string BlockStore::PartialPathFor(const std::string& digest) const {
  return absl::StrCat(ShardDir(digest), "/", digest, ".partial");
}

bool BlockStore::Has(const std::string& digest) const {
  std::error_code ec;
  return IsDigest(digest) && std::filesystem::exists(PathFor(digest), ec);
}

absl::Status BlockStore::Remove(const std::string& digest) const {
  if (!IsDigest(digest)) return absl::InvalidArgumentError(absl::StrCat("'", digest, "' is not a digest"));
  std::error_code ec;
  std::filesystem::remove(PathFor(digest), ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir_, ": cannot remove block ", digest.substr(0, 16), "…: ",
                                                     ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlockStore::Put(std::string_view bytes, const std::string& expected_digest) const {
  const std::string digest = Sha256Hex(bytes);
  if (!expected_digest.empty() && digest != expected_digest) {
    return absl::DataLossError(absl::StrCat("block bytes hash to ", digest.substr(0, 16), "…, expected ",
                                            expected_digest.substr(0, 16), "…"));
  }
  if (Has(digest)) return digest;
  std::error_code ec;
  std::filesystem::create_directories(ShardDir(digest), ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir_, ": ", ec.message()));
  RETURN_IF_ERROR(WriteFileAtomically(PathFor(digest), bytes));
  return digest;
}

absl::StatusOr<std::unique_ptr<MappedFile>> BlockStore::Get(const std::string& digest) const {
  if (!IsDigest(digest)) return NotADigest(digest);
  if (!Has(digest)) return absl::NotFoundError(absl::StrCat("no block ", digest.substr(0, 16), "…"));
  return MappedFile::Open(PathFor(digest));
}

absl::StatusOr<std::string> BlockStore::Read(const std::string& digest) const {
  if (!IsDigest(digest)) return NotADigest(digest);
  if (!Has(digest)) return absl::NotFoundError(absl::StrCat("no block ", digest.substr(0, 16), "… in ", dir_));
  return ReadFileToString(PathFor(digest));
}

}  // namespace bt
