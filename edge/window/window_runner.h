// One retraining window, the same code for `bt-edge serve` and `bt-bench`:
//
//   choose the start (the deployed version or a closer one from the zoo, by accuracy on the labeled samples)
//   → probe (≤ probe_share of the window) → plan (a PlanSource: the cloud, the planner in-process, or a baseline)
//   → fetch the plan's blocks → race the plan against its alternatives (≤ race_share of the training time;
//   edge/window/plan_race.h) → the start trial (the winner retrained from the second-best start; if that is
//   better, planned again from it) → retrain the race's winner for the iterations its measured speed can finish under the memory budget and the deadline (keep-best, never worse)
//   → the retrained blocks applied to a copy of the deployed model.
//
// The runner owns nothing across windows: the caller hands it a copy of the deployed model and gets back the
// outcome, with the new model when the window deployed. What happens next — serving it, storing blocks, an outbox
// and a push (the daemon), or scoring it on a held-out set (the benchmark) — is the caller's. The plan source is
// the only thing that differs between a daemon window and a benchmark window.
//
// Not thread-safe: one window at a time per runner; hooks are called on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/base/cancel.h"
#include "common/train/feature_stats.h"
#include "common/plan/planner.h"
#include "common/plan/probe_report.h"
#include "common/base/status.h"
#include "common/plan/window_plan.h"
#include "edge/window/plan_source.h"
#include "edge/window/retrain_engine.h"
#include "edge/window/start_choice.h"

