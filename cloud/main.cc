// bt-cloud: the cloud daemon and its command line. Each subcommand lives in its own file under cloud/.
//
//   bt-cloud serve      run the daemon (gRPC) until SIGINT/SIGTERM              cloud/cli/serve_command.h
//   bt-cloud pretrain   pretrain the default foundation model (skips if cached) cloud/cli/pretrain_command.h
//   bt-cloud evaluate   accuracy of a checkpoint on clean Fashion-MNIST test images  common/train/evaluation.h
//   bt-cloud manifest   the block manifest of a checkpoint                     cloud/cli/plan_command.h
//   bt-cloud status     edges of a running bt-cloud (over its admin address)   cloud/cli/admin_commands.h
//   bt-cloud versions   an edge's branch; rollback: move it back               cloud/cli/admin_commands.h
//   bt-cloud add-edge   create an edge's bearer token                          cloud/cli/admin_commands.h
//   bt-cloud prune      delete an edge's old versions                          cloud/cli/admin_commands.h
//   bt-cloud export     an edge's version as one checkpoint                    cloud/cli/export_command.h
//   bt-cloud plan       dry-run block plan under a memory budget and a window  cloud/cli/plan_command.h
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "cloud/cli/admin_commands.h"
#include "cloud/cli/export_command.h"
#include "cloud/cli/plan_command.h"
#include "cloud/cli/pretrain_command.h"
#include "cloud/cli/serve_command.h"
#include "common/base/cancel.h"
#include "common/cli/cli.h"
#include "common/train/evaluation.h"

