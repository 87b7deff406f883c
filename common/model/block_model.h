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
#include "common/model/layer_form.h"
#include "common/plan/block_form.h"

namespace bt {

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

  // What the family knows and the pipeline does not (the window pipeline, planner and daemons never ask which
  // family runs):
  // Raw samples (images in [0, 1]; token ids) into what block 0 takes (normalised images; ids as they are).
  virtual torch::Tensor PrepareInput(const torch::Tensor& raw) const = 0;
  // `batch` raw samples of noise in this model's input shape, for cost probes when no sample has arrived.
  virtual torch::Tensor RandomInput(int64_t batch) const = 0;
  // Output elements per sample for raw input `raw` (classes; positions × vocabulary).
  virtual int64_t OutputsPerSample(const torch::Tensor& raw) const = 0;
  // What label-free feature clustering reads from the head's input (the ViT's class token; else all of it).
  virtual torch::Tensor HeadFeatures(const torch::Tensor& head_input) const { return head_input; }
  // Whether block `index` offers the compressed forms (train@s, lora, lora@s): the encoder or decoder layers.
  bool HasLayerForms(size_t index) const {
    return index >= 1 && index <= static_cast<size_t>(arch().num_layers());
  }
  // Block `index` in `choice`'s form (kProxy or kLora), cut from `weights` (the block's tensors, as GetBlock gives
  // them). Fails for a block without layer forms or for another kind of choice.
  absl::StatusOr<std::unique_ptr<LayerForm>> MakeLayerForm(size_t index, const TensorMap& weights,
                                                           const BlockChoice& choice, const LoraOptions& lora) const;

  // Writes a single safetensors file atomically, with the architecture in its metadata.
  absl::Status Save(const std::string& path) const;
  absl::StatusOr<BlockManifest> Manifest(const std::string& model_name) const;

 protected:
  explicit BlockModel(std::vector<BlockSpec> layout) : layout_(std::move(layout)) {}
  // Indexes module()'s parameters and checks that the layout covers each exactly once. Call from the factory.
  absl::Status IndexParameters();
  virtual torch::nn::Module& module() = 0;
  // The three kinds of block: block 0, layers 0 .. num_layers − 1 (blocks 1 .. num_layers), the head.
  virtual torch::Tensor ForwardEmbed(const torch::Tensor& input) = 0;
  virtual torch::Tensor ForwardLayer(size_t layer, const torch::Tensor& input) = 0;
  virtual torch::Tensor ForwardHead(const torch::Tensor& input) = 0;
  // Layer `layer` (0-based) in a compressed form; MakeLayerForm has checked the block and the kind of choice.
  virtual absl::StatusOr<std::unique_ptr<LayerForm>> CreateLayerForm(int64_t layer, const TensorMap& weights,
                                                                     const BlockChoice& choice,
                                                                     const LoraOptions& lora) const = 0;
  // Builds a family's model: seeds the global RNG (its initialisation), indexes the parameters.
  template <typename Model, typename Config>
  static absl::StatusOr<std::unique_ptr<BlockModel>> Build(const Config& config, uint64_t seed, const char* what) {
    RETURN_IF_ERROR(config.Validate());
    try {
      torch::manual_seed(seed);
      std::unique_ptr<BlockModel> model(new Model(config));
      RETURN_IF_ERROR(model->IndexParameters());
      return model;
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("cannot build ", what, ": ", e.what_without_backtrace()));
    }
  }

 private:
  torch::Tensor ForwardBlock(size_t index, const torch::Tensor& input);

  std::vector<BlockSpec> layout_;
  TensorMap params_;
};

// The training objective of every family: cross-entropy with the positions flattened — logits (N, C) against
// labels (N) for a classifier, (N, T, V) against the next tokens (N, T) for a decoder.
torch::Tensor OutputLoss(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing = 0);
// Predictions (argmax) equal to their label, counted the same way; out of labels.numel().
int64_t CountCorrect(const torch::Tensor& logits, const torch::Tensor& labels);

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
// A checkpoint without BlockTrainer metadata takes what it cannot say from `hints` (see ResolveArchitecture); F16
// and BF16 tensors are widened to F32 (CPU compute).
absl::StatusOr<std::unique_ptr<BlockModel>> LoadModel(const std::string& path, const ArchitectureHints& hints = {});

// Copies a checkpoint's tensors into an existing model (same architecture). On error the model is unchanged.
absl::Status LoadWeightsInto(const std::vector<TensorView>& tensors, BlockModel* model);

}  // namespace bt
