// One retraining window on the edge: the deployed model composed per the plan (frozen / train / train@s blocks,
// no-grad before the first trainable block), trained on the window's labeled samples under hard limits, keeping
// the best checkpoint on a held-out slice (CheckpointChoice: a later checkpoint replaces the kept one only when it
// scores above it by more than one paired standard error; edge/window/held_out_score.h says why), and never handing
// back a model that scores worse than the deployed one.
//
// Limits are hard: a plan whose predicted peak exceeds the memory budget is refused before it starts; if the
// measured peak (counting allocator) crosses the budget during the run, training stops with ResourceExhausted
// and nothing is deployed; training stops at the deadline, with the time of one evaluation reserved inside it.
// Not thread-safe; one window at a time. The clock is injectable for tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/model/block_model.h"
#include "common/base/cancel.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/base/status.h"
#include "edge/window/curve_probe.h"
#include "edge/window/held_out_score.h"

namespace bt {

struct RetrainOptions {
  uint64_t memory_budget = 64ull << 20;              // bytes of tensors the run may hold at its peak
  uint64_t predicted_peak_bytes = 0;                 // the planner's prediction; refused if over the budget
  std::chrono::milliseconds time_budget{60'000};     // for training and its evaluations
  int64_t max_iterations = 200;                      // the plan's iteration count
  int64_t batch = 64;
  int64_t micro_batch = 0;                           // gradient accumulation chunk (0 = the whole batch)
  double learning_rate = 5e-4;                       // AdamW, constant within a window
  double weight_decay = 0.01;
  int64_t eval_every = 25;                           // iterations between held-out evaluations (keep-best)
  double holdout_fraction = 0.2;                     // labeled samples kept out of training for keep-best
  uint64_t seed = 1;
  // Label-free mode (source-free domain adaptation, after SHOT): the samples' labels are ignored. The loss is an
  // information-maximisation term (confident per-sample predictions, diverse predictions over the batch) plus
  // cross-entropy on pseudo-labels from clustering the features around prediction-weighted class centroids,
  // recomputed every `eval_every` iterations. The head stays frozen (it is the source hypothesis). Keep-best then
  // uses the same objective on the held-out slice, since there is no accuracy to measure.
  bool label_free = false;
  double pseudo_label_weight = 0.3;
  std::function<void(int64_t iteration)> on_iteration;  // progress, called after every step
  // After every held-out evaluation (iteration 0: before training), with the model as evaluated: benchmarks score
  // it on data the window never sees, to judge keep-best's choice (bt-bench --curves).
  std::function<void(int64_t iteration, const HeldOutScore& slice, ComposedModel& model)> on_evaluation;
  // Hand back the run's state (RetrainResult::state) so that a later call can continue it; the result then holds no
  // model (result.deployed still says whether the run's best would deploy). Labeled mode only.
  bool keep_state = false;
};

// What a run kept with `keep_state`: the composed model as its last iteration left it, its optimiser, and
// keep-best's record. RetrainWindow with it as `resume` continues that run — on the same deployed model (the same
// object) and plan, up to options.max_iterations in all — instead of starting again: the race's winner goes on
// training from where its race run stopped (RunWindow). It holds memory (`held_bytes`, counted by the allocator:
// copies of the trainable blocks, the optimiser's moments, the best checkpoint); the continued run counts it against
// its memory budget. Not copyable.
struct RetrainState {
  const BlockModel* deployed = nullptr;
  std::vector<BlockChoice> plan;
  std::unique_ptr<ComposedModel> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<torch::Tensor> best;  // keep-best's checkpoint of the trainable parameters
  CheckpointChoice choice;  // keep-best's record over the run's evaluations (the first: before training)
  HeldOutScore score_before, deployed_score;
  int64_t iterations = 0, best_iteration = 0, evaluated = 0;
  std::chrono::steady_clock::duration eval_cost{};
  double train_seconds = 0;         // of the runs so far
  int64_t held_bytes = 0;
};

struct RetrainResult {
  bool deployed = false;          // the retrained model beat the deployed one on the held-out slice
  double accuracy_before = 0;     // deployed model on the held-out slice (labeled mode)
  double accuracy_after = 0;      // best checkpoint as it would be deployed (proxies written back) on the slice
  double loss_before = 0;         // mean cross-entropy on the slice, of the same two (keep-best breaks accuracy
  double loss_after = 0;          // ties by it: HeldOutScore)
  std::vector<uint8_t> hits_before, hits_after;  // per scored output of the slice, of the same two (labeled mode)
  int64_t outputs_per_sample = 1;  // of those hits (HeldOutScore)
  double objective_before = 0;    // label-free mode: information-maximisation loss of the deployed model
  double objective_after = 0;     // label-free mode: the same for the best checkpoint (lower is better)
  int64_t iterations = 0;
  int64_t best_iteration = 0;
  int64_t peak_bytes = 0;         // measured above the level before the window
  double train_seconds = 0;
  // Of train_seconds, the held-out evaluations' (the baseline on a fresh run, every eval_every, the last) and their
  // count: what is left over the iterations run is the speed of a training step alone.
  double eval_seconds = 0;
  int64_t evaluations = 0;
  std::string stop_reason;        // "iterations", "deadline", "cancelled"
  std::unique_ptr<ComposedModel> model;  // the best checkpoint when deployed, else null (always with keep_state)
  int64_t resumed_from = 0;       // iterations the resumed state had run (0: a fresh run); `iterations` counts all
  std::unique_ptr<RetrainState> state;  // with keep_state
};

// What a run leaves on the held-out slice: the retrained model's score when it deployed, else the deployed model's
// (keep-best kept it). How the race and the start trial compare runs.
inline HeldOutScore ScoreAsDeployed(const RetrainResult& r) {
  return r.deployed ? HeldOutScore{r.accuracy_after, r.loss_after, r.hits_after, r.outputs_per_sample}
                    : HeldOutScore{r.accuracy_before, r.loss_before, r.hits_before, r.outputs_per_sample};
}

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// `samples`: the window's training data; in label-free mode only its images are used. `resume` (consumed: moved
// from) continues a run kept with keep_state; its deployed model and plan must be these, and `samples` the same.
// `train_seconds` and `peak_bytes` are this call's (the peak includes the state's held bytes).
absl::StatusOr<RetrainResult> RetrainWindow(const BlockModel& deployed,
                                            const std::vector<BlockChoice>& plan, const ImageDataset& samples,
                                            const RetrainOptions& options, const CancelToken* cancel = nullptr,
                                            SteadyClock clock = nullptr, std::unique_ptr<RetrainState> resume = nullptr);

}  // namespace bt