int main(int argc, char** argv) {
  using namespace bt;
  CLI::App app{"bt-cloud: holds the foundation model in blocks, plans and serves edge retraining"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalFlags flags;
  AddGlobalFlags(&app, &flags, "cloud.log_level", BT_VERSION);

  std::string listen;
  auto* serve = app.add_subcommand("serve", "Run the cloud daemon until SIGINT/SIGTERM");
  serve->add_option("--listen", listen, "host:port to listen on (default: cloud.listen)");

  PretrainCommandOptions pretrain_options;
  auto* pretrain = app.add_subcommand("pretrain", "Pretrain the default foundation model on clean Fashion-MNIST");
  pretrain->add_option("-o,--out", pretrain_options.out_path,
                       "checkpoint to write (default: model.path or <cloud.data_dir>/models/foundation.safetensors)");
  pretrain->add_flag("--force", pretrain_options.force, "retrain even if the checkpoint exists");

  std::string model_path;
  bool json = false;
  auto* evaluate = app.add_subcommand("evaluate", "Accuracy of a checkpoint on the clean Fashion-MNIST test split");
  evaluate->add_option("-m,--model", model_path, "checkpoint (default: the configured model)");
  evaluate->add_flag("--json", json, "print JSON instead of a table");

  auto* manifest = app.add_subcommand("manifest", "Print the block manifest (names, shapes, sizes, digests)");
  manifest->add_option("-m,--model", model_path, "checkpoint (default: the configured model)");
  manifest->add_flag("--json", json, "print JSON instead of a table");

  std::string address;
  auto* status = app.add_subcommand("status", "Edges of a running bt-cloud: last seen, window, version, results");
  status->add_option("--address", address, "admin host:port of bt-cloud (default: cloud.admin_listen)");
  status->add_flag("--json", json, "print JSON instead of a table");

  std::string edge;
  auto* versions = app.add_subcommand("versions", "Versions of an edge's branch");
  versions->add_option("--edge", edge, "edge id")->required();
  versions->add_option("--address", address, "admin host:port of bt-cloud (default: cloud.admin_listen)");
  versions->add_flag("--json", json, "print JSON instead of a table");

  uint64_t to_version = 0;
  auto* rollback = app.add_subcommand("rollback", "Move an edge's branch back to the blocks of an earlier version");
  rollback->add_option("--edge", edge, "edge id")->required();
  rollback->add_option("--to", to_version, "version to return to")->required();
  rollback->add_option("--address", address, "admin host:port of bt-cloud (default: cloud.admin_listen)");

  std::string token_out;
  int64_t keep = 10;
  auto* prune = app.add_subcommand("prune", "Delete an edge's old versions (the foundation and the head stay)");
  prune->add_option("--edge", edge, "edge id")->required();
  prune->add_option("--keep", keep, "newest versions to keep besides the foundation and the head (default 10)")
      ->check(CLI::NonNegativeNumber);
  auto* add_edge = app.add_subcommand("add-edge", "Create (or replace) an edge's bearer token");
  add_edge->add_option("--edge", edge, "edge id")->required();
  add_edge->add_option("--token-out", token_out, "write the token to this file (mode 0600) instead of stdout");

  std::string export_out;
  std::optional<uint64_t> export_version;
  auto* export_cmd = app.add_subcommand("export", "Write an edge's version of the model as one safetensors checkpoint");
  export_cmd->add_option("--edge", edge, "edge id")->required();
  export_cmd->add_option("--version", export_version, "version of the edge's branch (default: its head)");
  export_cmd->add_option("-o,--out", export_out, "checkpoint to write (atomically)")->required();
  std::string export_dtype = "keep";
  export_cmd->add_option("--dtype", export_dtype,
                         "tensor dtype to write: keep (the foundation's: a half-precision model stays half), f32, "
                         "f16 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"keep", "f32", "f16", "bf16"}));
  export_cmd->add_flag("--json", json, "print JSON instead of text");

  PlanCommandOptions plan_options;
  auto* plan = app.add_subcommand("plan", "Dry-run plan: which blocks to retrain, how, and for how long, under a budget");
  plan->add_option("-m,--model", plan_options.model_path, "checkpoint (default: the configured model)");
  plan->add_option("--memory-budget", plan_options.memory_budget, "edge memory budget, e.g. 8MiB")
      ->capture_default_str();
  plan->add_option("--window", plan_options.window, "retraining window, e.g. 5m")->capture_default_str();
  plan->add_option("--batch", plan_options.batch, "samples per iteration")->capture_default_str();
  plan->add_option("--sparsities", plan_options.sparsities, "train@s proxies offered, e.g. 0.25,0.5,0.75")
      ->delimiter(',')->capture_default_str();
  plan->add_option("--iterations", plan_options.iterations, "iteration grid, e.g. 50,100,200")
      ->delimiter(',')->capture_default_str();
  plan->add_option("--law", plan_options.law_path, "JSON law parameters (default: a generic prior)");
  plan->add_option("--profile", plan_options.profile_path,
                   "JSON block costs measured by `bt-edge probe-costs` (default: analytic estimate)");
  plan->add_option("--acc0", plan_options.acc0, "accuracy before retraining, for the prior")->capture_default_str();
  plan->add_option("--sequence", plan_options.sequence,
                   "decoders: tokens per sample (0 = the model's max_position_embeddings)")->capture_default_str();
  plan->add_option("--gflops", plan_options.gflops, "assumed edge throughput for the analytic costs")
      ->capture_default_str();
  plan->add_flag("--json", plan_options.json, "print JSON instead of a table");
  plan->add_option("--edge", edge, "plan from this edge's last probe report and fitted law (dry run)");

  CLI11_PARSE(app, argc, argv);
  auto report = [](const absl::Status& s) { return ExitStatus("bt-cloud", s); };
  auto config = LoadCloudConfigAndLogging(flags);
  if (!config.ok()) return report(config.status());
  CancelToken cancel;
  CancelOnSignals(&cancel);  // serve: stop the servers; pretrain: stop between steps, writing nothing
  if (serve->parsed()) return report(RunServeCommand(*config, listen, &cancel));
  if (status->parsed()) return report(PrintEdges(*config, address, json));
  if (versions->parsed()) return report(PrintVersions(*config, address, edge, json));
  if (rollback->parsed()) return report(RollbackEdge(*config, address, edge, to_version));
  if (add_edge->parsed()) return report(AddEdgeToken(*config, edge, token_out));
  if (prune->parsed()) return report(PruneEdge(*config, edge, keep));
  if (manifest->parsed()) return report(RunManifestCommand(*config, model_path, json));
  if (export_cmd->parsed()) {
    auto dtype = ParseExportDType(export_dtype);
    if (!dtype.ok()) return report(dtype.status());
    return report(RunExportCommand(*config, edge, export_version, export_out, ExportOptions{*dtype}, json));
  }
  if (plan->parsed()) {
    if (!edge.empty()) return report(RunPlanForEdgeCommand(*config, edge, plan_options.json));
    if (plan_options.model_path.empty()) plan_options.model_path = config->ModelPath();
    return report(RunPlanCommand(plan_options));
  }
  if (pretrain->parsed()) {
    if (!flags.config_path.empty()) pretrain_options.config_source = flags.config_path;
    return report(RunPretrainCommand(*config, pretrain_options, &cancel));
  }
  if (evaluate->parsed()) {
    return report(RunEvaluateCommand(model_path.empty() ? config->ModelPath() : model_path,
                                     config->pretrain.dataset_dir, json, config->model.Hints()));
  }
  return 1;
}
