// The exact solver (~370 lines, one algorithm): the memory buckets, the backward Pareto pass with its LP bounds and
// the beam that seeds it, plan reconstruction. What it shares with the enumerating planners (request validation, the
// discretised costs, plan assembly) is in plan_enumerate.cc behind planner_internal.h; the cost model's closed forms
// and the plan's text and JSON forms are in plan_costs.cc.
#include "common/plan/planner.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/plan/planner_internal.h"

namespace bt {

using namespace plan_internal;

namespace {

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

// The smallest law term X whose value G · (1 − exp(−X^ρ)) · S beats `value`; infinity if none can. Comparing X
// against it avoids evaluating the law for every candidate.
double Threshold(double value, double scale, double saturation, double rho) {
  const double ceiling = scale * saturation;
  if (!(value < ceiling)) return std::numeric_limits<double>::infinity();
  if (value <= 0) return 0.0;
  return std::pow(-std::log1p(-value / ceiling), 1.0 / rho);
}

// Upper bounds on the gain that blocks [0, j) can still add, for pruning. Relaxations: each block may
// independently be in prefix mode or take any option (the real rule, a contiguous frozen prefix, is stricter),
// one resource is ignored and the other is relaxed to its LP form (greedy over each block's upper convex hull of
// (cost, gain)). Both bounds are valid; the planner uses the smaller.
class PrefixBound {
 public:
  PrefixBound(const PlanRequest& r, const Setup& s) {
    const size_t n = r.blocks.size();
    for (int resource = 0; resource < 2; ++resource) {
      std::vector<Curve>& curves = resource == 0 ? memory_ : time_;
      std::vector<std::vector<Increment>> hulls(n);
      std::vector<double> base_cost(n), base_gain(n);
      for (size_t i = 0; i < n; ++i) {
        std::vector<std::pair<double, double>> points;  // (cost, gain)
        points.push_back({resource == 0 ? static_cast<double>(Buckets(r.blocks[i].prefix_bytes, s.unit))
                                        : r.blocks[i].prefix_seconds,
                          0.0});
        for (size_t o = 0; o < r.blocks[i].options.size(); ++o) {
          points.push_back({resource == 0 ? static_cast<double>(s.option_buckets[i][o]) : r.blocks[i].options[o].seconds,
                            s.option_gain[i][o]});
        }
        hulls[i] = Hull(&points, &base_cost[i], &base_gain[i]);
      }
      curves.resize(n + 1);
      for (size_t j = 0; j <= n; ++j) {
        Curve& c = curves[j];
        std::vector<Increment> all;
        for (size_t i = 0; i < j; ++i) {
          c.base_cost += base_cost[i];
          c.base_gain += base_gain[i];
          all.insert(all.end(), hulls[i].begin(), hulls[i].end());
        }
        std::sort(all.begin(), all.end(), [](const Increment& a, const Increment& b) {
          return a.gain * b.cost > b.gain * a.cost;  // by slope, steepest first
        });
        double cost = 0, gain = 0;
        for (const Increment& inc : all) {
          cost += inc.cost;
          gain += inc.gain;
          c.cost.push_back(cost);
          c.gain.push_back(gain);
        }
      }
    }
  }

  double Max(size_t j, double memory_buckets, double seconds) const {
    return std::min(Query(memory_[j], memory_buckets), Query(time_[j], seconds));
  }

 private:
  struct Increment {
    double cost, gain;
  };
  struct Curve {
    double base_cost = 0, base_gain = 0;
    std::vector<double> cost, gain;  // cumulative over increments sorted by slope
  };

