// The plan step of a window (DESIGN.md §2, step 3), torch-free so the cloud daemon and the in-process benchmark
// run the same code: fit this edge's law from its probe report (its previous law as the prior, or a generic prior
// for a new edge), then solve the block selection under its memory budget and the window's remaining time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/plan/planner.h"
#include "common/plan/probe_report.h"
#include "common/plan/retraining_law.h"
#include "common/base/status.h"

namespace bt {

// Every constant a window runs by, in one place: the edge daemon, the cloud daemon and bt-bench read them here.
inline constexpr int64_t kMinLabeledSamples = 50;    // fewer labeled samples: a label-free window, no curves
inline constexpr size_t kMinWindowSamples = 20;      // fewer samples in the buffer: no window at all
inline constexpr double kProbeShare = 0.10;          // of the window, for every probe together
inline constexpr double kReserveShare = 0.05;        // of the window, kept for the final evaluation and the upload
inline constexpr double kRaceShare = 0.5;            // of the training time left, at most, for the race
inline constexpr int64_t kMinRaceIterations = 10;    // fewer per entrant fit the race's share: no race
inline constexpr double kRaceCutErrors = 2.0;        // paired standard errors behind the leader: a clear loser,
                                                     // cut when the race's time comes out of training (plan_race.h)
inline constexpr double kStartTrialShare = 0.1;      // of the training time left for the start trial, or what the
                                                     // race left of its share if more (edge/window/window_runner.cc)
inline constexpr int64_t kMaxIterations = 400;       // top of the default iteration grid
// Chunked (gradient-accumulation) plans are solved against this share of the budget: their costs are scaled from
// the whole-batch probes, not measured, and miss what does not shrink with the chunk (allocator granularity,
// per-chunk temporaries). The engine enforces the real budget regardless.
inline constexpr uint64_t kChunkedBudgetTenths = 9;

// The iteration counts a plan may choose, up to `max_iterations` (at least the smallest, 25).
std::vector<int64_t> IterationGrid(int64_t max_iterations = kMaxIterations);

// The budget a plan whose batch runs in chunks of batch / `divisor` is solved against (kChunkedBudgetTenths / 10 of it).
uint64_t BudgetForDivisor(uint64_t memory_budget, int64_t divisor);

// One line for logs, status and benchmarks: the blocks that train and their forms, and the chunk size
// ("embed:train head:train (chunks of 8)"; "all frozen" when nothing trains).
std::string PlanText(const Plan& plan);

struct WindowPlanRequest {
  uint64_t memory_budget = 0;
  double train_seconds = 0;                       // window time left for training iterations
  std::vector<int64_t> iteration_grid = IterationGrid();
  // Gradient-accumulation chunks the planner may choose, as divisors of the probe batch (1 = the whole batch):
  // activations shrink with the chunk, time per iteration grows a little. The update is the same.
  std::vector<int64_t> micro_batch_divisors = {1, 2, 4, 8};
};

struct WindowPlan {
  LawParams law;        // fitted for this window (store it as the edge's next prior)
  double law_rmse = 0;  // on this window's probe points
  bool law_fitted = false;  // false: no curves (label-free, or none fitted the probe share): the prior as is
  Plan plan;
  // What the edge races `plan` against (RaceAlternatives) whenever the window has labels; empty: no race.
  std::vector<Plan> alternatives;
};

// A law for an edge nobody has probed yet: equal block weights, gains overlapping as on the fogged camera.
LawParams GenericPrior(size_t blocks, double acc0);

// The planner's request for `report`'s costs run in chunks of batch / `divisor` samples: saved activations and working
// memory scale with the chunk; time per iteration is the probed time × (1 + 0.15·log2(divisor)) for the less
// efficient small chunks (the deadline is enforced by the engine either way). Chunked plans are solved against 90%
// of the budget (BudgetForDivisor).
PlanRequest RequestForMicroBatch(const ProbeReport& report, int64_t divisor);

// Predicted peak of training every block on the whole batch under `report`'s costs: what a budget given as a share
// of full fine-tuning ("35%") is a share of.
absl::StatusOr<uint64_t> FullFineTuningBytes(const ProbeReport& report);

// The planner's request for `report` with `law` at chunks of batch / `divisor`: costs scaled (RequestForMicroBatch),
// the budget a chunked plan is solved against (BudgetForDivisor), the window's training time and grid.
PlanRequest WindowRequest(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request,
                          int64_t divisor);

// Up to `count` plans over every chunk size in `request`, best predicted first (TopPlans): each option combination
// once, at the chunk size where it is predicted best (the larger chunk on ties). Plan::micro_batch carries it and
// Plan::memory_budget is the edge's budget. The first is the plan PlanFromProbes returns for the same law.
absl::StatusOr<std::vector<Plan>> TopWindowPlans(const ProbeReport& report, const LawParams& law,
                                                 const WindowPlanRequest& request, size_t count);

// The plan `options` (an index into each block's options) at the largest chunk whose budget it fits, at the most
// iterations that fit the window (FitPlan); infeasible (at the smallest chunk) when no chunk size fits.
absl::StatusOr<Plan> FitWindowPlan(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request,
                                   const std::vector<size_t>& options);

// The largest k whose last k blocks, each whole, fit the budget and the window (FitWindowPlan: the largest chunk
// that fits, the most iterations that fit, priced by `law`); infeasible when not even the last block fits. A
// structural plan that needs no fitted law (a race alternative).
absl::StatusOr<Plan> LargestLastK(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request);

// The plans a window races its plan against before it commits (successive halving on the window's held-out slice,
// edge/window/plan_race.h): the law's best plan that trains a single block, the largest last-k that fits, and the
// first block alone (for input-level shifts the first blocks are the ones to tune) — each at the
// largest chunk that fits and the most iterations that fit the window, priced by `law`, without duplicates and
// without `chosen`. The law is fitted from short curves and can be wrong in either direction (bt-bench --oracle
// shows by how much); a race makes a wrong law cost part of the window, not the window. Each carries its role in
// `note` (below): when the race cannot fit every entrant, the largest last-k — the baseline a window must not fall
// below — is the last alternative to stay out.
inline constexpr const char* kRaceBestSingleNote = "race alternative: the law's best single block";
inline constexpr const char* kRaceLastKNote = "race alternative: the largest last-k";
inline constexpr const char* kRaceFirstBlockNote = "race alternative: the first block alone";
absl::StatusOr<std::vector<Plan>> RaceAlternatives(const ProbeReport& report, const LawParams& law,
                                                   const WindowPlanRequest& request, const Plan& chosen);

// `prior`: the edge's previous law, or null for a new edge. Tries every micro-batch divisor and keeps the plan
// with the best predicted accuracy (the largest chunk on ties); Plan::micro_batch carries the choice. When the law
// was fitted from curves and the plan trains something, `alternatives` holds the plans to race it against.
absl::StatusOr<WindowPlan> PlanFromProbes(const ProbeReport& report, const LawParams* prior,
                                          const WindowPlanRequest& request);

}  // namespace bt
