// What the exact solver (planner.cc) and the enumerating planners (plan_enumerate.cc) share: request validation,
// the discretised costs of a request, and the assembly of a plan from per-block options. Private to common/plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/plan/planner.h"

namespace bt::plan_internal {

inline constexpr double kEps = 1e-12;

// A request's costs in memory buckets (rounded up, so that a plan within max_buckets never exceeds the budget),
// its per-option law terms and its iteration grid as time bounds and saturations.
struct Setup {
  uint64_t unit = 1;
  int64_t max_buckets = 0;                  // buckets available after fixed_bytes
  std::vector<int64_t> prefix_buckets;      // Σ_{i<j} bucket(prefix_bytes_i), size L+1
  std::vector<double> prefix_seconds;       // Σ_{i<j} prefix_seconds_i, size L+1
  std::vector<std::vector<int64_t>> option_buckets;
  std::vector<std::vector<double>> option_gain;  // w_k share^γ (before saturation)
  double max_time = 0;                      // loosest per-iteration bound: T / min q
  std::vector<double> time_bound;           // T / q for each grid entry
  std::vector<double> saturation;           // S(q) for each grid entry
};

int64_t Buckets(uint64_t bytes, uint64_t unit);
absl::Status Validate(const PlanRequest& r);
Setup Prepare(const PlanRequest& r);
// The plan that runs `options` (an index into each block's options) from block `first` on (-1: all frozen) for `q`
// iterations, with its predictions.
Plan Assemble(const PlanRequest& r, const Setup& s, const std::vector<int32_t>& options, int64_t first, int64_t q);
void FillMinimums(const PlanRequest& r, Plan* plan);
Plan AllFrozen(const PlanRequest& r, const Setup& s, const std::string& note);
Plan Infeasible(const PlanRequest& r, const Setup& s);
std::string NoTrainingNote(const PlanRequest& r, const Plan& plan);

}  // namespace bt::plan_internal
