// What the edge serves: the model, the branch version it corresponds to, and the blocks (name → digest, forward
// order) it is built from, persisted in <data_dir>/serving.json so that a restart serves the last deployed model.
//
// A window trains a copy (CopyForWindow) while this keeps serving; Deploy replaces the model and its blocks in one
// step; the version moves when the cloud accepts the update (SetVersion) or the edge adopts its branch head
// (Adopt). serving.json is written atomically after every change, before the change is visible.
//
// Thread-safe: every method may be called from any thread (the window thread, the cloud link, the admin service).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/format/manifest.h"
#include "common/model/block_model.h"
#include "common/base/status.h"
#include "edge/cloud_client.h"
#include "edge/outbox.h"

namespace bt {

class ServingState {
 public:
  ServingState(std::string path, const BlockStore* store) : path_(std::move(path)), store_(store) {}

  // Reads serving.json if present (a first start has none) and builds the model from the block store.
  absl::Status Load();

  bool has_model() const;
  uint64_t version() const;
  BlockDigests blocks() const;

  // The architecture the cloud announced (checkpoint metadata); used to build models from blocks.
  void SetArchitecture(std::map<std::string, std::string> architecture);
  std::map<std::string, std::string> architecture() const;

  // Serves `blocks` (all in the store, each verified against its digest) as `version`.
  absl::Status Adopt(const BlockDigests& blocks, uint64_t version);
  // Serves a window's result; the version stays until the cloud accepts the update.
  absl::Status Deploy(std::unique_ptr<BlockModel> model, const BlockDigests& blocks);
  absl::Status SetVersion(uint64_t version);

  // A copy of the served model with the version and blocks it corresponds to, taken together.
  struct Snapshot {
    std::unique_ptr<BlockModel> model;
    uint64_t version = 0;
    BlockDigests blocks;
  };
  absl::StatusOr<Snapshot> CopyForWindow() const;

  // A model built from `blocks` (all in the store, each verified against its digest) with the announced
  // architecture: another version of the branch, e.g. a window's start from the version zoo.
  absl::StatusOr<std::unique_ptr<BlockModel>> BuildModel(const BlockDigests& blocks) const;

 private:
  absl::StatusOr<std::unique_ptr<BlockModel>> Build(const BlockDigests& blocks,
                                                    const std::map<std::string, std::string>& architecture) const;
  absl::Status SaveLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const BlockStore* store_;
  mutable Mutex mu_;
  std::map<std::string, std::string> architecture_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<BlockModel> model_ ABSL_GUARDED_BY(mu_);
  BlockDigests blocks_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

// A window's retrained blocks, serialised into the block store: `blocks` (the base's digests) gets the new ones
// and `entry` the update's block list.
absl::Status StoreTrainedBlocks(const std::map<std::string, TensorMap>& trained, const BlockStore& store,
                                BlockDigests* blocks, OutboxEntry* entry);

}  // namespace bt
