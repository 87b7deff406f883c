// `bt-bench --oracle`: the instrument that judges the planner. For each window of a scenario at one budget it runs
// blocktrainer exactly as the scoreboard does (its model and its law carry over from window to window) and then,
// from the same starting model, on the same samples, under the same memory budget and window, retrains a fixed set
// of candidate plans and measures each one's accuracy on the domain's held-out set:
//
//  - the planner's top N by predicted accuracy (TopWindowPlans; the first is its own choice);
//  - every feasible last-k; every block alone in each form the planner may give it;
//  - fixed-compressed, and fixed-compressed-lora (LoRA forms costed by one more cost probe);
//  - M random feasible plans (seeded).
//
// Each candidate runs the iterations its plan gets from the cost model for the window's training time, with the
// deadline not enforced: the oracle judges the choice of blocks and iterations, not how busy the machine was (the
// planner's own deadline-bound run is reported beside it). Per window it reports the chosen plan's rank among the
// candidates, the regret (best candidate − chosen, in points), the Spearman correlation of predicted and measured
// gain over the candidates, the law's error on the chosen plan and a diagnosis (the law misranked the winner, or the
// winner was not in the planner's top N, or the chosen plan is the best); and the means over windows. Writes
// results.json, results.md and oracle.png (predicted vs measured gain, the chosen plans marked).
#pragma once

#include <cstddef>

#include "bench/scoreboard.h"
#include "common/base/cancel.h"
#include "common/base/status.h"

namespace bt {

struct OracleOptions {
  size_t top = 10;     // the planner's best plans by prediction
  size_t random = 10;  // random feasible plans
};

absl::Status RunOracle(const ScoreboardOptions& options, const OracleOptions& oracle, const CancelToken* cancel);

}  // namespace bt
