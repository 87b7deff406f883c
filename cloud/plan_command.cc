#include "cloud/plan_command.h"

#include <cstdio>

#include "cloud/model_store.h"
#include "common/block_profile.h"
#include "common/file_util.h"
#include "common/planner.h"
#include "common/units.h"
#include "common/window_plan.h"
#include "nlohmann/json.hpp"

namespace bt {

absl::Status RunPlanCommand(const PlanCommandOptions& o) {
  ASSIGN_OR_RETURN(auto store, ModelStore::Open(o.model_path, "model"));
  auto budget = ParseSize(o.memory_budget);
  if (!budget.ok()) return Annotate(budget.status(), "--memory-budget");
  auto window = ParseDuration(o.window);
  if (!window.ok()) return Annotate(window.status(), "--window");
  if (o.batch < 1) return absl::InvalidArgumentError("--batch must be at least 1");
  if (!(o.gflops > 0)) return absl::InvalidArgumentError("--gflops must be positive");
  for (double s : o.sparsities) {
    if (!(s > 0 && s < 1)) return absl::InvalidArgumentError(absl::StrCat("--sparsities: ", s, " is not in (0, 1)"));
  }

  ProfileOptions profile_options;
  profile_options.batch = o.batch;
  profile_options.sparsities = o.sparsities;
  profile_options.flops_per_second = o.gflops * 1e9;
  PlanRequest request;
  std::string costs;
  const VitConfig& a = store->architecture();
  // The input batch and the logits are paid by every plan.
  request.fixed_bytes = static_cast<uint64_t>(4 * o.batch * (a.channels * a.image_size * a.image_size + 2 * a.num_classes));
  if (!o.profile_path.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(o.profile_path));
    ASSIGN_OR_RETURN(request.blocks, ProfilesFromJson(text, o.profile_path));
    if (request.blocks.size() != store->manifest().blocks.size()) {
      return absl::InvalidArgumentError(absl::StrCat(o.profile_path, ": profiles ", request.blocks.size(),
                                                     " blocks, the model has ", store->manifest().blocks.size()));
    }
    // Blocks run one at a time: the largest working memory of any block is added to every plan.
    request.fixed_bytes += MaxTransientBytes(request.blocks);
    costs = absl::StrCat("measured by probes (", o.profile_path, ")");
  } else {
    request.blocks = AnalyticProfile(VitLayerShapes(a), profile_options);
    costs = absl::StrCat("analytic profile at ", o.gflops, " GFLOP/s, batch ", o.batch,
                         " (edges replace it with probe measurements)");
  }
  request.memory_budget = *budget;
  request.window_seconds = std::chrono::duration<double>(*window).count();
  request.iteration_grid = o.iterations;

  std::string law_source;
  if (!o.law_path.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(o.law_path));
    auto law = LawParams::FromJson(text);
    if (!law.ok()) return Annotate(law.status(), o.law_path);
    request.law = *law;
    law_source = "fitted parameters from " + o.law_path;
  } else {
    request.law = GenericPrior(request.blocks.size(), o.acc0);
    law_source = "generic prior (equal block weights; no probes from an edge yet)";
  }
  if (request.law.weights.size() != request.blocks.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the law has ", request.law.weights.size(), " block weights, the model ",
                                                   request.blocks.size(), " blocks"));
  }
  ASSIGN_OR_RETURN(Plan plan, SolvePlan(request));

  if (o.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::parse(plan.ToJson());
    out["model"] = o.model_path;
    out["costs"] = costs;
    out["law"] = law_source;
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("plan for %s: memory budget %s, window %s, batch %lld\n", o.model_path.c_str(),
              FormatBytes(*budget).c_str(), FormatDuration(*window).c_str(), static_cast<long long>(o.batch));
  std::printf("costs: %s\n", costs.c_str());
  std::printf("law:   %s\n\n", law_source.c_str());
  std::printf("%s", plan.ToTable().c_str());
  return absl::OkStatus();
}

}  // namespace bt