namespace bt {

struct WindowBudget {
  uint64_t memory_budget = 64ull << 20;
  std::chrono::milliseconds window{120'000};
  double probe_share = kProbeShare;      // of the window, for probes
  double reserve_share = kReserveShare;  // of the window, kept free for the final evaluation and the upload
  double race_share = kRaceShare;        // of the training time left after planning, at most, for the race
  int64_t batch = 64;
  int probe_runs = 0;  // 0: curve runs bounded by probe_share in seconds; N: exactly N runs (CurveProbeOptions)
  int64_t race_iterations = 0;  // 0: the race's first round fits race_share in seconds; N: exactly N (RaceOptions)
  int threads = 0;  // intra-op threads: 0 = chosen by measuring (ChooseIntraOpThreads); N = exactly N (results are
                    // bit-identical only between runs with the same count)
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

// A deep copy of `model` (same architecture, weights copied): what a window trains, so the deployed model keeps
// serving until the window's result replaces it.
absl::StatusOr<std::unique_ptr<BlockModel>> CopyModel(const BlockModel& model);

// How a plan is trained (the training step of a window).
struct PlanTraining {
  uint64_t memory_budget = 0;
  std::chrono::milliseconds time_budget{0};  // training and its evaluations
  int64_t batch = 64;
  uint64_t seed = 1;
  bool label_free = false;
  // Keep the run's state to continue it (RetrainOptions::keep_state): nothing is written into the model then.
  bool keep_state = false;
  std::function<void(int64_t iteration, int64_t of)> on_iteration;
  SteadyClock clock;  // null: std::chrono::steady_clock (tests inject one)
  std::function<void(int64_t iteration, const HeldOutScore& slice, ComposedModel& model)> on_evaluation;
};

struct TrainedPlan {
  RetrainResult result;                      // result.deployed: the blocks below were written into the model
                                             // (with keep_state: they would be; result.state holds the run)
  std::map<std::string, TensorMap> trained;  // the retrained blocks, whole
  uint64_t trained_bytes = 0;                // their F32 bytes
};

// Trains `plan` on `samples` from `model` (RetrainWindow with the plan's forms, iterations and chunk size) and
// changes nothing: the race and the start trial compare such runs, keeping their state (keep_state).
absl::StatusOr<RetrainResult> RunPlan(const BlockModel& model, const Plan& plan, const WindowSamples& samples,
                                      const PlanTraining& options, const CancelToken* cancel,
                                      std::unique_ptr<RetrainState> resume = nullptr);

// Trains `plan` on `samples` starting from `model` under the memory and time budgets (RetrainWindow: keep-best,
// never worse) and, when the result beats the model on the held-out slice, writes the retrained blocks into
// `model`. The training step of RunWindow; bt-bench --oracle trains its candidate plans with it. `resume` continues
// a run of the same plan on the same model kept with keep_state, up to plan.iterations in all. With `up_to` >
// plan.iterations (and no keep_state) the run goes on past plan.iterations while the time budget holds at least
// eval_every iterations more at the speed it measured itself, to `up_to` at most: RunWindow sizes the winner's
// iterations from its short race runs, whose first steps are slower (a text window's 55 iterations, fitted at the
// race's 0.98 s per step, took 0.76 s each and left 20 s of the window idle).
absl::StatusOr<TrainedPlan> TrainPlan(BlockModel& model, const Plan& plan, const WindowSamples& samples,
                                      const PlanTraining& options, const CancelToken* cancel,
                                      std::unique_ptr<RetrainState> resume = nullptr, int64_t up_to = 0);

// Sets LibTorch's intra-op thread count for this window by measurement: a training-sized forward and backward of
// `model` on `images` (a batch) timed with every core and with one, the faster kept. An edge serves inference and
// shares its cores with other processes; when another process holds a core, LibTorch's threads wait on each other
// at every parallel region (measured here: 2.7 s per training iteration with 2 threads and one core busy, against
// 0.04 s idle). Returns the count chosen; logs when it is not every core.
int ChooseIntraOpThreads(BlockModel& model, const torch::Tensor& images);

struct WindowInput {
  std::string id;
  std::unique_ptr<BlockModel> model;  // a copy of the deployed model; the runner trains it
  const WindowSamples* samples = nullptr;
  const SourceStats* source = nullptr;  // the model's source statistics (null: no drift statistics)
  WindowBudget budget;
  uint64_t seed = 1;                  // curves and training
  uint64_t base_version = 0;         // the version `model` is
  // Other versions the window may start from (edge/window/start_choice.h): scored with `model` on the labeled
  // samples before probing; the best becomes the model and base_version, unless the start trial after the race
  // prefers the second best. Empty: start from `model`.
  std::vector<StartCandidate> starts;
  std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();  // the window's clock
};

struct WindowOutcome {
  // "deployed"; "nothing to train: <why>"; "kept the deployed model (<why>)"; "deployed the start vN as it is
  // (<why nothing trained>)" — a start other than the deployed version is deployed even when training does not
  // improve it (then `trained` is empty).
  std::string outcome;
  bool deployed = false;
  bool label_free = false;
  int threads = 1;                    // LibTorch intra-op threads the window ran with (ChooseIntraOpThreads)
  uint64_t start_version = 0;         // the version the window started from (input.base_version or a start)
  std::string start_text;             // the start choice, when there were candidates
  ProbeReport report;
  double probe_seconds = 0;
  PlannedWindow planned;             // planned.plan: what trained (the race's winner when the window raced)
  std::string plan_text = "-";
  std::string race_text;              // the race, when there was one (edge/window/plan_race.h)
  size_t race_winner = 0;             // 0: the law's plan; k: planned.alternatives[k - 1]
  uint64_t bytes_down = 0;
  bool retrained = false;             // the engine ran (the fields below are its result)
  double accuracy_before = 0, accuracy_after = 0;  // on the window's held-out slice (after = before if kept)
  int64_t slice_outputs = 0;  // what that slice scores: images, or tokens of text (0: label-free or nothing trained)
  int64_t iterations = 0, peak_bytes = 0;  // iterations: of the trained model, its race run's included
  int64_t continued_iterations = 0;        // of those, the race run's (or the start trial's) the window went on from
  double train_seconds = 0;                // of the training after the race
  std::string stop_reason;
  // When deployed: the retrained blocks as full blocks, their F32 bytes, and the model with them applied.
  std::map<std::string, TensorMap> trained;
  uint64_t trained_bytes = 0;
  std::unique_ptr<BlockModel> model;
};

// The stages of a window, in order (the edge's status shows them).
enum class WindowStage { kProbing, kPlanning, kPulling, kRacing, kTraining };

struct WindowHooks {
  std::function<void(WindowStage stage, double progress)> on_state;  // progress: share of the window
  std::function<void(const WindowOutcome& so_far)> on_planned;               // plan known, before training
  // Each held-out evaluation of the window's training run (RetrainOptions::on_evaluation; not the race's runs).
  std::function<void(int64_t iteration, const HeldOutScore& slice, ComposedModel& model)> on_evaluation;
};

absl::StatusOr<WindowOutcome> RunWindow(WindowInput input, PlanSource& source, const CancelToken* cancel,
                                        const WindowHooks& hooks = {});

}  // namespace bt
