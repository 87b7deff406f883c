// Penultimate-feature statistics and the label-free accuracy estimate. The cloud computes SourceStats of a model on
// clean reference data and ships them with it; the edge compares its recent samples against them: how far the
// feature mean and covariance moved (drift statistics for the law and the report) and, by Average Thresholded
// Confidence (ATC: the confidence threshold at which the share of confident clean samples equals clean accuracy,
// applied to unlabeled drifted samples), an estimate of current accuracy that can trigger a window.
#pragma once

#include <torch/torch.h>

#include "common/model/block_model.h"
#include "common/data/dataset.h"
#include "common/plan/probe_report.h"
#include "common/base/status.h"

namespace bt {

struct FeatureBatch {
  torch::Tensor features;  // (N, D) class token entering the head, f64
  torch::Tensor logits;    // (N, classes)
};

// Runs `model` (no gradients) over `images` in [0, 1] in batches of 500.
absl::StatusOr<FeatureBatch> ComputeFeatures(BlockModel& model, const torch::Tensor& images);

// Source statistics on labeled clean reference data.
absl::StatusOr<SourceStats> ComputeSourceStats(BlockModel& model, const ImageDataset& clean);

// Drift statistics of unlabeled `images` against `source`.
absl::StatusOr<DriftStats> ComputeDriftStats(BlockModel& model, const torch::Tensor& images, const SourceStats& source);

// Source statistics for the model at `model_path`: read from its sidecar (<model>.source.json) when present and
// matching the model file's size and time, otherwise computed on the clean Fashion-MNIST test split in
// `dataset_dir` and written there atomically.
absl::StatusOr<SourceStats> LoadOrComputeSourceStats(const std::string& model_path, BlockModel& model,
                                                     const std::string& dataset_dir);

}  // namespace bt
