#include "common/plan/window_plan.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bt {

std::vector<int64_t> IterationGrid(int64_t max_iterations) {
  std::vector<int64_t> grid;
  for (int64_t q : {25, 50, 100, 150, 200, 300, 400, 600, 800}) {
    if (q <= max_iterations || grid.empty()) grid.push_back(q);
  }
  return grid;
}

uint64_t BudgetForDivisor(uint64_t memory_budget, int64_t divisor) {
  if (divisor <= 1) return memory_budget;
  return memory_budget / 10 * kChunkedBudgetTenths;
}

std::string PlanText(const Plan& plan) {
  std::vector<std::string> parts;
  for (const BlockDecision& d : plan.blocks) {
    if (d.form.trains()) parts.push_back(absl::StrCat(d.block, ":", d.option()));
  }
  std::string text = parts.empty() ? "all frozen" : absl::StrJoin(parts, " ");
  if (plan.micro_batch > 0) absl::StrAppend(&text, " (chunks of ", plan.micro_batch, ")");
  return text;
}

LawParams GenericPrior(size_t blocks, double acc0) {
  LawParams law;
  law.acc0 = acc0;
  law.max_gain = 0.6 * (1.0 - acc0);
  law.weights.assign(blocks, 0.5);
  law.gamma = 0.5;
  law.tau = 100;
  law.alpha = 1.0;
  law.rho = 0.6;  // how block gains combined on the fogged camera (bt-bench-law)
  return law;
}

PlanRequest RequestForMicroBatch(const ProbeReport& report, int64_t divisor) {
  PlanRequest r;
  r.blocks = report.costs;
  r.fixed_bytes = report.fixed_bytes;
  if (divisor <= 1) return r;
  const double f = 1.0 / static_cast<double>(divisor);
  const double slow = 1.0 + 0.15 * std::log2(static_cast<double>(divisor));
  auto scale = [f](uint64_t bytes) { return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) * f)); };
  for (BlockProfile& b : r.blocks) {
    b.prefix_transient_bytes = scale(b.prefix_transient_bytes);
    b.prefix_seconds *= slow;
    for (BlockOption& o : b.options) {
      const uint64_t activations = std::min(o.activation_bytes, o.memory_bytes);
      o.memory_bytes = o.memory_bytes - activations + scale(activations);
      o.activation_bytes = scale(activations);
      o.transient_bytes = scale(o.transient_bytes);
      o.seconds *= slow;
    }
  }
  // The fixed part holds the largest block working memory and the outputs with their gradient, both scaled with
  // the chunk, besides the input batch.
  const uint64_t transient = MaxTransientBytes(report.costs);
  const uint64_t output = std::min(report.output_bytes, report.fixed_bytes);
  const uint64_t rest = report.fixed_bytes > transient + output ? report.fixed_bytes - transient - output : 0;
  r.fixed_bytes = rest + scale(transient) + scale(output);
  return r;
}

absl::StatusOr<uint64_t> FullFineTuningBytes(const ProbeReport& report) {
  PlanRequest request;
  request.blocks = report.costs;
  request.fixed_bytes = report.fixed_bytes;
  request.memory_budget = ~uint64_t{0} >> 1;
  request.law = GenericPrior(report.costs.size(), 0.5);
  request.iteration_grid = {IterationGrid().front()};
  std::vector<size_t> options;
  for (const BlockProfile& b : report.costs) {
    size_t train = 0;
    for (size_t i = 0; i < b.options.size(); ++i) {
      if (b.options[i].form == BlockChoice::Train()) train = i;
    }
    if (train == 0) return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "' has no 'train' cost"));
    options.push_back(train);
  }
  ASSIGN_OR_RETURN(Plan full, EvaluatePlan(request, options, request.iteration_grid.front()));
  return full.memory_bytes;
}

