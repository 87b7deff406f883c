// The cloud's view of its foundation model: the checkpoint memory-mapped (never loaded whole into RAM) and its
// block manifest. Torch-free. Immutable after Open(), hence thread-safe; later issues grow it into the
// content-addressed block store with per-edge branches.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/format/manifest.h"
#include "common/format/model_arch.h"
#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

class ModelStore {
 public:
  // Opens `checkpoint_path` (.safetensors or .index.json), reads the architecture from its metadata and builds
  // the manifest. Fails naming the file when it is missing, malformed or does not match its architecture.
  // `path` may also be a model directory (HF layout); a checkpoint without BlockTrainer metadata takes what it
  // cannot say from `hints` (ResolveArchitecture).
  static absl::StatusOr<std::unique_ptr<ModelStore>> Open(const std::string& path, const std::string& model_name,
                                                          const ArchitectureHints& hints = {});

  const std::string& path() const { return path_; }
  const ModelArch& architecture() const { return *architecture_; }
  const BlockManifest& manifest() const { return manifest_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  // A model directory's tokenizer.model (serialized SentencePiece), empty when it has none.
  const std::string& tokenizer() const { return tokenizer_; }
  // The canonical safetensors bytes of block `name` (materialised from the mapping; its digest is the manifest's).
  absl::StatusOr<std::string> BlockBytes(const std::string& name) const;
  // The manifest entry of `name`, or null.
  const BlockEntry* FindBlock(const std::string& name) const;

 private:
  ModelStore() = default;
  std::string path_;
  std::optional<ModelArch> architecture_;  // set by Open
  std::unique_ptr<Checkpoint> checkpoint_;
  BlockManifest manifest_;
  std::string tokenizer_;
};

// Largest tokenizer.model a cloud serves (LLaMA's SentencePiece models are ~0.5 MiB).
inline constexpr size_t kMaxTokenizerBytes = 4u << 20;

}  // namespace bt
