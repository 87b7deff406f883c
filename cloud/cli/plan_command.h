// `bt-cloud plan`: a dry-run plan for a model under a memory budget and a window, printed as a table or JSON.
// Until an edge has reported probes, costs come from the analytic profile and the law from a prior (or a file of
// fitted parameters); the output says which.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

struct PlanCommandOptions {
  std::string model_path;
  std::string memory_budget = "8MiB";
  std::string window = "5m";
  int64_t batch = 64;
  std::vector<double> sparsities = {0.25, 0.5, 0.75};
  std::vector<int64_t> iterations = {25, 50, 100, 200, 400, 800, 1600, 3200, 6400};
  std::string law_path;        // JSON LawParams; empty = prior
  std::string profile_path;    // JSON block profiles measured by `bt-edge probe-costs`; empty = analytic
  double acc0 = 0.5;           // accuracy before retraining, for the prior
  double gflops = 25;          // assumed edge throughput for the analytic profile
  int64_t sequence = 0;        // decoders: tokens per sample (0 = the model's max_position_embeddings)
  bool json = false;
};

absl::Status RunPlanCommand(const PlanCommandOptions& options);

// `bt-cloud plan --edge X`: the plan the cloud would make now from the edge's last probe report and fitted law.
absl::Status RunPlanForEdgeCommand(const CloudConfig& config, const std::string& edge, bool json);

// `bt-cloud manifest`: the block manifest (names, shapes, sizes, digests) of the configured model or `model`.
absl::Status RunManifestCommand(const CloudConfig& config, const std::string& model, bool json);

}  // namespace bt
