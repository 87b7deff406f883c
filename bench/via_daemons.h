// `bt-bench --via-daemons`: the blocktrainer method once more, through the real daemons. bt-cloud and bt-edge run as
// child processes on loopback (free ports, state and logs under the work directory), the edge's simulated camera
// delivers one domain per window (simulator.advance: per_window), and each window is opened over the edge's admin
// API as `bt-edge retrain --now` does. After each window the cloud's new version of the edge is exported
// (`bt-cloud export`) and evaluated on the domain's held-out set — the set the in-process methods are measured on —
// so the cloud's merged model is what gets scored. The edge's own numbers (plan, memory, iterations, bytes on the
// wire) come from its results.jsonl. Both daemons are stopped with SIGTERM at the end (or on any error).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/model/block_model.h"
#include "common/base/cancel.h"
#include "common/base/status.h"

namespace bt {

struct DaemonRunOptions {
  std::string scenario_path;
  std::string model_path;
  std::string dataset_dir;
  std::string work_dir;          // emptied and reused: <work_dir>/{cloud,edge}, *.yaml, *.log, exported versions
  std::string bin_dir;           // where bt-cloud and bt-edge are (empty: next to this executable)
  uint64_t memory_budget = 0;    // the edge's memory_budget, bytes
  std::chrono::milliseconds window{120'000};
  int probe_runs = 0;            // the edge's retrain.probe_runs
  int64_t race_iterations = 0;   // the edge's retrain.race_iterations
  uint64_t seed = 1;             // the edge's retrain.seed: window n uses seed + n, as bt-bench does
  size_t windows = 0;            // windows to run (one domain each)
  int64_t samples = 1400;        // the edge's retrain.samples: a window trains on the newest domain's samples
};

struct DaemonWindowResult {
  std::string domain;
  std::string outcome;               // the edge's: "deployed", "kept the deployed model (...)", "failed: ..."
  std::string plan = "-";
  double accuracy_before = 0;        // the cloud's previous version on the domain's held-out set
  double accuracy_after = 0;         // the cloud's new version (exported) on the same set
  double edge_accuracy_before = 0;   // the edge's own held-out slice of the window's samples
  double edge_accuracy_after = 0;
  double predicted_accuracy = 0;
  int64_t peak_memory_bytes = 0;
  uint64_t predicted_memory_bytes = 0;
  double train_seconds = 0;
  int64_t iterations = 0;
  uint64_t bytes_down = 0;           // blocks pulled from the cloud, bytes on the wire
  uint64_t bytes_up = 0;             // the pushed update, bytes on the wire
  uint64_t version = 0;              // the cloud's version after the window (0: nothing new)
  double window_seconds = 0;         // wall clock, from asking for the window to its result
};

// `evaluate(w, model)`: accuracy of `model` on window w's domain held-out set.
using WindowEvaluator = std::function<absl::StatusOr<double>(size_t, BlockModel&)>;

absl::StatusOr<std::vector<DaemonWindowResult>> RunThroughDaemons(const DaemonRunOptions& options,
                                                                  const WindowEvaluator& evaluate,
                                                                  const CancelToken* cancel);

}  // namespace bt
