// Retraining-curve probes: what the law needs about this edge's current data, measured by short real retraining
// runs on its labeled samples — the deployed model's accuracy, the accuracy after a few checkpoints with one block
// (or one proxy) trainable at a time, with everything trainable, and with a couple of random multi-block plans
// (without those, how block gains combine is not identifiable: see the law calibration benchmark). Runs are ordered
// by value and stop when the probe time budget (≤ 10% of the window by default policy) runs out; the law's prior
// covers what was not probed. Not thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/plan/planner.h"
#include "common/plan/retraining_law.h"
#include "common/base/status.h"
#include "edge/window/held_out_score.h"

namespace bt {

struct CurveProbeOptions {
  std::vector<int64_t> checkpoints = {10, 20, 40};  // iterations at which accuracy is measured
  int64_t batch = 64;
  double learning_rate = 5e-4;
  double weight_decay = 0.01;
  std::vector<double> proxy_sparsities = {0.5};     // proxies probed per encoder layer
  int multi_block_plans = 2;                        // random plans with several trainable blocks
  std::chrono::milliseconds time_budget{60'000};
  // 0: as many runs as the time budget allows (what an edge does). N > 0: exactly the first N runs whatever they
  // take (pinned probe work, so that a benchmark gives the same plans on a loaded or a faster machine).
  int pinned_runs = 0;
  double holdout_fraction = 0.2;                    // labeled samples used to measure accuracy
  uint64_t seed = 1;
  // The blocks' costs measured at `batch` (ProbeBlockCosts). With them, a run is started only when its predicted
  // time (PredictCurveRunSeconds, corrected by how the finished runs compared with their predictions) fits what is
  // left of the budget — a run that would overrun is skipped and cheaper ones later in the order still run. Without
  // them, a run starts while the longest one so far fits (and the first always runs).
  std::vector<BlockProfile> costs;
};

struct CurveProbeResult {
  double acc0 = 0;                  // deployed model on the held-out slice
  std::vector<ProbePoint> points;   // (shares, iterations, accuracy)
  int runs = 0;
  bool budget_exhausted = false;    // some planned runs were skipped
  double seconds = 0;
};

// Accuracy of `model` on `data` (no gradients), `batch` samples at a time (its working memory counts against the
// window's memory budget, so windows pass their training batch).
double HeldOutAccuracy(ComposedModel& model, const ImageDataset& data, int64_t batch = 500);

// A model's score on a held-out slice (edge/window/held_out_score.h), with its per-output hits.
HeldOutScore HeldOutScores(ComposedModel& model, const ImageDataset& data, int64_t batch = 500);

// One optimiser step on a random batch of `train` (cross-entropy). Shared by probes and retraining windows. With
// `micro_batch` (0 = the whole batch) the batch runs in chunks whose gradients accumulate: the same update (the
// ViT has no batch statistics), with the activations of one chunk alive at a time.
void TrainStep(ComposedModel& model, torch::optim::Optimizer& optimizer, const ImageDataset& train, int64_t batch,
               int64_t micro_batch = 0);

// Retrains `choices` from `base` with AdamW at a constant rate and measures accuracy on `eval` at each checkpoint.
// Returns the per-block trainable shares and (iterations, accuracy) pairs.
absl::StatusOr<std::pair<std::vector<double>, std::vector<std::pair<int64_t, double>>>> RetrainCurve(
    const BlockModel& base, const std::vector<BlockChoice>& choices,
    const ImageDataset& train, const ImageDataset& eval, const std::vector<int64_t>& checkpoints, int64_t batch,
    double learning_rate, double weight_decay, uint64_t seed);

// Predicted seconds of one curve run of `choices` under `costs` (at the probe batch): the iterations to the last
// checkpoint at the plan's time per iteration (no-grad forward before the first trainable block, forward and
// backward after it), and one no-grad forward over `eval_samples` per checkpoint. 0 when `costs` do not match.
double PredictCurveRunSeconds(const std::vector<BlockProfile>& costs, const std::vector<BlockChoice>& choices,
                              const std::vector<int64_t>& checkpoints, int64_t eval_samples, int64_t batch);

absl::StatusOr<CurveProbeResult> ProbeRetrainingCurves(
    const BlockModel& deployed, const ImageDataset& labeled, const CurveProbeOptions& options,
    std::function<std::chrono::steady_clock::time_point()> clock = nullptr);

}  // namespace bt
