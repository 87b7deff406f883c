// A model as the edge composes it for one window: per block either frozen, fully trainable, replaced by a
// trainable proxy (train@s), or frozen — whole or as a proxy — with trainable LoRA adapters (lora, lora@s); every block before the first trainable one runs under no-grad, so it keeps no
// activations. Owns copies of the weights it uses (a proxy replaces its block's weights), so its memory is what
// the plan costs. Not thread-safe.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/plan/block_form.h"
#include "common/model/block_model.h"
#include "common/model/layer_form.h"
#include "common/base/status.h"

namespace bt {

struct ComposeOptions {
  // Store the weights of blocks before the first trainable block as int8 (symmetric, one scale per output
  // channel) and dequantise them block by block during the forward pass. Only those blocks: they run under
  // no-grad, so no backward pass needs their F32 weights afterwards.
  bool int8_prefix = false;
  // kLora blocks: adapter rank and alpha (the adapter's output is scaled by alpha / rank).
  LoraOptions lora;
};

class ComposedModel {
 public:
  // `base` provides the weights (copied) and the architecture (its family builds the layer forms); it may be
  // destroyed afterwards.
  static absl::StatusOr<std::unique_ptr<ComposedModel>> Create(const BlockModel& base,
                                                               const std::vector<BlockChoice>& choices,
                                                               const ComposeOptions& options = {});

  // Logits for prepared inputs (PrepareInput); when `features` is given it receives the head's features
  // (BlockModel::HeadFeatures: the ViT's class token entering the head, (N, D)).
  torch::Tensor Forward(const torch::Tensor& inputs, torch::Tensor* features = nullptr);
  // Raw samples as block 0 takes them (the family's preprocessing).
  torch::Tensor PrepareInput(const torch::Tensor& raw) const { return model_->PrepareInput(raw); }
  // Forward on raw samples.
  torch::Tensor ForwardRaw(const torch::Tensor& raw, torch::Tensor* features = nullptr) {
    return Forward(PrepareInput(raw), features);
  }
  // Block `k` alone on its input, in its composed form (for cost probes).
  torch::Tensor ForwardBlockForProbe(const torch::Tensor& input, size_t k);
  // What block `k` holds in its composed form: its (proxy's) weights and any adapters.
  std::vector<torch::Tensor> BlockTensors(size_t k) const;
  std::vector<torch::Tensor> TrainableParameters() const;
  // Copies of the trainable parameters, and putting such copies back (keep-best checkpoints).
  std::vector<torch::Tensor> SnapshotTrainable() const;
  void RestoreTrainable(const std::vector<torch::Tensor>& snapshot);
  // The trained blocks as full blocks, keyed by block name: trainable blocks as they are, proxies written back
  // into the kept rows/columns of `base`'s weights of that block (`base` is the model this one was created from),
  // LoRA blocks with their adapters merged into the weights (and written back the same way when on a proxy).
  absl::StatusOr<std::map<std::string, TensorMap>> TrainedBlocks(const BlockModel& base) const;
  int64_t first_trainable() const { return first_trainable_; }
  // Parameters training updates in block `k` (0 when frozen).
  int64_t TrainableCount(size_t k) const;

 private:
  ComposedModel() = default;
  struct QuantizedTensor {
    torch::Tensor target;  // the module's parameter, empty between forward passes
    torch::Tensor values;  // int8, same shape
    torch::Tensor scales;  // f32, one per output channel (dim 0)
  };
  std::unique_ptr<BlockModel> model_;           // full blocks (copies)
  std::vector<std::vector<QuantizedTensor>> quantized_;  // per block; empty unless stored as int8
  std::vector<std::unique_ptr<LayerForm>> forms_;  // per block; null unless kProxy or kLora
  std::vector<BlockChoice> choices_;
  int64_t first_trainable_ = -1;
};

}  // namespace bt
