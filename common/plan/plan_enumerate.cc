// The planners that enumerate plans rather than search them: a given plan evaluated (EvaluatePlan, FitPlan), the
// best n plans (TopPlans), and the exhaustive reference the tests hold the solver to (BruteForcePlan); with the
// request validation, discretised costs and plan assembly they share with the exact solver.
#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "absl/strings/str_format.h"
#include "common/base/units.h"
#include "common/plan/planner_internal.h"

namespace bt {
namespace plan_internal {

int64_t Buckets(uint64_t bytes, uint64_t unit) { return static_cast<int64_t>((bytes + unit - 1) / unit); }

absl::Status Validate(const PlanRequest& r) {
  if (r.blocks.empty()) return absl::InvalidArgumentError("plan request has no blocks");
  if (r.law.weights.size() != r.blocks.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the law has ", r.law.weights.size(), " block weights for ",
                                                   r.blocks.size(), " blocks"));
  }
  if (r.iteration_grid.empty()) return absl::InvalidArgumentError("iteration grid is empty");
  for (int64_t q : r.iteration_grid) {
    if (q <= 0) return absl::InvalidArgumentError(absl::StrCat("iteration grid value ", q, " is not positive"));
  }
  if (!(r.window_seconds >= 0) || !std::isfinite(r.window_seconds)) {
    return absl::InvalidArgumentError("window_seconds must be a non-negative number");
  }
  for (const BlockProfile& b : r.blocks) {
    if (b.options.empty() || b.options[0].trainable) {
      return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "': options[0] must be the frozen option"));
    }
    for (const BlockOption& o : b.options) {
      if (!(o.seconds >= 0) || !std::isfinite(o.seconds) || o.share < 0 || o.share > 1 ||
          (o.trainable != (o.share > 0))) {
        return absl::InvalidArgumentError(
            absl::StrCat("block '", b.name, "', option '", o.name(), "': inconsistent share/time/trainable"));
      }
    }
  }
  return absl::OkStatus();
}

Setup Prepare(const PlanRequest& r) {
  Setup s;
  const uint64_t usable = r.memory_budget > r.fixed_bytes ? r.memory_budget - r.fixed_bytes : 0;
  s.unit = r.bytes_per_bucket > 0 ? r.bytes_per_bucket : std::max<uint64_t>(1, (r.memory_budget + 1023) / 1024);
  s.max_buckets = r.memory_budget >= r.fixed_bytes ? static_cast<int64_t>(usable / s.unit) : -1;
  const size_t n = r.blocks.size();
  s.prefix_buckets.assign(n + 1, 0);
  s.prefix_seconds.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    s.prefix_buckets[i + 1] = s.prefix_buckets[i] + Buckets(r.blocks[i].prefix_bytes, s.unit);
    s.prefix_seconds[i + 1] = s.prefix_seconds[i] + r.blocks[i].prefix_seconds;
  }
  s.option_buckets.resize(n);
  s.option_gain.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (const BlockOption& o : r.blocks[i].options) {
      s.option_buckets[i].push_back(Buckets(o.memory_bytes, s.unit));
      s.option_gain[i].push_back(r.law.BlockGain(i, o.share));
    }
  }
  int64_t min_q = *std::min_element(r.iteration_grid.begin(), r.iteration_grid.end());
  s.max_time = r.window_seconds / static_cast<double>(min_q);
  for (int64_t q : r.iteration_grid) {
    s.time_bound.push_back(r.window_seconds / static_cast<double>(q));
    s.saturation.push_back(r.law.Saturation(static_cast<double>(q)));
  }
  return s;
}

