// The edge's outbox: finished updates the cloud has not accepted yet, one JSON file each under <data_dir>/outbox,
// delivered oldest first whenever the cloud is reachable. An update survives restarts and cloud outages; it leaves
// the outbox only when the cloud accepted it (the file is removed) or refused it for good (moved to
// outbox/rejected/ with a .reason.txt beside it, so it never blocks the queue). A file that cannot be read as an
// update — damaged JSON, a missing field, a block file that is gone — is moved to rejected/ the same way, with the
// reason, instead of stopping the queue or the thread that flushes it.
//
// Files are written atomically (common/base/file_util.h). Thread-safe: Add, Flush and size may be called from any
// thread; one Flush runs at a time (a second caller waits), so an update is never pushed twice concurrently.
// Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/base/status.h"
#include "edge/cloud_client.h"

namespace bt {

struct OutboxBlock {
  std::string name;
  std::string digest;    // of the retrained block (in the edge's block store)
  std::string replaces;  // its digest in the base version
};

struct OutboxEntry {
  std::string window_id;
  std::string plan_id;
  uint64_t base_version = 0;
  double accuracy_before = 0, accuracy_after = 0;
  int64_t iterations = 0;
  int64_t peak_memory_bytes = 0;
  double train_seconds = 0;
  std::vector<OutboxBlock> blocks;

  std::string ToJson() const;
  // Every field checked (types, 64-hex digests, at least one block); errors say which.
  static absl::StatusOr<OutboxEntry> FromJson(const std::string& text);
};

struct Delivered {
  OutboxEntry entry;
  uint64_t version = 0;  // the branch version the cloud made of it
  TransferStats up;
};

class Outbox {
 public:
  // Sends one update (header + the blocks' bytes) and returns the new version.
  using Push = std::function<absl::StatusOr<uint64_t>(const blocktrainer::v1::PushHeader& header,
                                                      const std::vector<CloudClient::OutgoingBlock>& blocks,
                                                      TransferStats* stats)>;
  // `now`: seconds for file names (ordering); default: the system clock.
  Outbox(std::string dir, const BlockStore* store, std::function<int64_t()> now = nullptr);

  absl::Status Add(const OutboxEntry& entry);
  size_t size() const;

  // Delivers every pending update, oldest first, calling `on_delivered` after each acceptance. Returns the first
  // transient failure (the cloud is away: the rest stay for later), or OK when the queue is empty. A refusal with
  // INVALID_ARGUMENT, PERMISSION_DENIED, FAILED_PRECONDITION, ABORTED or DATA_LOSS is permanent.
  absl::Status Flush(const Push& push, const std::function<void(const Delivered&)>& on_delivered);

  const std::string& dir() const { return dir_; }
  std::string rejected_dir() const { return dir_ + "/rejected"; }

 private:
  std::vector<std::string> PendingFiles() const;
  absl::Status Reject(const std::string& file, const std::string& reason);

  const std::string dir_;
  const BlockStore* store_;
  std::function<int64_t()> now_;
  Mutex flush_mu_;  // one Flush at a time
  Mutex mu_;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;  // orders entries added within one second
};

// Permanent refusals of an update (see Outbox::Flush).
bool IsPermanentPushFailure(const absl::Status& status);

}  // namespace bt
