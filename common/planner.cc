#include "common/planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/str_format.h"
#include "common/units.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

constexpr double kEps = 1e-12;

struct Entry {
  int64_t bucket;
  double time;
  double gain;
  int32_t option;
  int32_t prev;  // index into the next stage's entries; -1 for the terminal stage
};

struct Stage {
  std::vector<Entry> entries;
};

struct Setup {
  uint64_t unit = 1;
  int64_t max_buckets = 0;                  // buckets available after fixed_bytes
  std::vector<int64_t> prefix_buckets;      // Σ_{i<j} bucket(prefix_bytes_i), size L+1
  std::vector<double> prefix_seconds;       // Σ_{i<j} prefix_seconds_i, size L+1
  std::vector<std::vector<int64_t>> option_buckets;
  std::vector<std::vector<double>> option_gain;  // w_k share^γ (before saturation)
  double max_time = 0;                      // loosest per-iteration bound: T / min q
};

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
            absl::StrCat("block '", b.name, "', option '", o.name, "': inconsistent share/time/trainable"));
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
  return s;
}

// Sorts and prunes dominated entries: kept entries form the 3-D Pareto frontier.
void Prune(std::vector<Entry>* entries) {
  std::sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
    if (a.bucket != b.bucket) return a.bucket < b.bucket;
    if (a.time != b.time) return a.time < b.time;
    return a.gain > b.gain;
  });
  std::map<double, double> frontier;  // time -> gain, gain strictly increasing with time
  std::vector<Entry> kept;
  kept.reserve(entries->size());
  for (const Entry& c : *entries) {
    auto it = frontier.upper_bound(c.time);
    if (it != frontier.begin() && std::prev(it)->second >= c.gain - kEps) continue;  // dominated
    kept.push_back(c);
    auto inserted = frontier.insert_or_assign(c.time, c.gain).first;
    auto after = std::next(inserted);
    while (after != frontier.end() && after->second <= c.gain + kEps) after = frontier.erase(after);
  }
  *entries = std::move(kept);
}

// Extends `next` (blocks j+1.. in the backward path) with every option of block j, keeping the Pareto frontier
// over (memory bucket, time, gain).
Stage Extend(const PlanRequest& r, const Stage& next, size_t j, const Setup& s) {
  std::vector<Entry> candidates;
  candidates.reserve(next.entries.size() * s.option_buckets[j].size());
  const double time_limit = s.max_time * (1 + 1e-12);
  for (size_t e = 0; e < next.entries.size(); ++e) {
    const Entry& base = next.entries[e];
    for (size_t o = 0; o < s.option_buckets[j].size(); ++o) {
      Entry c;
      c.bucket = base.bucket + s.option_buckets[j][o];
      c.time = base.time + r.blocks[j].options[o].seconds;
      if (c.bucket > s.max_buckets || c.time > time_limit) continue;
      c.gain = base.gain + s.option_gain[j][o];
      c.option = static_cast<int32_t>(o);
      c.prev = static_cast<int32_t>(e);
      candidates.push_back(c);
    }
  }
  Prune(&candidates);
  return Stage{std::move(candidates)};
}

struct Best {
  double value = -1;        // gain × saturation
  int64_t first = -1;
  int64_t q = 0;
  int32_t option = -1;      // option of block `first`
  int32_t prev = -1;        // entry in stage[first + 1]
  int64_t buckets = 0;
  double time = 0;
};

// Considers every plan whose first trainable block is j, given the suffix stage after it.
void Consider(const PlanRequest& r, const Setup& s, size_t j, const Stage& after, Best* best) {
  const int64_t bucket_limit = s.max_buckets - s.prefix_buckets[j];
  if (bucket_limit < 0) return;
  for (size_t e = 0; e < after.entries.size(); ++e) {
    const Entry& base = after.entries[e];
    for (size_t o = 1; o < r.blocks[j].options.size(); ++o) {
      if (!r.blocks[j].options[o].trainable) continue;
      const int64_t buckets = base.bucket + s.option_buckets[j][o];
      if (buckets > bucket_limit) continue;
      const double time = s.prefix_seconds[j] + base.time + r.blocks[j].options[o].seconds;
      const double gain = base.gain + s.option_gain[j][o];
      for (int64_t q : r.iteration_grid) {
        if (time * static_cast<double>(q) > r.window_seconds * (1 + 1e-12)) continue;
        const double value = gain * r.law.Saturation(static_cast<double>(q));
        if (value > best->value + kEps) {
          *best = {value, static_cast<int64_t>(j), q, static_cast<int32_t>(o), static_cast<int32_t>(e),
                   buckets + s.prefix_buckets[j], time};
        }
      }
    }
  }
}

