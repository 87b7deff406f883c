// The scoreboard's report: per method and window what was planned, measured and predicted; written as
// results.json, results.md (with the in-process vs daemons comparison when both ran) and accuracy.png (gnuplot),
// and printed as markdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct WindowRecord {
  std::string domain;
  double accuracy_before = 0, accuracy_after = 0, predicted_accuracy = 0;
  int64_t peak_memory_bytes = 0;
  uint64_t predicted_memory_bytes = 0;
  double train_seconds = 0, predicted_train_seconds = 0, probe_seconds = 0;
  int64_t iterations = 0;
  // The plan's own iterations, where the training went on past them (a run faster than predicted, with window time
  // left); 0 otherwise. `predicted_accuracy` is the law's for the plan's iterations, `predicted_train_seconds` the
  // plan's time per iteration over the iterations run.
  int64_t planned_iterations = 0;
  uint64_t bytes_down = 0, bytes_up = 0;
  std::string plan = "-";
  std::string race;  // the window's race (blocktrainer), when it raced
  std::string start;  // the window's start choice (blocktrainer), when it had candidates
  std::string note;
  bool label_free = false;
  double wall_seconds = 0;  // the whole window: probes, planning, (pulls,) training, evaluation
  // The window's own held-out slice (the scale the law predicts on): the trained model's score there, as the engine
  // read it (its best checkpoint); -1 when nothing trained.
  double slice_accuracy_after = -1;
  int64_t slice_outputs = 0;  // how many outputs that slice scores (0: not known)
  // A window that started from another version than the deployed one (blocktrainer's zoo): that start's accuracy
  // on the domain's held-out samples before training (`accuracy_before` is the deployed model's); -1 otherwise.
  double start_accuracy = -1;
  // bt-bench --curves: every held-out evaluation of the window's training run (after the race), in order.
  struct Evaluation {
    int64_t iteration = 0;
    double slice_accuracy = 0, slice_loss = 0;
    std::string slice_hits;  // "0110…": per slice image, right or not
    double set_accuracy = 0;  // the same model on the domain's held-out samples
  };
  std::vector<Evaluation> curve;
  // Through the daemons only.
  uint64_t version = 0;             // the cloud's version after the window
};

struct MethodResult {
  std::string name;
  std::vector<WindowRecord> windows;
};

struct ReportInfo {
  std::string scenario, model_path;
  uint64_t budget_bytes = 0;
  std::string budget_text;  // as given: "35%" or a size
  std::chrono::milliseconds window{0};
  uint64_t seed = 1;
  double labeled_fraction = -1;
  int probe_runs = 0;
  int64_t race_iterations = 0;
  bool via_daemons = false;
};

// A method's mean accuracy after its windows.
double MeanAccuracyAfter(const MethodResult& method);

// Renders `plot` (gnuplot commands after the terminal and output lines) to DIR/STEM.png with gnuplot (gnuplot-nox);
// the script stays beside it as DIR/STEM.gp.
absl::Status RenderPng(const std::string& dir, const std::string& stem, const std::string& plot);

// Prints the markdown; with `out_dir` also writes results.json, results.md and accuracy.png there.
absl::Status WriteReport(const ReportInfo& info, const std::vector<MethodResult>& methods, const std::string& out_dir);

}  // namespace bt
