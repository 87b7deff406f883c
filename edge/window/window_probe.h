// The probe step of a window (DESIGN.md §2, step 2), within a bounded share of the window (default 10%): drift
// statistics and the label-free accuracy estimate on the recent samples, per-block costs on this hardware, then
// retraining curves on the labeled samples with whatever probe time is left. Without enough labeled samples it
// reports no curves (the cloud then plans from the edge's previous law) and acc0 is the label-free estimate.
#pragma once

#include <chrono>
#include <functional>

#include "common/model/block_model.h"
#include "common/model/block_probe.h"
#include "common/data/dataset.h"
#include "common/plan/probe_report.h"
#include "common/base/status.h"
#include "edge/window/curve_probe.h"
#include "common/train/feature_stats.h"

namespace bt {

struct WindowProbeOptions {
  std::chrono::milliseconds window{180'000};  // the whole retraining window
  double probe_share = 0.10;                   // of the window, for every probe together
  int64_t batch = 64;
  int64_t min_labeled = 50;                    // fewer labeled samples: no curves, label-free estimate as acc0
  CurveProbeOptions curves;                    // time_budget is set from what is left of the probe share
  CostProbeOptions costs;
};

// `labeled`: the window's labeled samples; `images`: all its recent samples in [0, 1] (labeled or not).
// `source`: the deployed model's source statistics (null: no drift statistics).
absl::StatusOr<ProbeReport> ProbeWindow(BlockModel& deployed, const ImageDataset& labeled,
                                        const torch::Tensor& images, const SourceStats* source,
                                        const WindowProbeOptions& options,
                                        std::function<std::chrono::steady_clock::time_point()> clock = nullptr);

// Bytes every plan pays on this model for a batch like `raw_batch`: the input batch and the logits with their
// gradient (the largest block working memory is added from the costs).
uint64_t FixedPlanBytes(const BlockModel& model, const torch::Tensor& raw_batch);
// The part of it that is the logits and their gradient (ProbeReport::output_bytes).
uint64_t OutputBytes(const BlockModel& model, const torch::Tensor& raw_batch);

}  // namespace bt
