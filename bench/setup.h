// What every bt-bench run loads once, for the scoreboard and the oracle alike: the scenario's windows as an edge's
// buffer gives them back, the deployed model every method starts from, its source statistics, each domain's
// held-out set, and the window's budget (a percentage resolved against full fine-tuning's predicted peak).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/scoreboard.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "common/model/block_model.h"
#include "common/train/feature_stats.h"
#include "edge/window/window_runner.h"

namespace bt {

struct BenchSetup {
  Scenario scenario;
  std::unique_ptr<BlockModel> foundation;
  SourceStats source;              // image scenarios; a text scenario has none (source() is null)
  const SourceStats* source_or_null() const { return scenario.text() ? nullptr : &source; }
  ScenarioData data;
  size_t windows = 0;              // how many of data.windows run (--max-windows)
  WindowBudget budget;             // memory budget in bytes, window, probe runs
  std::vector<int64_t> grid;       // iteration grid (--max-iterations)
};

absl::StatusOr<BenchSetup> LoadBench(const ScoreboardOptions& options);

// Window `w`'s samples exactly as an edge's buffer holds them (8-bit images; --via-daemons feeds the same stream).
WindowSamples BenchWindowSamples(const BenchSetup& setup, size_t w);

}  // namespace bt
