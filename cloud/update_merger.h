// Merging one pushed update into an edge's branch (what PushUpdate does), independent of the transport:
//
//   Begin(edge, header)  the plan exists, is this edge's and not yet completed; the base version is the plan's;
//                        every block was planned for training, appears once, replaces what the base holds, and
//                        announces a size within the limits
//   AddChunk(chunk)      bytes arrive in order, block by block, never past a block's announced size
//   Commit()             every block complete, matching its digest, parsing as exactly the block's tensors (names,
//                        dtypes, shapes) with finite values; then the blocks are stored (atomic files) and the new
//                        version committed in one SQL transaction
//
// Anything invalid is an error and changes nothing. One merger per push; not thread-safe (a gRPC reactor drives it
// from one callback at a time). Torch-free.
#pragma once

#include <string>
#include <vector>

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "cloud/cloud_context.h"
#include "common/base/status.h"

namespace bt {

class UpdateMerger {
 public:
  explicit UpdateMerger(const CloudContext* context) : ctx_(context) {}

  absl::Status Begin(const std::string& edge, const blocktrainer::v1::PushHeader& header);
  absl::Status AddChunk(const blocktrainer::v1::BlockChunk& chunk);
  // Returns the new version.
  absl::StatusOr<uint64_t> Commit();
  bool begun() const { return begun_; }

 private:
  struct Incoming {
    std::string name, digest, replaces;
    uint64_t size = 0;
    std::string bytes;
    const BlockEntry* entry = nullptr;
  };

  const CloudContext* ctx_;
  bool begun_ = false;
  std::string edge_;
  blocktrainer::v1::PushHeader header_;
  PlanRecord plan_;
  VersionRecord base_;
  std::vector<Incoming> blocks_;
  size_t current_ = 0;
};

// Checks one received block: its bytes parse as safetensors holding exactly the block's tensors with the
// manifest's names, dtypes (or F32 for a half-precision block: edges compute in F32) and shapes, every value is
// finite, the bytes are exactly the canonical serialisation of those tensors (SerializeBlock: nothing appended, no
// metadata, no duplicated keys), and — given the block it replaces — no value exceeds kMaxValueGrowth × (that
// tensor's largest |value| in the base + 1).
inline constexpr double kMaxValueGrowth = 100.0;
class SafetensorsFile;
absl::Status ValidateBlock(const BlockEntry& expected, std::string bytes, const SafetensorsFile* base = nullptr);

}  // namespace bt
