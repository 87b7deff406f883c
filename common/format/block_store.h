// Content-addressed block storage, the same on both sides: every block's canonical safetensors bytes in one file
// named by their SHA-256, <dir>/<aa>/<digest>.safetensors (aa: the digest's first two hex digits). Only 64-hex
// digests ever reach the filesystem, so a digest from a peer cannot name a path outside the store. Writes are
// atomic (temp + fsync + rename + dir fsync) and checked against the expected digest, so a file under a digest
// always holds exactly those bytes. A pull in progress keeps its bytes in <dir>/<aa>/<digest>.partial.
//
// Thread-safe: files are immutable once written; concurrent writers of the same digest write the same bytes.
// Torch-free.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/file_util.h"
#include "common/base/status.h"

namespace bt {

// Whether `digest` is 64 lowercase hex characters.
bool IsDigest(std::string_view digest);

class BlockStore {
 public:
  // Creates `dir` if needed and moves blocks stored by earlier versions directly under `dir` into the layout above.
  static absl::StatusOr<std::unique_ptr<BlockStore>> Open(const std::string& dir);
  // A store over `dir` (created on the first Put); see Open for the migration.
  explicit BlockStore(std::string dir) : dir_(std::move(dir)) {}

  bool Has(const std::string& digest) const;  // false for anything that is not a digest
  // Stores `bytes`; if `expected_digest` is set it must match (DATA_LOSS otherwise, nothing written). Returns the
  // digest.
  absl::StatusOr<std::string> Put(std::string_view bytes, const std::string& expected_digest = "") const;
  // Deletes a block file (a block stored for a commit that then failed); a missing one is fine.
  absl::Status Remove(const std::string& digest) const;
  // The stored bytes, memory-mapped or copied. INVALID_ARGUMENT for a non-digest, NOT_FOUND for a missing block.
  absl::StatusOr<std::unique_ptr<MappedFile>> Get(const std::string& digest) const;
  absl::StatusOr<std::string> Read(const std::string& digest) const;
  // Paths for a valid digest (callers check IsDigest first).
  std::string PathFor(const std::string& digest) const;
  std::string PartialPathFor(const std::string& digest) const;
  std::string ShardDir(const std::string& digest) const;
  const std::string& dir() const { return dir_; }

  // Removes what a crash or a failed push leaves behind: temporary files of interrupted writes (*.tmp.*) and block
  // files whose digest `keep` rejects. Partial pulls are kept (they resume). Only for a store no one writes to
  // meanwhile (the cloud sweeps at start-up, before it serves).
  struct SweepResult {
    int blocks = 0;
    int temporary = 0;
    uint64_t bytes = 0;
  };
  absl::StatusOr<SweepResult> Sweep(const std::function<bool(const std::string& digest)>& keep) const;

  // Moves <dir>/<digest>.{safetensors,partial} (the edge's flat layout before) into their shard directories.
  absl::Status MigrateFlatLayout() const;

 private:
  std::string dir_;
};

}  // namespace bt
