// The scoreboard's baselines as plan sources (edge/window/plan_source.h), so they run through the same window pipeline as
// blocktrainer and differ from it only in how blocks are chosen. None of them probes retraining curves; each gets
// the planner's memory knob (the batch in accumulated chunks) and takes the largest chunk with which its own choice
// is best, then the most iterations on the grid that fit the window.
//
//  - full: every block trainable, the whole batch, no memory budget (a reference, not a contender);
//  - fixed-compressed: every encoder layer as its train@s proxy at the least sparsity s that fits (stem and head
//    whole), as structured-pruning baselines are used; fixed-compressed-lora: the same forms frozen with LoRA
//    adapters (lora@s);
//  - last-k: the last k blocks trainable, the largest k that fits;
//  - random: a random feasible plan whose predicted memory is 80–100% of `target` (blocktrainer's plan in the same
//    window, when it ran first).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "edge/window/plan_source.h"

namespace bt {

class BaselinePlanSource final : public PlanSource {
 public:
  enum class Kind { kFull, kFixedCompressed, kFixedCompressedLora, kLastK, kRandom };
  // `random_target`: memory the random plans match (null or 0: the memory budget); read at every window.
  BaselinePlanSource(Kind kind, std::vector<int64_t> iteration_grid, uint64_t seed,
                     const uint64_t* random_target = nullptr);

  ProbeNeeds needs() const override { return {false, kind_ == Kind::kFixedCompressedLora}; }
  absl::StatusOr<PlannedWindow> PlanWindow(const PlanQuery& query) override;

 private:
  absl::StatusOr<Plan> Choose(const PlanRequest& request, uint64_t budget);
  Kind kind_;
  std::vector<int64_t> grid_;
  std::mt19937 rng_;
  const uint64_t* random_target_;
};

// "full", "fixed-compressed", "fixed-compressed-lora", "last-k", "random"; InvalidArgument otherwise.
absl::StatusOr<BaselinePlanSource::Kind> BaselineKind(const std::string& method);

}  // namespace bt
