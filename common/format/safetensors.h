// The safetensors format, read and written by our own code: an 8-byte little-endian header length N, N bytes of
// JSON header ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}), then the
// raw little-endian tensor data; offsets are relative to the start of the data section. Large checkpoints are
// sharded into several such files plus an index JSON ({"metadata": {...}, "weight_map": {name: file}}).
//
// Torch-free: tensors are byte views with a dtype and shape. Readers memory-map files and never copy tensor data;
// the views live as long as the owning object. Every parse validates the header completely (lengths, JSON, dtypes,
// shapes against sizes, offsets in range and not overlapping) and fails with a Status naming the file and tensor.
// Parsed objects are immutable and therefore thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/file_util.h"
#include "common/base/status.h"

namespace bt {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

absl::StatusOr<DType> ParseDType(std::string_view name);
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

// A tensor as bytes. Used both for reading (data points into a mapped file) and for writing (data points into
// the caller's memory). `data` may be unaligned.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t size_bytes = 0;

  int64_t NumElements() const;
};

using Metadata = std::map<std::string, std::string>;

// Serialises tensors into canonical safetensors bytes: tensors sorted by name and packed without gaps, header
// JSON with sorted keys and no whitespace, padded with spaces to a multiple of 8 bytes. The same tensors and
// metadata always give the same bytes (which is what makes block digests stable). Fails on duplicate or empty
// names and on a data size that does not match dtype × shape.
absl::StatusOr<std::string> SerializeSafetensors(const std::vector<TensorView>& tensors,
                                                 const Metadata& metadata = {});

// The size SerializeSafetensors' bytes would have (8 + padded header + data), reading no tensor data: `data` may be
// null. Same failures.
absl::StatusOr<uint64_t> SerializedSafetensorsSize(const std::vector<TensorView>& tensors,
                                                   const Metadata& metadata = {});

// Serialises and writes atomically (see WriteFileAtomically).
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                              const Metadata& metadata = {});

// One parsed safetensors buffer (a mapped file or owned bytes).
class SafetensorsFile {
 public:
  // Memory-maps and parses `path`.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses bytes held in memory (e.g. received over the wire); `source` names them in errors.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(std::string bytes, std::string source);

  // Tensors sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(std::string_view name) const;
  const Metadata& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }

 private:
  SafetensorsFile() = default;
  absl::Status Parse(const uint8_t* data, size_t size);

  std::string source_;
  std::unique_ptr<MappedFile> mapped_;
  std::string owned_;
  std::vector<TensorView> tensors_;
  Metadata metadata_;
};

// A checkpoint: either a single .safetensors file or a sharded one opened through its index JSON
// (`*.safetensors.index.json`). Shard file names in the index must be plain names in the index's directory.
class Checkpoint {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path);

  // All tensors of all shards, sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(std::string_view name) const;
  // The first shard's __metadata__ (writers put the same metadata in every shard).
  const Metadata& metadata() const { return metadata_; }
  size_t shard_count() const { return shards_.size(); }

 private:
  Checkpoint() = default;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<TensorView> tensors_;
  Metadata metadata_;
};

// Writes `tensors` as shards of at most `max_shard_bytes` of tensor data each (a larger tensor gets a shard of
// its own), named `<stem>-00001-of-0000N.safetensors`, plus `<stem>.safetensors.index.json` in `dir`. Every file
// is written atomically; the index is written last, so a crash leaves either no index or a complete checkpoint.
// Returns the index path.
absl::StatusOr<std::string> WriteShardedCheckpoint(const std::string& dir, const std::string& stem,
                                                   const std::vector<TensorView>& tensors,
                                                   const Metadata& metadata, uint64_t max_shard_bytes);

}  // namespace bt
