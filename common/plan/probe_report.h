// What an edge measures at the start of a window and reports to the cloud, which fits the law and plans from it
// (DESIGN.md §2, step 2): the deployed model's accuracy on recent data, short retraining curves, per-block costs on
// this hardware, drift statistics of its features, and a label-free accuracy estimate. Plain values, torch-free;
// JSON here, the protobuf message in proto/blocktrainer/v1 carries the same fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/plan/planner.h"
#include "common/plan/retraining_law.h"
#include "common/base/status.h"

namespace bt {

// Statistics of the deployed model's penultimate features (the class token entering the head) on the data it was
// trained for, shipped with the model: the reference the edge's drift statistics and label-free estimate use.
struct SourceStats {
  std::vector<double> mean;        // D
  std::vector<double> covariance;  // D × D, row-major
  double accuracy = 0;             // on the clean reference samples
  double confidence_threshold = 0; // ATC: the share of samples with top softmax ≥ this equals `accuracy`
  int64_t samples = 0;
  std::string ToJson() const;
  static absl::StatusOr<SourceStats> FromJson(const std::string& json, const std::string& source);
};

// How far this edge's features moved from the source (scale-free; 0 = no drift).
struct DriftStats {
  double mean_shift = 0;        // ‖μ_edge − μ_src‖ / sqrt(tr Σ_src)
  double covariance_shift = 0;  // ‖Σ_edge − Σ_src‖_F / ‖Σ_src‖_F
  double mean_confidence = 0;   // mean top softmax probability
  double estimated_accuracy = 0;  // ATC: share of samples whose confidence clears the source threshold
  int64_t samples = 0;
};

struct ProbeReport {
  double acc0 = 0;                       // deployed model on the labeled probe slice (0 if no labels)
  int64_t labeled_samples = 0;
  int64_t unlabeled_samples = 0;
  DriftStats drift;
  std::vector<ProbePoint> points;        // retraining curves (shares, iterations, accuracy)
  std::vector<BlockProfile> costs;       // per block and option, measured on this hardware
  uint64_t fixed_bytes = 0;              // paid by every plan: input batch, logits, largest block working memory
  uint64_t output_bytes = 0;             // part of fixed_bytes: the logits and their gradient at the full batch; a
                                         // plan in chunks holds one chunk's share (a decoder's logits are large)
  int64_t batch = 64;
  int curve_runs = 0;
  bool budget_exhausted = false;         // the probe budget cut some planned curves
  double seconds = 0;                    // spent probing
  std::string ToJson() const;
  static absl::StatusOr<ProbeReport> FromJson(const std::string& json, const std::string& source);
};

}  // namespace bt
