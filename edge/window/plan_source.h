// Where a window's plan comes from. The window pipeline (edge/window/window_runner.h) asks a PlanSource for a plan once
// the probes are done and, before training, for the blocks the plan needs; it does not know which source it has:
//
//  - RemotePlanSource: the cloud (ReportProbes, then PullBlocks for blocks the edge does not hold) — what
//    `bt-edge serve` runs;
//  - LocalPlanner: the same law fit and solver (PlanFromProbes) in-process, keeping the previous window's law as
//    the next prior as the cloud does per edge — what `bt-bench` runs for blocktrainer;
//  - the benchmark's baselines (bench/baselines.h), which choose blocks their own way.
//
// Torch-free. Not thread-safe: one window at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/plan/planner.h"
#include "common/plan/probe_report.h"
#include "common/plan/retraining_law.h"
#include "common/base/status.h"
#include "common/plan/window_plan.h"

namespace bt {

// What the window asks for a plan with.
struct PlanQuery {
  const ProbeReport* report = nullptr;
  uint64_t memory_budget = 0;   // the edge's, bytes
  double train_seconds = 0;     // window time left for training iterations
  std::vector<std::string> block_names;  // the model's blocks, forward order
  std::string window_id;
  uint64_t base_version = 0;    // the version the window starts from
  uint64_t serving_version = 0;  // the version the edge serves (the branch head unless an update is unsent)
};

struct PlannedWindow {
  Plan plan;                         // per-block options, iterations, chunk size, predictions, note
  std::string plan_id;               // the cloud's name for it (remote); empty in-process
  std::vector<std::string> digests;  // remote: each block's digest in the base version, forward order
  std::vector<Plan> alternatives;    // raced against `plan` before training (edge/window/plan_race.h); empty: none
};

// Which probes a source plans from: baselines need only the block costs; LoRA baselines need LoRA forms costed.
struct ProbeNeeds {
  bool curves = true;
  bool lora_forms = false;
};

class PlanSource {
 public:
  virtual ~PlanSource() = default;
  virtual ProbeNeeds needs() const { return {}; }
  virtual absl::StatusOr<PlannedWindow> PlanWindow(const PlanQuery& query) = 0;
  // Makes every block of the plan available locally; returns the bytes moved (in-process sources hold all).
  virtual absl::StatusOr<uint64_t> FetchBlocks(const PlannedWindow& planned) { return 0; }
};

// The planner in-process: PlanFromProbes with this source's previous law as the prior.
class LocalPlanner final : public PlanSource {
 public:
  // `race`: hand the window the law's alternatives to race (as the cloud does); false: the law's plan alone.
  explicit LocalPlanner(std::vector<int64_t> iteration_grid = IterationGrid(), bool race = true)
      : grid_(std::move(iteration_grid)), race_(race) {}
  absl::StatusOr<PlannedWindow> PlanWindow(const PlanQuery& query) override;
  const LawParams* law() const { return has_law_ ? &law_ : nullptr; }

 private:
  std::vector<int64_t> grid_;
  bool race_;
  LawParams law_;
  bool has_law_ = false;
};

// The cloud as a plan source, over two calls a transport provides (the edge's CloudClient; a fake in tests).
class RemotePlanSource final : public PlanSource {
 public:
  struct Transport {
    std::function<absl::StatusOr<blocktrainer::v1::PlanResponse>(const blocktrainer::v1::ReportProbesRequest&)>
        report_probes;
    // Pulls the digests the edge does not hold yet; returns the bytes received.
    std::function<absl::StatusOr<uint64_t>(const std::vector<std::string>& digests)> pull_blocks;
  };
  RemotePlanSource(std::string edge_id, int64_t batch, Transport transport)
      : edge_id_(std::move(edge_id)), batch_(batch), transport_(std::move(transport)) {}
  absl::StatusOr<PlannedWindow> PlanWindow(const PlanQuery& query) override;
  absl::StatusOr<uint64_t> FetchBlocks(const PlannedWindow& planned) override;

 private:
  std::string edge_id_;
  int64_t batch_;
  Transport transport_;
};

}  // namespace bt
