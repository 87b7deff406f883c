// Each edge's fitted retraining law, kept on the cloud between windows: the next window's fit starts from, and is
// pulled toward, the edge's previous one (its prior). One JSON file per edge under <dir>/<edge id>/law.json,
// written atomically. Thread-compatible (one writer per edge; the daemon serialises windows per edge).
#pragma once

#include <string>
#include <vector>

#include "common/plan/retraining_law.h"
#include "common/base/status.h"

namespace bt {

class LawStore {
 public:
  explicit LawStore(std::string dir) : dir_(std::move(dir)) {}

  // The edge's last fitted law, or NotFound if it has none yet.
  absl::StatusOr<LawParams> Load(const std::string& edge_id) const;
  absl::Status Save(const std::string& edge_id, const LawParams& law) const;
  // The edge's last probe report (JSON, common/plan/probe_report.h), for dry-run plans (`bt-cloud plan --edge`).
  absl::Status SaveProbes(const std::string& edge_id, const std::string& report_json) const;
  absl::StatusOr<std::string> LoadProbes(const std::string& edge_id) const;

  // Fits the law for this window's probe points with the edge's previous fit as the prior (or `fallback` for a
  // new edge), keeping the measured `acc0`, and stores the result.
  absl::StatusOr<LawFit> FitAndStore(const std::string& edge_id, const std::vector<ProbePoint>& points, double acc0,
                                     const LawParams& fallback, const LawFitOptions& options = {}) const;

 private:
  absl::StatusOr<std::string> PathFor(const std::string& edge_id) const;
  std::string dir_;
};

}  // namespace bt
