// A model's architecture whatever its family: a ViT (VitConfig) or a LLaMA-style decoder (LlamaConfig). This is
// what torch-free code (the cloud's store, manifests, the planner's costs) asks of a checkpoint: which family,
// its blocks and their tensors, its parameter count. Read from checkpoint metadata (`bt.arch` picks the family).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/base/status.h"
#include "common/format/block_layout.h"
#include "common/format/llama_config.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"

namespace bt {

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

 private:
  std::variant<VitConfig, LlamaConfig> config_;
};

}  // namespace bt
