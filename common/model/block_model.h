// A model as an ordered list of named blocks (stem, encoder layers, head); every parameter belongs to exactly one
// block. This is the unit the planner reasons about, the cloud ships and the edge retrains.
//
// BlockModel owns its torch module. It lets callers list blocks, take a block's tensors out and put tensors back
// (with name, shape and dtype checks), freeze or unfreeze a block, run the forward pass block by block (so the
// edge can run everything before its first trainable block under no-grad), and save/load safetensors checkpoints
// whose tensor names are the upstream model's (torchvision for ViT).
//
// Not thread-safe: one thread trains or evaluates a model at a time. Errors are Status values; LibTorch
// exceptions do not escape.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/format/block_layout.h"
#include "common/format/manifest.h"
#include "common/format/model_arch.h"
#include "common/format/model_config.h"
#include "common/base/status.h"

namespace bt {

using TensorMap = std::map<std::string, torch::Tensor>;

class BlockModel {
 public:
  virtual ~BlockModel() = default;
  BlockModel(const BlockModel&) = delete;
  BlockModel& operator=(const BlockModel&) = delete;

  const std::vector<BlockSpec>& layout() const { return layout_; }
  size_t num_blocks() const { return layout_.size(); }
  absl::StatusOr<size_t> BlockIndex(const std::string& block) const;

  // Copies of the block's parameters, keyed by upstream parameter name.
  absl::StatusOr<TensorMap> GetBlock(const std::string& block) const;
  // Overwrites the block's parameters with `tensors`, which must hold exactly the block's parameter names with
  // matching shapes and dtypes. On error nothing is changed.
  absl::Status SetBlock(const std::string& block, const TensorMap& tensors);

  // Freezing sets requires_grad on every parameter of the block.
  absl::Status SetTrainable(const std::string& block, bool trainable);
  void SetAllTrainable(bool trainable);
  bool IsTrainable(size_t block_index) const;
  // Parameters with requires_grad, in layout order.
  std::vector<torch::Tensor> TrainableParameters() const;
  int64_t ParameterCount() const;

  // Blocks [begin, end) applied to `input` (images for block 0, tokens after it, logits out of the last one).
  torch::Tensor ForwardRange(torch::Tensor input, size_t begin, size_t end);
  torch::Tensor Forward(const torch::Tensor& images) { return ForwardRange(images, 0, num_blocks()); }
  void SetTrainingMode(bool training) { module().train(training); }

  // All parameters, keyed by upstream name (aliases, not copies).
  const TensorMap& parameters() const { return params_; }
  // Architecture description stored in checkpoint metadata.
  virtual Metadata ArchitectureMetadata() const = 0;
  virtual ModelArch arch() const = 0;

  // Writes a single safetensors file atomically, with the architecture in its metadata.
  absl::Status Save(const std::string& path) const;
  absl::StatusOr<BlockManifest> Manifest(const std::string& model_name) const;

 protected:
  explicit BlockModel(std::vector<BlockSpec> layout) : layout_(std::move(layout)) {}
  // Indexes module()'s parameters and checks that the layout covers each exactly once. Call from the factory.
  absl::Status IndexParameters();
  virtual torch::nn::Module& module() = 0;
  virtual torch::Tensor ForwardBlock(size_t index, const torch::Tensor& input) = 0;

 private:
  std::vector<BlockSpec> layout_;
  TensorMap params_;
};

// A freshly initialised torchvision-style ViT (torchvision's initialisation), deterministic for `seed`.
absl::StatusOr<std::unique_ptr<BlockModel>> CreateVitModel(const VitConfig& config, uint64_t seed);

// A freshly initialised LLaMA-style decoder (HF's initialisation), deterministic for `seed`.
absl::StatusOr<std::unique_ptr<BlockModel>> CreateLlamaModel(const LlamaConfig& config, uint64_t seed);

// Either family, from its architecture.
absl::StatusOr<std::unique_ptr<BlockModel>> CreateModel(const ModelArch& arch, uint64_t seed);

// Loads a checkpoint (.safetensors or sharded .index.json) written by Save() or by a tool that uses the same
// names and metadata, or a model directory as Hugging Face lays it out: config.json (the architecture) beside
// model.safetensors or a sharded model.safetensors.index.json. Every tensor is validated against the
// architecture; a mismatch names the tensor, the expected and the found shape.
absl::StatusOr<std::unique_ptr<BlockModel>> LoadModel(const std::string& path);

// Copies a checkpoint's tensors into an existing model (same architecture). On error the model is unchanged.
absl::Status LoadWeightsInto(const std::vector<TensorView>& tensors, BlockModel* model);

}  // namespace bt
