// The plan step of a window (DESIGN.md §2, step 3), torch-free so the cloud daemon and the in-process benchmark
// run the same code: fit this edge's law from its probe report (its previous law as the prior, or a generic prior
// for a new edge), then solve the block selection under its memory budget and the window's remaining time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/planner.h"
#include "common/probe_report.h"
#include "common/retraining_law.h"
#include "common/status.h"

namespace bt {

struct WindowPlanRequest {
  uint64_t memory_budget = 0;
  double train_seconds = 0;                       // window time left for training iterations
  std::vector<int64_t> iteration_grid = {25, 50, 100, 150, 200, 300, 400};
  // Gradient-accumulation chunks the planner may choose, as divisors of the probe batch (1 = the whole batch):
  // activations shrink with the chunk, time per iteration grows a little. The update is the same.
  std::vector<int64_t> micro_batch_divisors = {1, 2, 4, 8};
};

struct WindowPlan {
  LawParams law;        // fitted for this window (store it as the edge's next prior)
  double law_rmse = 0;  // on this window's probe points
  bool law_fitted = false;  // false: no curves (label-free window), the prior was used as is
  Plan plan;
};

// A law for an edge nobody has probed yet: equal block weights, gains overlapping as on the fogged camera.
LawParams GenericPrior(size_t blocks, double acc0);

// The planner's request for `report`'s costs run in chunks of batch / `divisor` samples: saved activations and working
// memory scale with the chunk; time per iteration is the probed time × (1 + 0.15·log2(divisor)) for the less
// efficient small chunks (the deadline is enforced by the engine either way). Chunked plans are solved against 90%
// of the budget: scaled costs miss what does not shrink with the chunk.
PlanRequest RequestForMicroBatch(const ProbeReport& report, int64_t divisor);

// `prior`: the edge's previous law, or null for a new edge. Tries every micro-batch divisor and keeps the plan
// with the best predicted accuracy (the largest chunk on ties); Plan::micro_batch carries the choice.
absl::StatusOr<WindowPlan> PlanFromProbes(const ProbeReport& report, const LawParams* prior,
                                          const WindowPlanRequest& request);

}  // namespace bt
