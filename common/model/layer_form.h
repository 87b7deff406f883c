// A layer block in a form other than whole — a structured proxy (train@s), LoRA adapters on the whole layer (lora)
// or on a proxy (lora@s) — as the model's family builds it. A composed model runs the form in the block's place,
// trains its parameters, and at the end writes it back into the full block: the kept rows and columns take the
// trained (or adapter-merged) values, everything else of the block stays bit-identical.
//
// This is the family boundary for compressed forms: ComposedModel, the cost probes and the retraining engine only
// see this interface; which heads or neurons a form keeps, and how it maps onto the block's tensors, belongs to the
// family (ViT: common/model/vit.cc; LLaMA: common/model/llama.cc). Not thread-safe.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/plan/block_form.h"

namespace bt {

using TensorMap = std::map<std::string, torch::Tensor>;

// A low-rank adapter (LoRA) beside a frozen linear map W: y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ with A (rank × in) and
// B (out × rank). B starts at zero, so an adapted layer starts out computing exactly what it did; merging adds
// scale·B·A to W. Adapters are not registered as module parameters: the block's parameter names and shapes stay
// those of the checkpoint.
struct LoraAdapter {
  torch::Tensor a, b;
  double scale = 1;
  static LoraAdapter Create(int64_t in, int64_t out, int64_t rank, double alpha);  // draws A from the global RNG
  torch::Tensor Apply(const torch::Tensor& x) const { return torch::nn::functional::linear(torch::nn::functional::linear(x, a), b) * scale; }
  torch::Tensor Delta() const { return torch::matmul(b, a) * scale; }  // (out × in), added to W on merge
};

struct LoraOptions {
  int64_t rank = 4;
  double alpha = 8;  // the adapter's output is scaled by alpha / rank
};

class LayerForm {
 public:
  virtual ~LayerForm() = default;
  // The block's input to its output, as the full block's forward would map it (smaller, or adapted).
  virtual torch::Tensor Forward(const torch::Tensor& x) = 0;
  // What training updates: the proxy's weights (train@s), or the adapters' A and B (lora forms).
  virtual std::vector<torch::Tensor> TrainableParameters() const = 0;
  // Everything the form holds: its weights and any adapters (its memory cost).
  virtual std::vector<torch::Tensor> Tensors() const = 0;
  // `full` (the block's tensors, as the form was cut from) with the form written back; adapters merged.
  virtual absl::StatusOr<TensorMap> WriteBack(const TensorMap& full) const = 0;
};

// The part every family's form shares: a module standing in for the layer (the family's layer module at the kept
// widths: forward, parameters, AttachLora, LoraParameters, MergedParameters), trained whole (train@s) or through
// its adapters (lora forms). The family fills `module_` and implements WriteBack.
template <typename Module>
class ModuleLayerForm : public LayerForm {
 public:
  torch::Tensor Forward(const torch::Tensor& x) override { return module_->forward(x); }
  std::vector<torch::Tensor> TrainableParameters() const override {
    return choice_.kind == BlockChoice::Kind::kLora ? module_->LoraParameters() : module_->parameters();
  }
  std::vector<torch::Tensor> Tensors() const override {
    std::vector<torch::Tensor> out = module_->parameters();
    for (const torch::Tensor& t : module_->LoraParameters()) out.push_back(t);
    return out;
  }

 protected:
  explicit ModuleLayerForm(const BlockChoice& choice) : choice_(choice) {}
  // After the module holds its weights: a lora form freezes them and attaches the adapters.
  void Adapt(const LoraOptions& lora) {
    if (choice_.kind != BlockChoice::Kind::kLora) return;
    for (auto& t : module_->parameters()) t.requires_grad_(false);
    module_->AttachLora(lora.rank, lora.alpha);
  }
  BlockChoice choice_;
  Module module_{nullptr};
};

}  // namespace bt
