// Content-addressed block storage on the cloud: every block's canonical safetensors bytes in one file named by
// their SHA-256 (<dir>/<aa>/<digest>.safetensors). Writes are atomic (temp + fsync + rename + dir fsync) and
// verified against the expected digest, so a file under a digest always holds exactly those bytes. Blocks of the
// foundation model are materialised from the memory-mapped checkpoint the first time they are needed.
// Thread-safe (files are immutable once written; concurrent writers of the same digest write the same bytes).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/base/file_util.h"
#include "common/base/status.h"

namespace bt {

// Whether `digest` is 64 lowercase hex characters (anything else never reaches the filesystem).
bool IsDigest(std::string_view digest);

class BlockStore {
 public:
  static absl::StatusOr<std::unique_ptr<BlockStore>> Open(const std::string& dir);

  bool Has(const std::string& digest) const;
  // Stores `bytes`; if `expected_digest` is set it must match (DataLoss otherwise, nothing written). Returns the
  // digest.
  absl::StatusOr<std::string> Put(std::string_view bytes, const std::string& expected_digest = "") const;
  // The stored bytes, memory-mapped.
  absl::StatusOr<std::unique_ptr<MappedFile>> Get(const std::string& digest) const;
  std::string PathFor(const std::string& digest) const;
  const std::string& dir() const { return dir_; }

 private:
  explicit BlockStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace bt
