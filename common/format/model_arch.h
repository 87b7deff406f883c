// A model's architecture whatever its family: a ViT (VitConfig) or a LLaMA-style decoder (LlamaConfig). This is
// what torch-free code (the cloud's store, manifests, the planner's costs) asks of a checkpoint: which family,
// its blocks and their tensors, its parameter count. Read from checkpoint metadata (`bt.arch` picks the family).
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <variant>
#include <vector>

#include "common/base/status.h"
#include "common/format/block_layout.h"
#include "common/format/llama_config.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"

namespace bt {

// What a model a user brings cannot always say about itself, from the YAML config (`model.architecture`,
// `model.preprocess`).
struct ArchitectureHints {
  std::optional<VitConfig> vit;        // a ViT checkpoint without BlockTrainer metadata: num_heads comes from here
  std::vector<double> image_mean, image_std;  // preprocessing overrides; empty: not set
};

class ModelArch {
 public:
  ModelArch(VitConfig vit) : config_(std::move(vit)) {}      // NOLINT: implicit, a ViT config is an architecture
  ModelArch(LlamaConfig llama) : config_(std::move(llama)) {}  // NOLINT: likewise

  // "vit" or "llama" (the value of `bt.arch`).
  std::string family() const;
  const VitConfig* vit() const { return std::get_if<VitConfig>(&config_); }
  const LlamaConfig* llama() const { return std::get_if<LlamaConfig>(&config_); }

  std::vector<BlockSpec> Layout() const;
  int64_t ParameterCount() const;
  // Blocks that offer compressed forms (train@s, lora, lora@s): the encoder or decoder layers, 1 .. num_layers.
  int64_t num_layers() const;

  Metadata ToMetadata() const;
  // Fails when `bt.arch` is missing ("not written by BlockTrainer?") or names a family this build lacks.
  static absl::StatusOr<ModelArch> FromMetadata(const Metadata& metadata);

  bool operator==(const ModelArch& other) const { return config_ == other.config_; }
  // Sets the ViT's preprocessing (no-op for other families: their input is token ids).
  void SetPreprocessing(const std::vector<double>& mean, const std::vector<double>& std);

 private:
  std::variant<VitConfig, LlamaConfig> config_;
};

// Where a model's tensors are: `path` itself (.safetensors or .index.json), or for a directory (HF layout) its
// model.safetensors or model.safetensors.index.json; `config_json` is the directory's config.json (empty for files).
struct ModelFiles {
  std::string checkpoint;
  std::string config_json;
};
absl::StatusOr<ModelFiles> FindModelFiles(const std::string& path);

// The architecture of the checkpoint at `files`, whoever wrote it:
//  - a directory: config.json (a LLaMA-style decoder);
//  - BlockTrainer metadata (`bt.arch`);
//  - else a torchvision-style ViT: everything tensor shapes determine (width, channels, patch, image size from the
//    position embedding, layers, MLP width, classes) is read from them, num_heads from `hints.vit` (it shapes no
//    tensor); a checkpoint that is neither fails naming what is missing.
// Preprocessing, highest first: `hints` (YAML), preprocessor_config.json beside the checkpoint, the metadata, then
// BlockTrainer's 0.5 / 0.5. Every tensor is checked against the result by whoever loads it (GroupByBlock).
absl::StatusOr<ModelArch> ResolveArchitecture(const ModelFiles& files, const std::vector<TensorView>& tensors,
                                              const Metadata& metadata, const ArchitectureHints& hints);

}  // namespace bt
