#include "cloud/cli/plan_command.h"

#include <cstdio>

#include "cloud/store/law_store.h"
#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/plan/block_profile.h"
#include "common/base/file_util.h"
#include "common/plan/planner.h"
#include "common/plan/probe_report.h"
#include "common/base/units.h"
#include "common/plan/window_plan.h"
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
  if (o.sequence < 0) return absl::InvalidArgumentError("--sequence must not be negative");
  for (double s : o.sparsities) {
    if (!(s > 0 && s < 1)) return absl::InvalidArgumentError(absl::StrCat("--sparsities: ", s, " is not in (0, 1)"));
  }

  ProfileOptions profile_options;
  profile_options.batch = o.batch;
  profile_options.sparsities = o.sparsities;
  profile_options.flops_per_second = o.gflops * 1e9;
  PlanRequest request;
  std::string costs;
  // The input batch and the logits are paid by every plan. A decoder's analytic costs assume sequences of
  // --sequence tokens, by default its max_position_embeddings (edges measure their own).
  const ModelArch& arch = store->architecture();
  std::vector<LayerShape> shapes;
  if (const VitConfig* a = arch.vit()) {
    request.fixed_bytes =
        static_cast<uint64_t>(4 * o.batch * (a->channels * a->image_size * a->image_size + 2 * a->num_classes));
    shapes = VitLayerShapes(*a);
  } else {
    const LlamaConfig& l = *arch.llama();
    if (o.sequence > l.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("--sequence ", o.sequence, " is longer than the model's ",
                                                     l.max_position_embeddings, " positions"));
    }
    const int64_t t = o.sequence > 0 ? o.sequence : l.max_position_embeddings;
    request.fixed_bytes = static_cast<uint64_t>(o.batch * t * (8 + 2 * 4 * l.vocab_size));
    shapes = DecoderLayerShapes(l.num_hidden_layers, l.hidden_size, l.intermediate_size, l.vocab_size, t);
  }
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
    request.blocks = AnalyticProfile(shapes, profile_options);
    costs = absl::StrCat("analytic profile at ", o.gflops, " GFLOP/s, batch ", o.batch,
                         arch.llama() != nullptr
                             ? absl::StrCat(" of ", o.sequence > 0 ? o.sequence : arch.llama()->max_position_embeddings,
                                            " tokens")
                             : "",
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
  ASSIGN_OR_RETURN(Plan solved, SolvePlan(request));
  ASSIGN_OR_RETURN(Plan plan, FillWindow(request, solved));  // as a window runs it

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

absl::Status RunPlanForEdgeCommand(const CloudConfig& config, const std::string& edge, bool json) {
  LawStore laws(config.cloud.data_dir + "/edges");
  ASSIGN_OR_RETURN(std::string text, laws.LoadProbes(edge));
  ASSIGN_OR_RETURN(ProbeReport report, ProbeReport::FromJson(text, "edge '" + edge + "' last probe report"));
  auto law = laws.Load(edge);
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  ASSIGN_OR_RETURN(EdgeRecord record, registry->GetEdge(edge));
  WindowPlanRequest request;
  request.memory_budget = record.memory_budget;
  request.train_seconds = std::chrono::duration<double>(EdgeConfig().retrain.window).count() *
                          (1.0 - kProbeShare - kReserveShare);
  ASSIGN_OR_RETURN(WindowPlan wp, PlanFromProbes(report, law.ok() ? &*law : nullptr, request));
  if (json) {
    std::printf("%s\n", wp.plan.ToJson().c_str());
    return absl::OkStatus();
  }
  std::printf("dry-run plan for edge %s (memory budget %s, %.0f s of training) from its last probe report\n"
              "(acc0 %.1f%%, %zu curve points, %d runs) and %s\n\n%s",
              edge.c_str(), FormatBytes(record.memory_budget).c_str(), request.train_seconds, 100 * report.acc0,
              report.points.size(), report.curve_runs, law.ok() ? "its fitted law" : "a generic prior",
              wp.plan.ToTable().c_str());
  return absl::OkStatus();
}

absl::Status RunManifestCommand(const CloudConfig& config, const std::string& model_override, bool json) {
  const std::string path = model_override.empty() ? config.ModelPath() : model_override;
  ASSIGN_OR_RETURN(auto store, ModelStore::Open(path, config.model.name, config.model.Hints()));
  if (json) {
    std::printf("%s\n", store->manifest().ToJson().c_str());
  } else {
    std::printf("%s", store->manifest().ToTable().c_str());
  }
  return absl::OkStatus();
}

}  // namespace bt