Plan Assemble(const PlanRequest& r, const Setup& s, const std::vector<int32_t>& options, int64_t first, int64_t q) {
  Plan plan;
  plan.feasible = true;
  plan.first_trainable = first;
  plan.iterations = q;
  plan.max_iterations = std::max(q, *std::max_element(r.iteration_grid.begin(), r.iteration_grid.end()));
  plan.memory_budget = r.memory_budget;
  plan.window_seconds = r.window_seconds;
  plan.memory_bytes = r.fixed_bytes;
  plan.fixed_bytes = r.fixed_bytes;
  std::vector<double> shares;
  // The predicted gain is attributed to blocks in proportion to their term of the law's X.
  double x_total = 0;
  for (size_t i = 0; i < r.blocks.size(); ++i) {
    if (first >= 0 && static_cast<int64_t>(i) >= first) x_total += s.option_gain[i][static_cast<size_t>(options[i])];
  }
  const double total_gain = first >= 0 ? r.law.Gain(x_total, static_cast<double>(q)) : 0.0;
  for (size_t i = 0; i < r.blocks.size(); ++i) {
    const BlockProfile& b = r.blocks[i];
    BlockDecision d;
    d.block = b.name;
    d.option_index = static_cast<size_t>(options[i]);
    d.form = b.options[d.option_index].form;
    d.in_backward_path = first >= 0 && static_cast<int64_t>(i) >= first;
    if (d.in_backward_path) {
      d.memory_bytes = b.options[d.option_index].memory_bytes;
      d.seconds = b.options[d.option_index].seconds;
      d.gain = x_total > 0 ? total_gain * s.option_gain[i][d.option_index] / x_total : 0.0;
    } else {
      d.memory_bytes = b.prefix_bytes;
      d.seconds = first >= 0 ? b.prefix_seconds : 0;
    }
    shares.push_back(d.in_backward_path ? b.options[d.option_index].share : 0.0);
    plan.memory_bytes += d.memory_bytes;
    plan.seconds_per_iteration += d.seconds;
    plan.blocks.push_back(std::move(d));
  }
  plan.train_seconds = plan.seconds_per_iteration * static_cast<double>(q);
  plan.predicted_accuracy = first >= 0 ? r.law.Predict(shares, static_cast<double>(q)) : std::min(1.0, r.law.acc0);
  return plan;
}

void FillMinimums(const PlanRequest& r, Plan* plan) {
  uint64_t frozen = r.fixed_bytes;
  for (const BlockProfile& b : r.blocks) frozen += b.prefix_bytes;
  plan->min_memory_all_frozen = frozen;
  uint64_t best = std::numeric_limits<uint64_t>::max();
  const size_t n = r.blocks.size();
  std::vector<uint64_t> suffix_min(n + 1, 0);
  for (size_t j = n; j-- > 0;) {
    uint64_t m = std::numeric_limits<uint64_t>::max();
    for (const BlockOption& o : r.blocks[j].options) m = std::min(m, o.memory_bytes);
    suffix_min[j] = suffix_min[j + 1] + m;
  }
  uint64_t prefix = r.fixed_bytes;
  for (size_t j = 0; j < n; ++j) {
    for (const BlockOption& o : r.blocks[j].options) {
      if (o.trainable) best = std::min(best, prefix + o.memory_bytes + suffix_min[j + 1]);
    }
    prefix += r.blocks[j].prefix_bytes;
  }
  plan->min_memory_to_train = best == std::numeric_limits<uint64_t>::max() ? 0 : best;
}

Plan AllFrozen(const PlanRequest& r, const Setup& s, const std::string& note) {
  Plan plan = Assemble(r, s, std::vector<int32_t>(r.blocks.size(), 0), -1, 0);
  plan.note = note;
  return plan;
}

Plan Infeasible(const PlanRequest& r, const Setup& s) {
  Plan plan = AllFrozen(r, s, "");
  plan.feasible = false;
  FillMinimums(r, &plan);
  plan.note = absl::StrCat("infeasible: even the all-frozen model needs ", FormatBytes(plan.min_memory_all_frozen),
                           " (budget ", FormatBytes(r.memory_budget), "); the smallest feasible budget is ",
                           FormatBytes(plan.min_memory_all_frozen));
  return plan;
}

std::string NoTrainingNote(const PlanRequest& r, const Plan& plan) {
  if (plan.min_memory_to_train > r.memory_budget) {
    return absl::StrCat("no trainable plan fits the memory budget; the smallest budget that trains a block is ",
                        FormatBytes(plan.min_memory_to_train));
  }
  return "no trainable plan fits the window at any iteration count on the grid, or none is predicted to help";
}

}  // namespace plan_internal

using namespace plan_internal;

absl::StatusOr<Plan> EvaluatePlan(const PlanRequest& r, const std::vector<size_t>& options, int64_t iterations) {
  RETURN_IF_ERROR(Validate(r));
  if (options.size() != r.blocks.size()) {
    return absl::InvalidArgumentError(absl::StrCat(options.size(), " options for ", r.blocks.size(), " blocks"));
  }
  if (iterations < 1) return absl::InvalidArgumentError("iterations must be positive");
  const Setup s = Prepare(r);
  std::vector<int32_t> chosen;
  int64_t first = -1;
  for (size_t i = 0; i < options.size(); ++i) {
    if (options[i] >= r.blocks[i].options.size()) {
      return absl::InvalidArgumentError(absl::StrCat("block '", r.blocks[i].name, "' has no option ", options[i]));
    }
    if (first < 0 && r.blocks[i].options[options[i]].trainable) first = static_cast<int64_t>(i);
    chosen.push_back(static_cast<int32_t>(options[i]));
  }
  Plan plan = first >= 0 ? Assemble(r, s, chosen, first, iterations) : AllFrozen(r, s, "");
  FillMinimums(r, &plan);
  plan.feasible = plan.memory_bytes <= r.memory_budget;
  return plan;
}