absl::StatusOr<WindowPlan> PlanFromProbes(const ProbeReport& report, const LawParams* prior,
                                          const WindowPlanRequest& request) {
  const size_t blocks = report.costs.size();
  if (blocks == 0) return absl::InvalidArgumentError("the probe report has no block costs");
  if (request.iteration_grid.empty()) return absl::InvalidArgumentError("empty iteration grid");
  LawParams start = prior != nullptr && prior->weights.size() == blocks ? *prior : GenericPrior(blocks, report.acc0);
  start.acc0 = report.acc0;  // accuracy before retraining is measured afresh every window
  start.max_gain = std::min(start.max_gain, std::max(1e-6, 1.0 - report.acc0));
  WindowPlan out;
  if (report.points.empty()) {
    out.law = start;
  } else {
    ASSIGN_OR_RETURN(LawFit fit, FitLaw(report.points, start));
    out.law = fit.params;
    out.law_rmse = fit.rmse;
    out.law_fitted = true;
  }
  bool have = false;
  const int64_t batch = std::max<int64_t>(1, report.batch);
  for (int64_t divisor : request.micro_batch_divisors) {
    if (divisor < 1 || divisor > batch) continue;
    const PlanRequest solve = WindowRequest(report, out.law, request, divisor);
    ASSIGN_OR_RETURN(Plan solved, SolvePlan(solve));
    ASSIGN_OR_RETURN(Plan plan, FillWindow(solve, solved));
    plan.micro_batch = divisor == 1 ? 0 : batch / divisor;
    plan.memory_budget = request.memory_budget;
    const bool better = !have || (plan.feasible && !out.plan.feasible) ||
                        (plan.feasible == out.plan.feasible && plan.predicted_accuracy > out.plan.predicted_accuracy + 1e-9);
    if (better) {
      out.plan = std::move(plan);
      have = true;
    }
  }
  if (!have) return absl::InvalidArgumentError("no micro-batch divisor fits the probe batch");
  // The plan races its alternatives whenever the window has labels to race on: a law fitted from short curves
  // misranks plans, and one that is only the prior (no curve fitted the probe share) knows nothing of this window.
  if ((out.law_fitted || report.labeled_samples >= kMinLabeledSamples) && out.plan.feasible &&
      out.plan.first_trainable >= 0) {
    ASSIGN_OR_RETURN(out.alternatives, RaceAlternatives(report, out.law, request, out.plan));
  }
  return out;
}

PlanRequest WindowRequest(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request,
                          int64_t divisor) {
  PlanRequest r = RequestForMicroBatch(report, divisor);
  r.law = law;
  r.memory_budget = BudgetForDivisor(request.memory_budget, divisor);
  r.window_seconds = request.train_seconds;
  r.iteration_grid = request.iteration_grid;
  return r;
}

namespace {

std::vector<size_t> OptionsOf(const Plan& plan) {
  std::vector<size_t> options;
  for (const BlockDecision& d : plan.blocks) options.push_back(d.option_index);
  return options;
}

}  // namespace

absl::StatusOr<std::vector<Plan>> TopWindowPlans(const ProbeReport& report, const LawParams& law,
                                                 const WindowPlanRequest& request, size_t count) {
  const int64_t batch = std::max<int64_t>(1, report.batch);
  std::vector<Plan> all;
  for (int64_t divisor : request.micro_batch_divisors) {
    if (divisor < 1 || divisor > batch) continue;
    const PlanRequest solve = WindowRequest(report, law, request, divisor);
    ASSIGN_OR_RETURN(std::vector<Plan> top, TopPlans(solve, count));
    for (Plan& plan : top) {
      ASSIGN_OR_RETURN(plan, FillWindow(solve, plan));
      plan.micro_batch = divisor == 1 ? 0 : batch / divisor;
      plan.memory_budget = request.memory_budget;
      all.push_back(std::move(plan));
    }
  }
  // Best first; among equal predictions the larger chunk (stable: divisors were visited in the request's order).
  std::stable_sort(all.begin(), all.end(), [](const Plan& a, const Plan& b) {
    return a.predicted_accuracy > b.predicted_accuracy + 1e-9;
  });
  std::vector<Plan> out;
  std::vector<std::vector<size_t>> seen;
  for (Plan& plan : all) {
    std::vector<size_t> options = OptionsOf(plan);
    if (std::find(seen.begin(), seen.end(), options) != seen.end()) continue;
    seen.push_back(std::move(options));
    out.push_back(std::move(plan));
    if (out.size() == count) break;
  }
  return out;
}

