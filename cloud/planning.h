// The cloud's planning step for one window of one edge (what ReportProbes does): check the edge's probe report
// against the model (one cost profile per block, by name and in order), fit the edge's law with its previous law as
// the prior (PlanFromProbes, common/plan/window_plan.h), solve the block selection under the edge's memory budget and the
// window time the edge has left, store the new law, the report and the plan (so the push can be checked against
// it), and answer with the plan and the base version's digest of every block. A report that fails a check stores
// nothing. Thread-safe (the registry and the law store are).
#pragma once

#include <atomic>
#include <string>

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "cloud/cloud_context.h"
#include "common/base/status.h"

namespace bt {

class Planning {
 public:
  // Plan ids are <edge>-<seconds>-<instance>-<n>: `instance` is drawn at random for each Planning object (each
  // start of the daemon), so a restart within the same second never reuses an id.
  explicit Planning(const CloudContext* context);

  // `edge`: the authenticated edge. FAILED_PRECONDITION when the edge's base version is not its branch head (a
  // rollback moved it: the edge re-registers); INVALID_ARGUMENT for a report that does not fit the model.
  absl::StatusOr<blocktrainer::v1::PlanResponse> Plan(const std::string& edge,
                                                      const blocktrainer::v1::ReportProbesRequest& request);

 private:
  const CloudContext* ctx_;
  std::string instance_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace bt
