#include "bench/baselines.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace bt {
namespace {

size_t OptionIndex(const BlockProfile& block, const BlockChoice& form) {
  for (size_t i = 0; i < block.options.size(); ++i) {
    if (block.options[i].form == form) return i;
  }
  return 0;
}

// The largest q on the grid whose predicted time fits the window (at least the smallest grid value).
int64_t IterationsThatFit(const std::vector<int64_t>& grid, double seconds_per_iteration, double train_seconds) {
  int64_t best = grid.front();
  for (int64_t q : grid) {
    if (static_cast<double>(q) * seconds_per_iteration <= train_seconds) best = std::max(best, q);
  }
  return best;
}

std::vector<size_t> AllTrain(const std::vector<BlockProfile>& costs) {
  std::vector<size_t> options;
  for (const BlockProfile& b : costs) options.push_back(OptionIndex(b, BlockChoice::Train()));
  return options;
}

int TrainedBlocks(const Plan& p) {
  int n = 0;
  for (const BlockDecision& d : p.blocks) n += d.form.trains();
  return n;
}

// Last k blocks fully trainable, the largest k that fits the budget.
absl::StatusOr<Plan> LastK(const PlanRequest& request, int64_t q) {
  const size_t n = request.blocks.size();
  Plan best;
  for (size_t k = 1; k <= n; ++k) {
    std::vector<size_t> options(n, 0);
    for (size_t i = n - k; i < n; ++i) options[i] = OptionIndex(request.blocks[i], BlockChoice::Train());
    ASSIGN_OR_RETURN(Plan plan, EvaluatePlan(request, options, q));
    if (!plan.feasible) break;
    best = plan;
  }
  return best;
}

// Every encoder layer in one compressed form (train@s, or lora@s with `lora`) at the least sparsity that fits; the
// stem and head have no proxy form and train whole. Infeasible when even the most compressed model does not fit.
absl::StatusOr<Plan> FixedCompressed(const PlanRequest& request, int64_t q, bool lora) {
  const BlockChoice::Kind kind = lora ? BlockChoice::Kind::kLora : BlockChoice::Kind::kProxy;
  std::vector<BlockChoice> forms;
  for (const BlockOption& o : request.blocks[1].options) {
    if (o.form.kind == kind) forms.push_back(o.form);
  }
  if (forms.empty()) return absl::InternalError("the cost probes measured no compressed forms");
  // Least compressed first.
  std::sort(forms.begin(), forms.end(), [](const BlockChoice& a, const BlockChoice& b) { return a.sparsity < b.sparsity; });
  Plan last;
  for (const BlockChoice& form : forms) {
    std::vector<size_t> options;
    for (const BlockProfile& b : request.blocks) {
      const size_t proxy = OptionIndex(b, form);
      options.push_back(proxy != 0 ? proxy : OptionIndex(b, BlockChoice::Train()));
    }
    ASSIGN_OR_RETURN(last, EvaluatePlan(request, options, q));
    if (last.feasible) return last;
  }
  last.note = "even the most compressed model does not fit the memory budget";
  return last;
}

// A random plan whose predicted memory is within [0.8, 1] × `target` bytes, drawn uniformly among such plans by
// rejection; falls back to the closest one seen.
absl::StatusOr<Plan> RandomOfSameCost(const PlanRequest& request, uint64_t target, int64_t q, std::mt19937& rng) {
  const size_t n = request.blocks.size();
  Plan closest;
  double closest_gap = 1e300;
  for (int attempt = 0; attempt < 20000; ++attempt) {
    std::vector<size_t> options(n);
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      options[i] = std::uniform_int_distribution<size_t>(0, request.blocks[i].options.size() - 1)(rng);
      any |= options[i] != 0;
    }
    if (!any) continue;
    ASSIGN_OR_RETURN(Plan plan, EvaluatePlan(request, options, q));
    if (!plan.feasible) continue;
    const double ratio = static_cast<double>(plan.memory_bytes) / static_cast<double>(std::max<uint64_t>(1, target));
    if (ratio >= 0.8 && ratio <= 1.0) return plan;
    if (std::abs(ratio - 0.9) < closest_gap) {
      closest_gap = std::abs(ratio - 0.9);
      closest = plan;
    }
  }
  return closest;
}

}  // namespace