  // Upper-left convex hull of the points from the cheapest one; returns its increments.
  static std::vector<Increment> Hull(std::vector<std::pair<double, double>>* points, double* base_cost,
                                     double* base_gain) {
    std::sort(points->begin(), points->end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<std::pair<double, double>> hull;
    for (const auto& p : *points) {
      if (!hull.empty() && p.second <= hull.back().second) continue;  // costs more, gains no more
      while (hull.size() >= 2) {
        const auto& a = hull[hull.size() - 2];
        const auto& b = hull.back();
        // Drop b if it lies on or below the segment a -> p.
        if ((b.second - a.second) * (p.first - a.first) <= (p.second - a.second) * (b.first - a.first)) {
          hull.pop_back();
        } else {
          break;
        }
      }
      hull.push_back(p);
    }
    *base_cost = hull.front().first;
    *base_gain = hull.front().second;
    std::vector<Increment> out;
    for (size_t k = 1; k < hull.size(); ++k) {
      out.push_back({hull[k].first - hull[k - 1].first, hull[k].second - hull[k - 1].second});
    }
    return out;
  }

  static double Query(const Curve& c, double budget) {
    const double available = budget - c.base_cost;
    if (available < -1e-9) return -std::numeric_limits<double>::infinity();
    size_t k = static_cast<size_t>(std::upper_bound(c.cost.begin(), c.cost.end(), available) - c.cost.begin());
    double gain = c.base_gain + (k > 0 ? c.gain[k - 1] : 0.0);
    if (k < c.cost.size()) {
      const double prev_cost = k > 0 ? c.cost[k - 1] : 0.0;
      const double inc_cost = c.cost[k] - prev_cost, inc_gain = c.gain[k] - (k > 0 ? c.gain[k - 1] : 0.0);
      if (inc_cost > 0) gain += inc_gain * (available - prev_cost) / inc_cost;
    }
    return gain;
  }

  std::vector<Curve> memory_, time_;
};

// Sorts and prunes dominated entries: kept entries form the 3-D Pareto frontier over (memory bucket, time, gain).
// Entries are visited by bucket, then time; a Fenwick tree over the compressed times answers "best gain of an
// already kept entry (same or lower bucket) with no more time".
void Prune(std::vector<Entry>* entries) {
  if (entries->size() <= 1) return;
  std::sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
    if (a.bucket != b.bucket) return a.bucket < b.bucket;
    if (a.time != b.time) return a.time < b.time;
    return a.gain > b.gain;
  });
  std::vector<double> times;
  times.reserve(entries->size());
  for (const Entry& e : *entries) times.push_back(e.time);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  std::vector<double> tree(times.size() + 1, -std::numeric_limits<double>::infinity());
  auto best_up_to = [&](size_t i) {  // max over positions [1, i]
    double best = -std::numeric_limits<double>::infinity();
    for (; i > 0; i -= i & (~i + 1)) best = std::max(best, tree[i]);
    return best;
  };
  auto raise = [&](size_t i, double gain) {
    for (; i < tree.size(); i += i & (~i + 1)) tree[i] = std::max(tree[i], gain);
  };
  std::vector<Entry> kept;
  kept.reserve(entries->size());
  for (const Entry& c : *entries) {
    const size_t position =
        static_cast<size_t>(std::lower_bound(times.begin(), times.end(), c.time) - times.begin()) + 1;
    if (best_up_to(position) >= c.gain - kEps) continue;  // dominated
    kept.push_back(c);
    raise(position, c.gain);
  }
  *entries = std::move(kept);
}

// Extends `next` (blocks j+1.. in the backward path) with every option of block j, keeping the Pareto frontier
// over (memory bucket, time, gain).
// `bound`/`incumbent`: drop entries that cannot beat the incumbent value. `beam` > 0 keeps only that many
// entries (highest gain first): a fast heuristic pass whose plan seeds the incumbent.
Stage Extend(const PlanRequest& r, const Stage& next, size_t j, const Setup& s, const PrefixBound& bound,
             double incumbent, size_t beam) {
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
  // Upper bound of the best plan each entry can still lead to (over every q), for pruning and for the beam.
  // The exact pass only needs "can it beat the incumbent", which compares law terms against thresholds.
  std::vector<double> threshold(s.time_bound.size());
  for (size_t g = 0; g < threshold.size(); ++g) {
    threshold[g] = Threshold(incumbent + kEps, r.law.max_gain, s.saturation[g], r.law.rho);
  }
  std::vector<std::pair<double, size_t>> scored;
  scored.reserve(candidates.size());
  for (size_t k = 0; k < candidates.size(); ++k) {
    const Entry& c = candidates[k];
    const double memory_left = static_cast<double>(s.max_buckets - c.bucket);
    double upper = -1;
    for (size_t g = 0; g < s.time_bound.size(); ++g) {
      const double time_left = s.time_bound[g] - c.time;
      if (time_left < 0) continue;
      const double extra = bound.Max(j, memory_left, time_left);
      if (!std::isfinite(extra) || c.gain + extra <= threshold[g]) continue;
      if (beam == 0) {
        upper = incumbent + 1;  // it survives; the exact value is only needed by the beam
        break;
      }
      upper = std::max(upper, r.law.GainAtSaturation(c.gain + extra, s.saturation[g]));
    }
    if (upper > incumbent + kEps) scored.push_back({upper, k});
  }
  if (beam > 0 && scored.size() > beam) {
    std::nth_element(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(beam), scored.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    scored.resize(beam);
  }
  if (scored.size() != candidates.size()) {
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    std::vector<Entry> kept;
    kept.reserve(scored.size());
    for (const auto& [upper, k] : scored) kept.push_back(candidates[k]);
    candidates = std::move(kept);
  }
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
  const size_t grid = s.time_bound.size();
  std::vector<double> threshold(grid);
  auto refresh = [&] {
    for (size_t g = 0; g < grid; ++g) {
      threshold[g] = Threshold(best->value + kEps, r.law.max_gain, s.saturation[g], r.law.rho);
    }
  };
  refresh();
  for (size_t e = 0; e < after.entries.size(); ++e) {
    const Entry& base = after.entries[e];
    for (size_t o = 1; o < r.blocks[j].options.size(); ++o) {
      if (!r.blocks[j].options[o].trainable) continue;
      const int64_t buckets = base.bucket + s.option_buckets[j][o];
      if (buckets > bucket_limit) continue;
      const double time = s.prefix_seconds[j] + base.time + r.blocks[j].options[o].seconds;
      const double gain = base.gain + s.option_gain[j][o];
      for (size_t g = 0; g < grid; ++g) {
        if (time > s.time_bound[g] * (1 + 1e-12) || gain <= threshold[g]) continue;
        const double value = r.law.GainAtSaturation(gain, s.saturation[g]);
        if (value > best->value + kEps) {
          *best = {value, static_cast<int64_t>(j), r.iteration_grid[g], static_cast<int32_t>(o),
                   static_cast<int32_t>(e), buckets + s.prefix_buckets[j], time};
          refresh();
        }
      }
    }
  }
}
}  // namespace

namespace {

struct SearchResult {
  Best best;
  std::vector<int32_t> options;
};

// One backward pass: stages[j] holds the Pareto frontier of blocks j..n-1 in the backward path; every choice of
// the first trainable block is considered on the way. Entries that cannot beat `incumbent` are pruned.
SearchResult Search(const PlanRequest& r, const Setup& s, const PrefixBound& bound, double incumbent, size_t beam) {
  const size_t n = r.blocks.size();
  std::vector<Stage> stages(n + 1);
  stages[n].entries.push_back({0, 0.0, 0.0, -1, -1});
  SearchResult result;
  result.best.value = incumbent;
  for (size_t j = n; j-- > 0;) {
    Consider(r, s, j, stages[j + 1], &result.best);
    if (j == 0) break;
    stages[j] = Extend(r, stages[j + 1], j, s, bound, result.best.value, beam);
  }
  if (result.best.first < 0) return result;
  result.options.assign(n, 0);
  const size_t f = static_cast<size_t>(result.best.first);
  result.options[f] = result.best.option;
  int32_t index = result.best.prev;
  for (size_t j = f + 1; j < n; ++j) {
    const Entry& e = stages[j].entries[static_cast<size_t>(index)];
    result.options[j] = e.option;
    index = e.prev;
  }
  return result;
}

}  // namespace

absl::StatusOr<Plan> SolvePlan(const PlanRequest& r) {
  RETURN_IF_ERROR(Validate(r));
  const Setup s = Prepare(r);
  const size_t n = r.blocks.size();
  if (s.max_buckets < 0 || s.prefix_buckets[n] > s.max_buckets) return Infeasible(r, s);

  const PrefixBound bound(r, s);
  // A narrow beam finds a good feasible plan quickly; the exact pass then only keeps entries whose upper bound
  // beats it. The exact pass alone decides optimality: the beam only speeds it up.
  constexpr size_t kBeam = 256;
  SearchResult seed = Search(r, s, bound, 0.0, kBeam);
  SearchResult exact = Search(r, s, bound, seed.best.first >= 0 ? seed.best.value : 0.0, 0);
  const SearchResult& winner = exact.best.first >= 0 ? exact : seed;

  Plan plan;
  if (winner.best.first < 0 || winner.best.value <= kEps) {
    plan = AllFrozen(r, s, "");
    FillMinimums(r, &plan);
    plan.note = NoTrainingNote(r, plan);
    return plan;
  }
  plan = Assemble(r, s, winner.options, winner.best.first, winner.best.q);
  FillMinimums(r, &plan);
  return plan;
}

}  // namespace bt
