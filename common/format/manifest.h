// The block manifest: for each block of a model its name, parameters (name, dtype, shape, bytes), total bytes and
// the SHA-256 of its canonical safetensors bytes. The digest names the block on disk and on the wire; two saves
// of the same weights give the same digests because the block bytes are canonical (see SerializeSafetensors).
// Torch-free; plain values, thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/format/block_layout.h"
#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

struct ParamEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
};

struct BlockEntry {
  std::string name;
  std::vector<ParamEntry> params;
  uint64_t bytes = 0;        // tensor data bytes of the block
  int64_t parameters = 0;    // number of scalar parameters
  std::string digest;        // lowercase hex SHA-256 of the canonical block bytes
  uint64_t file_bytes = 0;   // size of the canonical block bytes (header + data): every version of the block has it
  // A block stored in F16 or BF16: the canonical size of the same tensors in F32 — edges compute in F32 and push
  // F32 blocks (an export writes them back in the block's dtype). 0 when every tensor is F32.
  uint64_t f32_file_bytes = 0;
};

struct BlockManifest {
  std::string model;             // model name
  std::vector<BlockEntry> blocks;  // in forward order

  uint64_t TotalBytes() const;
  int64_t TotalParameters() const;
  std::string ToJson() const;
  // A human table: block, params, parameters, bytes, digest prefix.
  std::string ToTable() const;
};

// One version of a model as its blocks' digests, in forward order (block name → digest): what the registry stores
// per version and the edge's serving.json names. One JSON form: [["embed", "<digest>"], ...].
using BlockDigests = std::vector<std::pair<std::string, std::string>>;
std::string BlockDigestsToJson(const BlockDigests& blocks);
// Every entry must be a [name, 64-hex digest] pair; errors say which entry.
absl::StatusOr<BlockDigests> BlockDigestsFromJson(const std::string& json);

// The canonical bytes of one block: its tensors as safetensors with no metadata.
absl::StatusOr<std::string> SerializeBlock(const std::vector<TensorView>& tensors);

// Describes one block, hashing its canonical bytes.
absl::StatusOr<BlockEntry> DescribeBlock(const std::string& name, const std::vector<TensorView>& tensors);

// Builds the manifest of a checkpoint's tensors under `layout`.
absl::StatusOr<BlockManifest> BuildManifest(const std::string& model, const std::vector<BlockSpec>& layout,
                                            const std::vector<TensorView>& tensors);

}  // namespace bt