absl::StatusOr<BaselinePlanSource::Kind> BaselineKind(const std::string& method) {
  if (method == "full") return BaselinePlanSource::Kind::kFull;
  if (method == "fixed-compressed") return BaselinePlanSource::Kind::kFixedCompressed;
  if (method == "fixed-compressed-lora") return BaselinePlanSource::Kind::kFixedCompressedLora;
  if (method == "last-k") return BaselinePlanSource::Kind::kLastK;
  if (method == "random") return BaselinePlanSource::Kind::kRandom;
  return absl::InvalidArgumentError(absl::StrCat("'", method, "' is not a baseline"));
}

BaselinePlanSource::BaselinePlanSource(Kind kind, std::vector<int64_t> iteration_grid, uint64_t seed,
                                       const uint64_t* random_target)
    : kind_(kind), grid_(std::move(iteration_grid)), rng_(static_cast<uint32_t>(seed)), random_target_(random_target) {}

absl::StatusOr<Plan> BaselinePlanSource::Choose(const PlanRequest& request, uint64_t budget) {
  const int64_t q = grid_.front();
  switch (kind_) {
    case Kind::kFull: return EvaluatePlan(request, AllTrain(request.blocks), q);
    case Kind::kFixedCompressed: return FixedCompressed(request, q, false);
    case Kind::kFixedCompressedLora: return FixedCompressed(request, q, true);
    case Kind::kLastK: return LastK(request, q);
    case Kind::kRandom: {
      const uint64_t target = random_target_ != nullptr && *random_target_ > 0 ? *random_target_ : budget;
      return RandomOfSameCost(request, target, q, rng_);
    }
  }
  return absl::InternalError("unknown baseline");
}

absl::StatusOr<PlannedWindow> BaselinePlanSource::PlanWindow(const PlanQuery& query) {
  const ProbeReport& report = *query.report;
  if (report.costs.size() < 2) return absl::InvalidArgumentError("baselines need a model with at least two blocks");
  // Baselines probe no curves: the generic prior only orders nothing here, it prices the "predicted" column.
  const LawParams law = GenericPrior(report.costs.size(), report.acc0);
  auto request_for = [&](int64_t divisor) {
    PlanRequest r = RequestForMicroBatch(report, divisor);
    r.law = law;
    r.memory_budget = BudgetForDivisor(query.memory_budget, divisor);
    r.window_seconds = query.train_seconds;
    r.iteration_grid = grid_;
    return r;
  };
  const int64_t batch = std::max<int64_t>(1, report.batch);
  const std::vector<int64_t> divisors = kind_ == Kind::kFull ? std::vector<int64_t>{1}
                                                             : std::vector<int64_t>{1, 2, 4, 8};
  Plan plan;
  int64_t chosen = 1;
  for (int64_t divisor : divisors) {
    if (divisor > batch) continue;
    ASSIGN_OR_RETURN(Plan candidate, Choose(request_for(divisor), query.memory_budget));
    // fixed-compressed: the least compressed model that fits; last-k: the most blocks; the others: the first fit.
    bool better = plan.blocks.empty() || (candidate.feasible && !plan.feasible);
    if (!better && candidate.feasible && plan.feasible) {
      if (kind_ == Kind::kLastK) better = TrainedBlocks(candidate) > TrainedBlocks(plan);
      if (kind_ == Kind::kFixedCompressed || kind_ == Kind::kFixedCompressedLora) {
        better = candidate.blocks[1].form.sparsity < plan.blocks[1].form.sparsity;
      }
    }
    if (better) {
      plan = candidate;
      chosen = divisor;
    }
  }
  if (!plan.blocks.empty() && plan.feasible) {
    std::vector<size_t> options;
    for (const BlockDecision& d : plan.blocks) options.push_back(d.option_index);
    const std::string note = plan.note;
    ASSIGN_OR_RETURN(plan, EvaluatePlan(request_for(chosen), options,
                                        IterationsThatFit(grid_, plan.seconds_per_iteration, query.train_seconds)));
    ASSIGN_OR_RETURN(plan, FillWindow(request_for(chosen), plan));
    plan.note = note;
  }
  plan.micro_batch = chosen == 1 ? 0 : batch / chosen;
  PlannedWindow out;
  out.plan = std::move(plan);
  return out;
}

}  // namespace bt
