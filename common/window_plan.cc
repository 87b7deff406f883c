#include "common/window_plan.h"

#include <algorithm>

namespace bt {

LawParams GenericPrior(size_t blocks, double acc0) {
  LawParams law;
  law.acc0 = acc0;
  law.max_gain = 0.6 * (1.0 - acc0);
  law.weights.assign(blocks, 0.5);
  law.gamma = 0.5;
  law.tau = 100;
  law.alpha = 1.0;
  law.rho = 0.6;  // how block gains combined on the fogged camera (bt-bench-law)
  return law;
}

absl::StatusOr<WindowPlan> PlanFromProbes(const ProbeReport& report, const LawParams* prior,
                                          const WindowPlanRequest& request) {
  const size_t blocks = report.costs.size();
  if (blocks == 0) return absl::InvalidArgumentError("the probe report has no block costs");
  if (request.iteration_grid.empty()) return absl::InvalidArgumentError("empty iteration grid");
  LawParams start = prior != nullptr && prior->weights.size() == blocks ? *prior : GenericPrior(blocks, report.acc0);
  start.acc0 = report.acc0;  // accuracy before retraining is measured afresh every window
  start.max_gain = std::min(start.max_gain, std::max(1e-6, 1.0 - report.acc0));
  WindowPlan out;
  if (report.points.empty()) {
    out.law = start;
  } else {
    ASSIGN_OR_RETURN(LawFit fit, FitLaw(report.points, start));
    out.law = fit.params;
    out.law_rmse = fit.rmse;
    out.law_fitted = true;
  }
  PlanRequest plan_request;
  plan_request.blocks = report.costs;
  plan_request.law = out.law;
  plan_request.memory_budget = request.memory_budget;
  plan_request.fixed_bytes = report.fixed_bytes;
  plan_request.window_seconds = request.train_seconds;
  plan_request.iteration_grid = request.iteration_grid;
  ASSIGN_OR_RETURN(out.plan, SolvePlan(plan_request));
  return out;
}

}  // namespace bt
