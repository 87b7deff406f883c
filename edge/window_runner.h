// Pieces of one window that the edge daemon and the in-process benchmark share: splitting the window's samples,
// turning a plan into block choices and retraining options, and applying the retrained blocks to the deployed
// model (what the edge serves with next, and what it pushes to the cloud).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/block_model.h"
#include "common/composed_model.h"
#include "common/dataset.h"
#include "common/planner.h"
#include "common/status.h"
#include "edge/retrain_engine.h"

namespace bt {

struct WindowBudget {
  uint64_t memory_budget = 64ull << 20;
  std::chrono::milliseconds window{120'000};
  double probe_share = 0.10;    // of the window, for probes
  double reserve_share = 0.05;  // of the window, kept free for the final evaluation and the upload
  int64_t batch = 64;
};

struct WindowSamples {
  ImageDataset labeled;   // samples that came with a label
  ImageDataset all;       // every sample (labels of unlabeled ones are meaningless; label-free mode ignores them)
};

// `labeled_mask`: bool (N), which samples of `stream` carry their label.
WindowSamples SplitWindowSamples(const ImageDataset& stream, const torch::Tensor& labeled_mask);

// The plan's per-block options as choices for ComposedModel.
absl::StatusOr<std::vector<BlockChoice>> ChoicesFromPlan(const Plan& plan);

// Seconds left for training after `spent` (probing, pulling) and the reserve.
double TrainSecondsLeft(const WindowBudget& budget, double spent_seconds);

// Replaces the deployed model's retrained blocks with `trained` (all or nothing). Returns the bytes of F32 tensor
// data written, which is what an upload of those blocks carries (plus headers).
absl::StatusOr<uint64_t> ApplyTrainedBlocks(BlockModel& deployed, const std::map<std::string, TensorMap>& trained);

}  // namespace bt
