// Cost probes: measures, on this machine, what each block costs in each form — the numbers the planner's cost
// model needs instead of constants. For every block: its frozen weights and no-grad forward time (before the first
// trainable block), and for each option in the backward path its memory (weights, gradients + AdamW state when
// trainable, saved activations measured with the MemoryMeter) and forward+backward time. Blocks of one kind on
// inputs of one shape (the layers of a stack: the same parameter names up to their index, the same shapes, neither
// first nor last) cost the same in each form, so only the first of them is measured and the others take its numbers.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/plan/planner.h"
#include "common/base/status.h"

namespace bt {

struct CostProbeOptions {
  std::vector<double> sparsities = {0.25, 0.5, 0.75};  // proxies probed for encoder layers
  std::vector<double> lora_sparsities;                  // LoRA forms probed for encoder layers (0: the whole layer)
  int repeats = 3;                                      // timing repetitions (median)
  // Bytes per trainable weight byte besides the weights: the gradient, AdamW's two moments and keep-best's copy of
  // the best weights so far (the engine holds it for the whole run).
  double training_copies = 4;
  bool share_equal_blocks = true;                       // false: measure every block (tests compare the two)
};

// Probes every block of `model` on a batch of prepared `inputs` (BlockModel::PrepareInput). Installs the
// MemoryMeter. The returned options carry BlockChoice names ("frozen", "train", "train@0.50", "lora@0.50").
absl::StatusOr<std::vector<BlockProfile>> ProbeBlockCosts(const BlockModel& model, const torch::Tensor& inputs,
                                                          const CostProbeOptions& options);

}  // namespace bt