absl::StatusOr<Plan> BruteForcePlan(const PlanRequest& r) {
  RETURN_IF_ERROR(Validate(r));
  const Setup s = Prepare(r);
  const size_t n = r.blocks.size();
  if (s.max_buckets < 0 || s.prefix_buckets[n] > s.max_buckets) return Infeasible(r, s);
  std::vector<int32_t> options(n, 0), best_options;
  double best_value = kEps;
  int64_t best_first = -1, best_q = 0;
  while (true) {
    int64_t first = -1;
    for (size_t i = 0; i < n && first < 0; ++i) {
      if (r.blocks[i].options[static_cast<size_t>(options[i])].trainable) first = static_cast<int64_t>(i);
    }
    if (first >= 0) {
      int64_t buckets = s.prefix_buckets[static_cast<size_t>(first)];
      double time = s.prefix_seconds[static_cast<size_t>(first)], gain = 0;
      for (size_t i = static_cast<size_t>(first); i < n; ++i) {
        buckets += s.option_buckets[i][static_cast<size_t>(options[i])];
        time += r.blocks[i].options[static_cast<size_t>(options[i])].seconds;
        gain += s.option_gain[i][static_cast<size_t>(options[i])];
      }
      if (buckets <= s.max_buckets) {
        for (int64_t q : r.iteration_grid) {
          if (time * static_cast<double>(q) > r.window_seconds * (1 + 1e-12)) continue;
          double value = r.law.Gain(gain, static_cast<double>(q));
          if (value > best_value + kEps) {
            best_value = value;
            best_options = options;
            best_first = first;
            best_q = q;
          }
        }
      }
    }
    size_t i = 0;
    while (i < n && ++options[i] == static_cast<int32_t>(r.blocks[i].options.size())) options[i++] = 0;
    if (i == n) break;
  }
  Plan plan;
  if (best_first < 0) {
    plan = AllFrozen(r, s, "");
    FillMinimums(r, &plan);
    plan.note = NoTrainingNote(r, plan);
    return plan;
  }
  plan = Assemble(r, s, best_options, best_first, best_q);
  FillMinimums(r, &plan);
  return plan;
}

absl::StatusOr<Plan> FitPlan(const PlanRequest& r, const std::vector<size_t>& options) {
  if (r.iteration_grid.empty()) return absl::InvalidArgumentError("iteration grid is empty");
  ASSIGN_OR_RETURN(Plan plan, EvaluatePlan(r, options, r.iteration_grid.front()));
  int64_t q = r.iteration_grid.front();
  for (int64_t candidate : r.iteration_grid) {
    if (static_cast<double>(candidate) * plan.seconds_per_iteration <= r.window_seconds * (1 + 1e-12)) {
      q = std::max(q, candidate);
    }
  }
  if (q != plan.iterations) {
    ASSIGN_OR_RETURN(plan, EvaluatePlan(r, options, q));
  }
  return FillWindow(r, plan);
}

absl::StatusOr<Plan> FillWindow(const PlanRequest& r, const Plan& plan) {
  if (!plan.feasible || plan.first_trainable < 0 || !(plan.seconds_per_iteration > 0) || r.iteration_grid.empty()) {
    return plan;
  }
  const int64_t top = *std::max_element(r.iteration_grid.begin(), r.iteration_grid.end());
  const double fit = std::min(1e9, r.window_seconds * (1 + 1e-12) / plan.seconds_per_iteration);
  const int64_t q = std::min<int64_t>(top, static_cast<int64_t>(fit)) / 5 * 5;
  if (q <= plan.iterations) return plan;
  std::vector<size_t> options;
  for (const BlockDecision& d : plan.blocks) options.push_back(d.option_index);
  ASSIGN_OR_RETURN(Plan filled, EvaluatePlan(r, options, q));
  filled.note = plan.note;
  filled.micro_batch = plan.micro_batch;
  return filled;
}

