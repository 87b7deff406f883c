// The block planner: for one edge and one window, picks per block an option (frozen, train, or a compressed
// trainable proxy train@s), the first trainable block and the iteration count, maximising the law's predicted
// accuracy under a memory bound and a time bound.
//
// Cost model (all per edge, from probes; see DESIGN.md §3):
//  - Blocks before the first trainable block f run under no-grad: they cost their frozen weights and their
//    no-grad forward time, and keep no activations.
//  - Blocks at or after f are "in the backward path": they cost weights, saved activations for the batch, and
//    forward+backward time, plus gradients and optimiser state when trainable.
//  - A window of T seconds fits q iterations when q × (time per iteration) ≤ T.
//
// The solver is exact for memory discretised upwards into buckets (so a returned plan never exceeds the budget):
// one backward pass over the blocks keeps, for every memory bucket, the Pareto frontier of (time per iteration,
// gain) over the suffix, which answers every choice of f and every q on the grid at once. Checked against brute
// force in tests. Torch-free; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/plan/block_form.h"
#include "common/plan/retraining_law.h"
#include "common/base/status.h"

namespace bt {

struct BlockOption {
  BlockChoice form;              // frozen, train, train@s, lora, lora@s (common/plan/block_form.h)
  bool trainable = false;
  double share = 0;              // trainable parameters / block parameters (P_k(B_k) / P_k)
  uint64_t memory_bytes = 0;     // in the backward path: weights + saved activations (+ grads + optimiser state)
  double seconds = 0;            // in the backward path: forward + backward time per iteration
  uint64_t transient_bytes = 0;  // working memory while it runs beyond what it keeps (freed right after)
  uint64_t activation_bytes = 0; // the part of memory_bytes saved for backward (0 before the first trainable block)
  std::string name() const { return form.Name(); }
};


struct BlockProfile {
  std::string name;
  int64_t parameters = 0;
  std::vector<BlockOption> options;  // options[0] is "frozen"
  uint64_t prefix_bytes = 0;         // before the first trainable block: frozen weights only
  double prefix_seconds = 0;         // before the first trainable block: no-grad forward time
  uint64_t prefix_transient_bytes = 0;  // working memory of its no-grad forward (input, output, temporaries)
};

// The largest working memory any block needs while it runs: blocks run one at a time, so a plan's peak is its
// kept memory plus at most this. Planners add it to PlanRequest::fixed_bytes to stay conservative.
uint64_t MaxTransientBytes(const std::vector<BlockProfile>& blocks);

// Peak memory of a plan under the cost model: everything kept (weights, optimiser state, saved activations of the
// backward path) plus the working memory of whichever block peaks highest when it runs, given the activations alive
// at that moment (those of the path up to and including it). `options[k]` indexes blocks[k].options; blocks before
// `first` run in prefix mode.
uint64_t PredictPeakBytes(const std::vector<BlockProfile>& blocks, const std::vector<size_t>& options, size_t first);

struct PlanRequest {
  std::vector<BlockProfile> blocks;      // forward order
  LawParams law;                         // one weight per block
  uint64_t memory_budget = 0;            // bytes
  uint64_t fixed_bytes = 0;              // batch input, logits, allocator slack: paid by every plan
  double window_seconds = 0;             // time for training iterations
  std::vector<int64_t> iteration_grid;   // candidate q values (> 0)
  uint64_t bytes_per_bucket = 0;         // memory discretisation; 0 = budget / 1024 (rounded up)
};

struct BlockDecision {
  std::string block;
  BlockChoice form;
  size_t option_index = 0;
  bool in_backward_path = false;
  double gain = 0;        // predicted accuracy gain contributed at the chosen q
  uint64_t memory_bytes = 0;
  double seconds = 0;     // per iteration
  std::string option() const { return form.Name(); }
};

struct Plan {
  bool feasible = false;          // false: not even the all-frozen model fits the memory budget
  std::vector<BlockDecision> blocks;
  int64_t first_trainable = -1;   // -1: nothing is trained (all frozen)
  int64_t iterations = 0;
  // The iteration grid's top: a run that reaches `iterations` with window time left goes on towards it (the
  // plan's iterations were fitted to the window at predicted speeds, and a faster run would leave its end idle);
  // 0: no further than `iterations`.
  int64_t max_iterations = 0;
  double predicted_accuracy = 0;
  uint64_t memory_bytes = 0;      // predicted peak
  uint64_t fixed_bytes = 0;       // part of it every plan pays (input batch, logits, working memory)
  double seconds_per_iteration = 0;
  double train_seconds = 0;       // iterations × seconds_per_iteration
  uint64_t memory_budget = 0;
  double window_seconds = 0;
  uint64_t min_memory_all_frozen = 0;   // smallest budget any plan needs
  uint64_t min_memory_to_train = 0;     // smallest budget for a plan that trains something
  int64_t micro_batch = 0;              // gradient-accumulation chunk the costs assume (0 = the whole batch)
  std::string note;                     // why the plan is what it is, when it is a corner case

  std::string ToTable() const;
  std::string ToJson() const;
};

// Validates the request (names the offending block/option) and solves it.
absl::StatusOr<Plan> SolvePlan(const PlanRequest& request);

// The plan given by `options` (an index into each block's options) run for `iterations`, with its predicted
// accuracy, memory and time under the same cost model; `feasible` says whether it fits the memory budget. For
// baselines that choose their blocks another way.
absl::StatusOr<Plan> EvaluatePlan(const PlanRequest& request, const std::vector<size_t>& options, int64_t iterations);

// The plan given by `options` at the most iterations its predicted time fits into the window (FillWindow; the
// smallest grid value if none fits); `feasible` says whether it fits the memory budget.
absl::StatusOr<Plan> FitPlan(const PlanRequest& request, const std::vector<size_t>& options);

// `plan` (its forms as chosen) at the most iterations its predicted time fits into the window — a multiple of 5, at
// least plan.iterations, at most the grid's top — re-evaluated there. The grid discretises q for the solver; a
// window whose time falls between two grid values would otherwise stop at the lower one with the rest of its time
// unused (a 2-minute text window: 50 iterations in 40 of its 95 training seconds, where 100 were predicted at 104).
// Plans that train nothing, or are infeasible, come back as they are.
absl::StatusOr<Plan> FillWindow(const PlanRequest& request, const Plan& plan);

// Up to `count` distinct feasible plans that train something, best predicted accuracy first, each option
// combination at its best iteration count; ties go to less memory, then less time, then a fixed order. Exhaustive
// when the model has at most `exhaustive_limit` option combinations; beyond that, the solver's plan and every plan
// that differs from it in one or two blocks (so the first is always the solver's optimum or as good).
inline constexpr uint64_t kTopPlansExhaustiveLimit = 4'000'000;
absl::StatusOr<std::vector<Plan>> TopPlans(const PlanRequest& request, size_t count,
                                           uint64_t exhaustive_limit = kTopPlansExhaustiveLimit);

// Exhaustive search over every option combination, for tests (exponential: keep instances tiny). Uses the same
// discretised memory as SolvePlan.
absl::StatusOr<Plan> BruteForcePlan(const PlanRequest& request);

// Shares of every block under `plan` (for the law).
std::vector<double> PlanShares(const PlanRequest& request, const Plan& plan);

}  // namespace bt
