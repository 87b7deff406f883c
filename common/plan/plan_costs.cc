// The planner's closed forms that need none of the solver's state: a plan's peak memory under the cost model, the
// largest block working memory, a plan's per-block trainable shares, and a plan as a table and as JSON.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/base/units.h"
#include "common/plan/planner.h"
#include "nlohmann/json.hpp"

namespace bt {

uint64_t PredictPeakBytes(const std::vector<BlockProfile>& blocks, const std::vector<size_t>& options, size_t first) {
  uint64_t kept = 0, worst_working = 0, activations_so_far = 0;
  for (size_t k = 0; k < blocks.size(); ++k) {
    if (k < first) {
      kept += blocks[k].prefix_bytes;
      worst_working = std::max(worst_working, blocks[k].prefix_transient_bytes);
      continue;
    }
    const BlockOption& o = blocks[k].options[options[k]];
    kept += o.memory_bytes - o.activation_bytes;
    activations_so_far += o.activation_bytes;
    worst_working = std::max(worst_working, activations_so_far + o.transient_bytes);
  }
  return kept + std::max(worst_working, activations_so_far);
}

uint64_t MaxTransientBytes(const std::vector<BlockProfile>& blocks) {
  uint64_t worst = 0;
  for (const BlockProfile& b : blocks) {
    worst = std::max(worst, b.prefix_transient_bytes);
    for (const BlockOption& o : b.options) worst = std::max(worst, o.transient_bytes);
  }
  return worst;
}

std::vector<double> PlanShares(const PlanRequest& r, const Plan& plan) {
  std::vector<double> shares;
  for (size_t i = 0; i < plan.blocks.size(); ++i) {
    shares.push_back(plan.blocks[i].in_backward_path ? r.blocks[i].options[plan.blocks[i].option_index].share : 0.0);
  }
  return shares;
}

std::string Plan::ToTable() const {
  std::string out;
  if (!feasible) {
    absl::StrAppend(&out, "INFEASIBLE: nothing fits ", FormatBytes(memory_budget), "; the smallest feasible budget is ",
                    FormatBytes(min_memory_all_frozen), "\n\n");
  }
  out += absl::StrFormat("%-18s %-12s %-9s %10s %12s %12s\n", "block", "option", "path", "gain (pt)",
                                    "memory", "ms/iter");
  for (const BlockDecision& d : blocks) {
    absl::StrAppendFormat(&out, "%-18s %-12s %-9s %10.2f %12s %12.3f\n", d.block, d.option(),
                          d.in_backward_path ? "backward" : "no-grad", 100 * d.gain, FormatBytes(d.memory_bytes),
                          1000 * d.seconds);
  }
  absl::StrAppendFormat(&out, "%-18s %-12s %-9s %10s %12s\n", "(every plan)", "batch, work", "", "",
                        FormatBytes(fixed_bytes));
  absl::StrAppendFormat(&out, "\nmemory      %s of %s budget (%.0f%%)\n", FormatBytes(memory_bytes),
                        FormatBytes(memory_budget), memory_budget ? 100.0 * memory_bytes / memory_budget : 0.0);
  absl::StrAppendFormat(&out, "time        %d iterations × %.2f ms = %.1f s of a %.1f s window\n", iterations,
                        1000 * seconds_per_iteration, train_seconds, window_seconds);
  absl::StrAppendFormat(&out, "predicted   %.2f%% accuracy after retraining\n", 100 * predicted_accuracy);
  if (micro_batch > 0) {
    absl::StrAppendFormat(&out, "batches     accumulated in chunks of %d samples (activations of one chunk alive)\n",
                          micro_batch);
  }
  if (!note.empty()) absl::StrAppend(&out, "note        ", note, "\n");
  return out;
}

std::string Plan::ToJson() const {
  nlohmann::ordered_json j;
  j["feasible"] = feasible;
  j["first_trainable"] = first_trainable;
  j["iterations"] = iterations;
  j["micro_batch"] = micro_batch;
  j["predicted_accuracy"] = predicted_accuracy;
  j["memory_bytes"] = memory_bytes;
  j["memory_budget"] = memory_budget;
  j["fixed_bytes"] = fixed_bytes;
  j["seconds_per_iteration"] = seconds_per_iteration;
  j["train_seconds"] = train_seconds;
  j["window_seconds"] = window_seconds;
  j["min_memory_all_frozen"] = min_memory_all_frozen;
  j["min_memory_to_train"] = min_memory_to_train;
  j["note"] = note;
  j["blocks"] = nlohmann::ordered_json::array();
  for (const BlockDecision& d : blocks) {
    j["blocks"].push_back({{"block", d.block},
                           {"option", d.option()},
                           {"in_backward_path", d.in_backward_path},
                           {"gain", d.gain},
                           {"memory_bytes", d.memory_bytes},
                           {"seconds", d.seconds}});
  }
  return j.dump(2);
}

}  // namespace bt