absl::StatusOr<Plan> FitWindowPlan(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request,
                                   const std::vector<size_t>& options) {
  const int64_t batch = std::max<int64_t>(1, report.batch);
  Plan last;
  bool have = false;
  for (int64_t divisor : request.micro_batch_divisors) {
    if (divisor < 1 || divisor > batch) continue;
    ASSIGN_OR_RETURN(last, FitPlan(WindowRequest(report, law, request, divisor), options));
    last.micro_batch = divisor == 1 ? 0 : batch / divisor;
    last.memory_budget = request.memory_budget;
    have = true;
    if (last.feasible) return last;
  }
  if (!have) return absl::InvalidArgumentError("no micro-batch divisor fits the probe batch");
  return last;
}

namespace {

size_t TrainOption(const BlockProfile& block) {
  for (size_t i = 0; i < block.options.size(); ++i) {
    if (block.options[i].form == BlockChoice::Train()) return i;
  }
  return 0;
}

}  // namespace

absl::StatusOr<Plan> LargestLastK(const ProbeReport& report, const LawParams& law, const WindowPlanRequest& request) {
  const size_t n = report.costs.size();
  for (size_t k = n; k >= 1; --k) {
    std::vector<size_t> options(n, 0);
    bool complete = true;
    for (size_t i = n - k; i < n; ++i) {
      options[i] = TrainOption(report.costs[i]);
      complete &= options[i] != 0;
    }
    if (!complete) continue;
    ASSIGN_OR_RETURN(Plan plan, FitWindowPlan(report, law, request, options));
    if (plan.feasible && plan.train_seconds <= request.train_seconds * (1 + 1e-9)) return plan;
  }
  Plan none;
  none.feasible = false;
  none.note = "not even the last block fits the budget and the window";
  return none;
}

absl::StatusOr<std::vector<Plan>> RaceAlternatives(const ProbeReport& report, const LawParams& law,
                                                   const WindowPlanRequest& request, const Plan& chosen) {
  std::vector<Plan> out;
  // Plans that train the same blocks in the same forms are the same entrant, whatever their chunk size.
  auto forms = [](const Plan& plan) {
    std::vector<std::string> parts;
    for (const BlockDecision& d : plan.blocks) parts.push_back(d.form.trains() ? d.option() : "");
    return parts;
  };
  std::vector<std::vector<std::string>> seen = {forms(chosen)};
  auto add = [&](Plan plan) {
    if (!plan.feasible || plan.first_trainable < 0) return;
    if (plan.train_seconds > request.train_seconds * (1 + 1e-9)) return;
    std::vector<std::string> key = forms(plan);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return;
    seen.push_back(std::move(key));
    out.push_back(std::move(plan));
  };
  // The block the law credits most, trained alone (in its best form that fits).
  const size_t n = report.costs.size();
  Plan best_single;
  for (size_t i = 0; i < n; ++i) {
    for (size_t f = 1; f < report.costs[i].options.size(); ++f) {
      if (!report.costs[i].options[f].trainable) continue;
      std::vector<size_t> options(n, 0);
      options[i] = f;
      ASSIGN_OR_RETURN(Plan plan, FitWindowPlan(report, law, request, options));
      if (!plan.feasible || plan.train_seconds > request.train_seconds * (1 + 1e-9)) continue;
      if (best_single.blocks.empty() || plan.predicted_accuracy > best_single.predicted_accuracy + 1e-12) {
        best_single = std::move(plan);
      }
    }
  }
  if (!best_single.blocks.empty()) {
    best_single.note = kRaceBestSingleNote;
    add(std::move(best_single));
  }
  ASSIGN_OR_RETURN(Plan last_k, LargestLastK(report, law, request));
  if (last_k.feasible) {
    last_k.note = kRaceLastKNote;
    add(std::move(last_k));
  }
  // The first block alone.
  if (n > 0 && TrainOption(report.costs[0]) != 0) {
    std::vector<size_t> options(n, 0);
    options[0] = TrainOption(report.costs[0]);
    ASSIGN_OR_RETURN(Plan plan, FitWindowPlan(report, law, request, options));
    plan.note = kRaceFirstBlockNote;
    add(std::move(plan));
  }
  return out;
}

}  // namespace bt
