// `bt-bench`: runs a drift scenario's windows with each retraining method in-process — the same probe, plan and
// retraining code the daemons run — at one memory budget and window length, and writes results.json,
// results.md and accuracy.png. Every method starts from the same deployed model and keeps its own model across
// windows; accuracy is measured on each domain's held-out samples before and after that window's retraining.
#pragma once

#include <string>
#include <vector>

#include "common/base/cancel.h"
#include "common/base/status.h"

namespace bt {

struct ScoreboardOptions {
  std::string scenario_path;
  std::string model_path;
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  std::string memory_budget = "35%";   // a size, or a percentage of full fine-tuning's predicted peak
  std::string window = "2m";
  std::vector<std::string> methods = {"none", "blocktrainer", "full"};
  std::string out_dir;
  uint64_t seed = 1;
  int64_t max_windows = 0;             // 0 = every window of the scenario
  int64_t max_iterations = 400;        // upper end of the iteration grid, for every method
  double labeled_fraction = -1;        // in [0, 1]: overrides every domain's labeled_fraction (0 = label-free)
  int probe_runs = 0;                  // 0: curve runs fit into 10% of the window; N: exactly N (reproducible)
  int64_t race_iterations = 0;         // 0: the race's first round fits half the training time; N: exactly N
  bool via_daemons = false;            // also run blocktrainer through bt-cloud and bt-edge (bench/via_daemons.h)
  bool curves = false;                 // record each training run's evaluations (WindowRecord::curve)
};

// Method names the benchmark knows.
const std::vector<std::string>& KnownMethods();

struct MethodResult;

// `results` (optional) receives every method's windows as reported.
absl::Status RunScoreboard(const ScoreboardOptions& options, const CancelToken* cancel,
                           std::vector<MethodResult>* results = nullptr);

// `--memory-budget 10%,15%,25%`: the scoreboard at each budget (each into OUT/<budget>/), then a sweep table and
// plot (OUT/sweep.md, sweep.json, sweep.png: each method's mean gain over none against the budget).
absl::Status RunSweep(const ScoreboardOptions& options, const std::vector<std::string>& budgets,
                      const CancelToken* cancel);

}  // namespace bt