Plan Assemble(const PlanRequest& r, const Setup& s, const std::vector<int32_t>& options, int64_t first, int64_t q) {
  Plan plan;
  plan.feasible = true;
  plan.first_trainable = first;
  plan.iterations = q;
  plan.memory_budget = r.memory_budget;
  plan.window_seconds = r.window_seconds;
  plan.memory_bytes = r.fixed_bytes;
  std::vector<double> shares;
  const double saturation = r.law.Saturation(static_cast<double>(q));
  for (size_t i = 0; i < r.blocks.size(); ++i) {
    const BlockProfile& b = r.blocks[i];
    BlockDecision d;
    d.block = b.name;
    d.option_index = static_cast<size_t>(options[i]);
    d.option = b.options[d.option_index].name;
    d.in_backward_path = first >= 0 && static_cast<int64_t>(i) >= first;
    if (d.in_backward_path) {
      d.memory_bytes = b.options[d.option_index].memory_bytes;
      d.seconds = b.options[d.option_index].seconds;
      d.gain = s.option_gain[i][d.option_index] * saturation;
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

}  // namespace

absl::StatusOr<Plan> SolvePlan(const PlanRequest& r) {
  RETURN_IF_ERROR(Validate(r));
  const Setup s = Prepare(r);
  const size_t n = r.blocks.size();
  if (s.max_buckets < 0 || s.prefix_buckets[n] > s.max_buckets) return Infeasible(r, s);

  // stages[j]: Pareto frontier of blocks j..n-1, all in the backward path.
  std::vector<Stage> stages(n + 1);
  stages[n].entries.push_back({0, 0.0, 0.0, -1, -1});
  Best best;
  for (size_t j = n; j-- > 0;) {
    Consider(r, s, j, stages[j + 1], &best);
    if (j == 0) break;
    stages[j] = Extend(r, stages[j + 1], j, s);
  }

  Plan plan;
  if (best.first < 0 || best.value <= kEps) {
    plan = AllFrozen(r, s, "");
    FillMinimums(r, &plan);
    plan.note = NoTrainingNote(r, plan);
    return plan;
  }
  std::vector<int32_t> options(n, 0);
  const size_t f = static_cast<size_t>(best.first);
  options[f] = best.option;
  int32_t index = best.prev;
  for (size_t j = f + 1; j < n; ++j) {
    const Entry& e = stages[j].entries[static_cast<size_t>(index)];
    options[j] = e.option;
    index = e.prev;
  }
  plan = Assemble(r, s, options, best.first, best.q);
  FillMinimums(r, &plan);
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
          double value = gain * r.law.Saturation(static_cast<double>(q));
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

std::vector<double> PlanShares(const PlanRequest& r, const Plan& plan) {
  std::vector<double> shares;
  for (size_t i = 0; i < plan.blocks.size(); ++i) {
    shares.push_back(plan.blocks[i].in_backward_path ? r.blocks[i].options[plan.blocks[i].option_index].share : 0.0);
  }
  return shares;
}

std::string Plan::ToTable() const {
  std::string out = absl::StrFormat("%-18s %-12s %-9s %10s %12s %12s\n", "block", "option", "path", "gain (pt)",
                                    "memory", "ms/iter");
  for (const BlockDecision& d : blocks) {
    absl::StrAppendFormat(&out, "%-18s %-12s %-9s %10.2f %12s %12.3f\n", d.block, d.option,
                          d.in_backward_path ? "backward" : "no-grad", 100 * d.gain, FormatBytes(d.memory_bytes),
                          1000 * d.seconds);
  }
  absl::StrAppendFormat(&out, "\nmemory      %s of %s budget (%.0f%%)\n", FormatBytes(memory_bytes),
                        FormatBytes(memory_budget), memory_budget ? 100.0 * memory_bytes / memory_budget : 0.0);
  absl::StrAppendFormat(&out, "time        %d iterations × %.2f ms = %.1f s of a %.1f s window\n", iterations,
                        1000 * seconds_per_iteration, train_seconds, window_seconds);
  absl::StrAppendFormat(&out, "predicted   %.2f%% accuracy after retraining\n", 100 * predicted_accuracy);
  if (!note.empty()) absl::StrAppend(&out, "note        ", note, "\n");
  return out;
}

std::string Plan::ToJson() const {
  nlohmann::ordered_json j;
  j["feasible"] = feasible;
  j["first_trainable"] = first_trainable;
  j["iterations"] = iterations;
  j["predicted_accuracy"] = predicted_accuracy;
  j["memory_bytes"] = memory_bytes;
  j["memory_budget"] = memory_budget;
  j["seconds_per_iteration"] = seconds_per_iteration;
  j["train_seconds"] = train_seconds;
  j["window_seconds"] = window_seconds;
  j["min_memory_all_frozen"] = min_memory_all_frozen;
  j["min_memory_to_train"] = min_memory_to_train;
  j["note"] = note;
  j["blocks"] = nlohmann::ordered_json::array();
  for (const BlockDecision& d : blocks) {
    j["blocks"].push_back({{"block", d.block},
                           {"option", d.option},
                           {"in_backward_path", d.in_backward_path},
                           {"gain", d.gain},
                           {"memory_bytes", d.memory_bytes},
                           {"seconds", d.seconds}});
  }
  return j.dump(2);
}

}  // namespace bt
