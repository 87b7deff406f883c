#include "cloud/planning.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/wire/wire.h"

namespace bt {

namespace v1 = blocktrainer::v1;

Planning::Planning(const CloudContext* context) : ctx_(context) {
  std::random_device random;
  instance_ = absl::StrFormat("%08x", random());
}

absl::StatusOr<v1::PlanResponse> Planning::Plan(const std::string& edge, const v1::ReportProbesRequest& request) {
  ASSIGN_OR_RETURN(EdgeRecord record, ctx_->registry->GetEdge(edge));
  ASSIGN_OR_RETURN(VersionRecord head, ctx_->registry->Head(edge));
  if (request.serving_version() != head.version) {
    return absl::FailedPreconditionError(absl::StrCat("edge '", edge, "' serves version ", request.serving_version(),
                                                      " but its branch is at ", head.version, "; re-register"));
  }
  // The window may start from an older version of the branch (the version zoo): its blocks are the plan's base.
  VersionRecord base = head;
  if (request.base_version() != head.version) {
    auto older = ctx_->registry->GetVersion(edge, request.base_version());
    if (absl::IsNotFound(older.status())) {
      return absl::InvalidArgumentError(absl::StrCat("base_version: edge '", edge, "' has no version ",
                                                     request.base_version()));
    }
    if (!older.ok()) return older.status();
    base = *older;
  }
  if (request.window_id().size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("window_id: ", request.window_id().size(), " bytes, at most ",
                                                   kMaxIdBytes));
  }
  auto report = ProbeReportFromProto(request.probes());
  if (!report.ok()) return Annotate(report.status(), absl::StrCat("edge '", edge, "'"));
  const std::vector<BlockEntry>& blocks = ctx_->model->manifest().blocks;
  if (report->costs.size() != blocks.size()) {
    return absl::InvalidArgumentError(absl::StrCat("probe report has costs for ", report->costs.size(),
                                                   " blocks, the model has ", blocks.size()));
  }
  for (size_t k = 0; k < report->costs.size(); ++k) {
    if (report->costs[k].name != blocks[k].name) {
      return absl::InvalidArgumentError(absl::StrCat("probe report: block ", k, " is '", report->costs[k].name,
                                                     "', the model's is '", blocks[k].name, "'"));
    }
  }
  auto prior = ctx_->laws->Load(edge);
  if (!prior.ok() && !absl::IsNotFound(prior.status())) return prior.status();
  WindowPlanRequest plan_request;
  plan_request.memory_budget = record.memory_budget;
  plan_request.train_seconds = std::max(0.0, request.train_seconds());
  plan_request.iteration_grid = ctx_->iteration_grid;
  ASSIGN_OR_RETURN(WindowPlan wp, PlanFromProbes(*report, prior.ok() ? &*prior : nullptr, plan_request));

  PlanRecord plan;
  plan.plan_id = absl::StrCat(edge, "-", NowSeconds(ctx_), "-", instance_, "-", ++counter_);
  plan.edge_id = edge;
  plan.window_id = request.window_id();
  plan.base_version = base.version;
  plan.head_version = head.version;
  plan.plan_json = wp.plan.ToJson();
  plan.predicted_accuracy = wp.plan.predicted_accuracy;
  plan.created = NowSeconds(ctx_);
  v1::PlanResponse response;
  PlanToProto(wp.plan, &response);
  AlternativesToProto(wp.alternatives, &response);
  response.set_plan_id(plan.plan_id);
  response.set_base_version(base.version);
  response.set_note(absl::StrCat(wp.law_fitted ? absl::StrFormat("law fitted on %d probe points (rmse %.3f)",
                                                                 report->points.size(), wp.law_rmse)
                                               : std::string("no retraining curves: the edge's previous law"),
                                 wp.plan.note.empty() ? "" : "; ", wp.plan.note));
  // What the edge may push for this plan: the blocks the plan or any of its race alternatives trains (the edge
  // trains the race's winner).
  for (size_t k = 0; k < wp.plan.blocks.size(); ++k) {
    response.mutable_blocks(static_cast<int>(k))->set_digest(base.blocks[k].second);
    bool trains = wp.plan.blocks[k].form.trains();
    for (const auto& alternative : wp.alternatives) trains |= alternative.blocks[k].form.trains();
    if (trains) plan.trainable_blocks.push_back(wp.plan.blocks[k].block);
  }
  RETURN_IF_ERROR(ctx_->laws->Save(edge, wp.law));
  RETURN_IF_ERROR(ctx_->laws->SaveProbes(edge, report->ToJson()));
  RETURN_IF_ERROR(ctx_->registry->SavePlan(plan));
  spdlog::info("edge '{}' window '{}': plan {} trains [{}] for {} iterations, predicted {:.1f}% (acc0 {:.1f}%)", edge,
               plan.window_id, plan.plan_id, absl::StrJoin(plan.trainable_blocks, ", "), wp.plan.iterations,
               100 * wp.plan.predicted_accuracy, 100 * report->acc0);
  return response;
}

}  // namespace bt
