#include "edge/window/plan_source.h"

#include "absl/strings/str_cat.h"
#include "common/wire/wire.h"

namespace bt {

namespace v1 = blocktrainer::v1;

absl::StatusOr<PlannedWindow> LocalPlanner::PlanWindow(const PlanQuery& query) {
  WindowPlanRequest request;
  request.memory_budget = query.memory_budget;
  request.train_seconds = query.train_seconds;
  request.iteration_grid = grid_;
  ASSIGN_OR_RETURN(WindowPlan wp, PlanFromProbes(*query.report, law(), request));
  law_ = wp.law;
  has_law_ = true;
  PlannedWindow out;
  out.plan = std::move(wp.plan);
  if (race_) out.alternatives = std::move(wp.alternatives);
  return out;
}

absl::StatusOr<PlannedWindow> RemotePlanSource::PlanWindow(const PlanQuery& query) {
  v1::ReportProbesRequest request;
  request.set_edge_id(edge_id_);
  request.set_window_id(query.window_id);
  request.set_base_version(query.base_version);
  request.set_serving_version(query.serving_version);
  ProbeReportToProto(*query.report, request.mutable_probes());
  request.set_train_seconds(query.train_seconds);
  ASSIGN_OR_RETURN(v1::PlanResponse response, transport_.report_probes(request));
  PlannedWindow out;
  auto plan = PlanFromProto(response, query.block_names, batch_);
  if (!plan.ok()) return Annotate(plan.status(), "from the cloud");
  out.plan = std::move(*plan);
  out.plan.memory_budget = query.memory_budget;
  auto alternatives = AlternativesFromProto(response, query.block_names, batch_);
  if (!alternatives.ok()) return Annotate(alternatives.status(), "from the cloud");
  out.alternatives = std::move(*alternatives);
  for (Plan& a : out.alternatives) a.memory_budget = query.memory_budget;
  out.plan_id = response.plan_id();
  for (const v1::PlannedBlock& b : response.blocks()) out.digests.push_back(b.digest());
  return out;
}

absl::StatusOr<uint64_t> RemotePlanSource::FetchBlocks(const PlannedWindow& planned) {
  return transport_.pull_blocks(planned.digests);
}

}  // namespace bt