namespace {

struct Scored {
  double value = 0;          // predicted gain (law units) at q
  int64_t buckets = 0;
  double time = 0;           // per iteration
  int64_t first = -1;
  int64_t q = 0;
  std::vector<int32_t> options;
};

// Best first: higher predicted gain, then less memory, then less time, then the options in lexicographic order, so
// that equal predictions come out in the same order on every run.
bool Better(const Scored& a, const Scored& b) {
  if (a.value != b.value) return a.value > b.value;
  if (a.buckets != b.buckets) return a.buckets < b.buckets;
  if (a.time != b.time) return a.time < b.time;
  return a.options < b.options;
}

// The plan `options` at its best iteration count; false when it trains nothing, does not fit, or gains nothing.
bool Score(const PlanRequest& r, const Setup& s, const std::vector<int32_t>& options, Scored* out) {
  const size_t n = r.blocks.size();
  int64_t first = -1;
  for (size_t i = 0; i < n; ++i) {
    const BlockOption& o = r.blocks[i].options[static_cast<size_t>(options[i])];
    if (o.trainable) {
      first = static_cast<int64_t>(i);
      break;
    }
    if (options[i] != 0) return false;  // a non-trainable form before the first trainable block runs as frozen
  }
  if (first < 0) return false;
  int64_t buckets = s.prefix_buckets[static_cast<size_t>(first)];
  double time = s.prefix_seconds[static_cast<size_t>(first)], gain = 0;
  for (size_t i = static_cast<size_t>(first); i < n; ++i) {
    const size_t o = static_cast<size_t>(options[i]);
    buckets += s.option_buckets[i][o];
    time += r.blocks[i].options[o].seconds;
    gain += s.option_gain[i][o];
  }
  if (buckets > s.max_buckets) return false;
  double best = -1;
  int64_t best_q = 0;
  for (size_t g = 0; g < s.time_bound.size(); ++g) {
    if (time > s.time_bound[g] * (1 + 1e-12)) continue;
    const double value = r.law.GainAtSaturation(gain, s.saturation[g]);
    if (value > best) {
      best = value;
      best_q = r.iteration_grid[g];
    }
  }
  if (best <= kEps) return false;
  out->value = best;
  out->buckets = buckets;
  out->time = time;
  out->first = first;
  out->q = best_q;
  out->options = options;
  return true;
}

}  // namespace

absl::StatusOr<std::vector<Plan>> TopPlans(const PlanRequest& r, size_t count, uint64_t exhaustive_limit) {
  RETURN_IF_ERROR(Validate(r));
  const Setup s = Prepare(r);
  const size_t n = r.blocks.size();
  std::vector<Plan> plans;
  if (count == 0 || s.max_buckets < 0 || s.prefix_buckets[n] > s.max_buckets) return plans;

  // Worst of the kept on top, so that a better plan replaces it.
  auto worse_on_top = [](const Scored& a, const Scored& b) { return Better(a, b); };
  std::priority_queue<Scored, std::vector<Scored>, decltype(worse_on_top)> kept(worse_on_top);
  auto offer = [&](const std::vector<int32_t>& options) {
    Scored scored;
    if (!Score(r, s, options, &scored)) return;
    if (kept.size() < count) {
      kept.push(std::move(scored));
    } else if (Better(scored, kept.top())) {
      kept.pop();
      kept.push(std::move(scored));
    }
  };

  double combinations = 1;
  for (const BlockProfile& b : r.blocks) combinations *= static_cast<double>(b.options.size());
  std::vector<int32_t> options(n, 0);
  if (combinations <= static_cast<double>(exhaustive_limit)) {
    while (true) {
      offer(options);
      size_t i = 0;
      while (i < n && ++options[i] == static_cast<int32_t>(r.blocks[i].options.size())) options[i++] = 0;
      if (i == n) break;
    }
  } else {
    // Too many to enumerate: the solver's plan and every plan that differs from it in one or two blocks.
    ASSIGN_OR_RETURN(Plan solved, SolvePlan(r));
    for (size_t i = 0; i < n; ++i) options[i] = static_cast<int32_t>(solved.blocks[i].option_index);
    offer(options);
    for (size_t i = 0; i < n; ++i) {
      const int32_t keep_i = options[i];
      for (int32_t a = 0; a < static_cast<int32_t>(r.blocks[i].options.size()); ++a) {
        if (a == keep_i) continue;
        options[i] = a;
        offer(options);
        for (size_t j = i + 1; j < n; ++j) {
          const int32_t keep_j = options[j];
          for (int32_t b = 0; b < static_cast<int32_t>(r.blocks[j].options.size()); ++b) {
            if (b == keep_j) continue;
            options[j] = b;
            offer(options);
          }
          options[j] = keep_j;
        }
      }
      options[i] = keep_i;
    }
  }
  std::vector<Scored> best;
  while (!kept.empty()) {
    best.push_back(kept.top());
    kept.pop();
  }
  std::sort(best.begin(), best.end(), Better);
  for (const Scored& b : best) {
    Plan plan = Assemble(r, s, b.options, b.first, b.q);
    FillMinimums(r, &plan);
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace bt
