// bt-cloud: the cloud daemon and its command line.
//
//   bt-cloud serve      run the daemon (gRPC) until SIGINT/SIGTERM
//   bt-cloud pretrain   pretrain the default foundation model (skips if the checkpoint exists)
//   bt-cloud evaluate   accuracy of a checkpoint on clean Fashion-MNIST test images
//   bt-cloud manifest   the block manifest of a checkpoint
//   bt-cloud status     edges of a running bt-cloud (over its admin address)
//   bt-cloud versions   an edge's branch; rollback: move it back
//   bt-cloud add-edge   create an edge's bearer token
//   bt-cloud export     an edge's version as one checkpoint
//   bt-cloud plan       dry-run block plan under a memory budget and a window (or for an edge)
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <optional>
#include <cstdio>
#include <string>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "absl/strings/str_format.h"
#include "cloud/block_store.h"
#include "cloud/cloud_service.h"
#include "cloud/law_store.h"
#include "cloud/export_command.h"
#include "cloud/registry.h"
#include "cloud/model_store.h"
#include "cloud/plan_command.h"
#include "cloud/pretrain_command.h"
#include "common/cancel.h"
#include "common/config.h"
#include "common/evaluation.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/file_util.h"
#include "common/probe_report.h"
#include "common/sha256.h"
#include "common/units.h"
#include "common/window_plan.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

struct GlobalFlags {
  std::string config_path;
  std::string log_level;
};

absl::StatusOr<CloudConfig> LoadConfigAndLogging(const GlobalFlags& flags) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadCloudConfig(flags.config_path));
  RETURN_IF_ERROR(InitLogging(flags.log_level.empty() ? config.cloud.log_level : flags.log_level));
  return config;
}

absl::Status Serve(const GlobalFlags& flags, const std::string& listen_override) {
  // Block the shutdown signals before gRPC starts its threads, so only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  const std::string listen = listen_override.empty() ? config.cloud.listen : listen_override;
  auto model = ModelStore::Open(config.ModelPath(), config.model.name);
  if (!model.ok()) {
    return Annotate(model.status(), "cannot open the foundation model (run `bt-cloud pretrain` first?)");
  }
  const BlockManifest& manifest = (*model)->manifest();
  spdlog::info("model '{}' from {} (memory-mapped): {} blocks, {} parameters, {}", config.model.name,
               config.ModelPath(), manifest.blocks.size(), manifest.TotalParameters(),
               FormatBytes(manifest.TotalBytes()));
  ASSIGN_OR_RETURN(auto blocks, BlockStore::Open(config.cloud.data_dir + "/blocks"));
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  LawStore laws(config.cloud.data_dir + "/edges");
  CloudContext context;
  context.model = model->get();
  context.blocks = blocks.get();
  context.registry = registry.get();
  context.laws = &laws;
  context.model_name = config.model.name;
  // Source feature statistics, written next to the model by `bt-cloud pretrain`.
  if (auto sidecar = ReadFileToString(config.ModelPath() + ".source.json"); sidecar.ok()) {
    nlohmann::json j = nlohmann::json::parse(*sidecar, nullptr, false);
    if (j.is_object() && j.contains("stats") && SourceStats::FromJson(j["stats"].dump(), "sidecar").ok()) {
      context.source_stats_json = j["stats"].dump();
    }
  }
  if (context.source_stats_json.empty()) {
    spdlog::warn("no source statistics next to the model ({}.source.json; `bt-cloud pretrain` writes them): edges "
                 "get no drift statistics or label-free estimate", config.ModelPath());
  }
  ServerSecurity security{config.tls.cert, config.tls.key, config.tls.client_ca};
  ASSIGN_OR_RETURN(auto server, CloudServer::Start(listen, config.cloud.admin_listen, &context, security));
  spdlog::info("bt-cloud {} listening on {} (port {}), {}; admin on {}; state in {}", BT_VERSION, listen,
               server->port(),
               config.tls.cert.empty() ? "PLAINTEXT (allowed on loopback only)"
                                       : (config.tls.client_ca.empty() ? "TLS" : "mutual TLS"),
               config.cloud.admin_listen.empty() ? "off" : config.cloud.admin_listen, config.cloud.data_dir);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, shutting down (in-flight transfers get 10 s to finish)",
               received == SIGINT ? "SIGINT" : "SIGTERM");
  server->Stop(std::chrono::seconds(10));
  spdlog::info("stopped");
  return absl::OkStatus();
}

std::unique_ptr<blocktrainer::v1::CloudAdmin::Stub> AdminStub(const CloudConfig& config, const std::string& address) {
  return blocktrainer::v1::CloudAdmin::NewStub(grpc::CreateChannel(
      address.empty() ? config.cloud.admin_listen : address, grpc::InsecureChannelCredentials()));
}

std::string Ago(int64_t then) {
  if (then <= 0) return "never";
  const int64_t s = std::max<int64_t>(0, static_cast<int64_t>(std::time(nullptr)) - then);
  return FormatDuration(std::chrono::seconds(s)) + " ago";
}

absl::Status Status(const GlobalFlags& flags, const std::string& address_override, bool json) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  const std::string address = address_override.empty() ? config.cloud.admin_listen : address_override;
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  blocktrainer::v1::ListEdgesResponse response;
  grpc::Status status = stub->ListEdges(&context, blocktrainer::v1::ListEdgesRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("bt-cloud admin at ", address));
  if (json) {
    nlohmann::ordered_json out = {{"admin_address", address}, {"edges", nlohmann::ordered_json::array()}};
    for (const auto& e : response.edges()) {
      out["edges"].push_back({{"edge_id", e.edge_id()},
                              {"hardware", e.hardware()},
                              {"memory_budget_bytes", e.memory_budget_bytes()},
                              {"last_seen", e.last_seen()},
                              {"state", e.state()},
                              {"window_id", e.window_id()},
                              {"progress", e.progress()},
                              {"version", e.version()},
                              {"last_accuracy_before", e.last_accuracy_before()},
                              {"last_accuracy_after", e.last_accuracy_after()},
                              {"last_predicted_accuracy", e.last_predicted_accuracy()},
                              {"unsent_updates", e.unsent_updates()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("%d edge(s) at bt-cloud (admin %s)\n\n", response.edges_size(), address.c_str());
  std::printf("%-14s %-16s %-10s %-24s %8s %8s %18s %7s\n", "edge", "last seen", "state", "window", "budget",
              "version", "last before→after", "unsent");
  for (const auto& e : response.edges()) {
    std::string window = e.window_id().empty() ? "-" : absl::StrFormat("%s %.0f%%", e.window_id(), 100 * e.progress());
    std::string result = e.last_accuracy_after() > 0 ? absl::StrFormat("%.1f%% → %.1f%%", 100 * e.last_accuracy_before(),
                                                                       100 * e.last_accuracy_after())
                                                     : "-";
    std::printf("%-14s %-16s %-10s %-24s %8s %8llu %18s %7u\n", e.edge_id().c_str(), Ago(e.last_seen()).c_str(),
                e.state().c_str(), window.c_str(), FormatBytes(e.memory_budget_bytes()).c_str(),
                static_cast<unsigned long long>(e.version()), result.c_str(), e.unsent_updates());
  }
  return absl::OkStatus();
}

absl::Status Versions(const GlobalFlags& flags, const std::string& address, const std::string& edge, bool json) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  blocktrainer::v1::ListVersionsRequest request;
  request.set_edge_id(edge);
  blocktrainer::v1::ListVersionsResponse response;
  grpc::Status status = stub->ListVersions(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "bt-cloud admin");
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& v : response.versions()) {
      nlohmann::ordered_json blocks = nlohmann::ordered_json::object();
      for (const auto& b : v.manifest().blocks()) blocks[b.name()] = b.digest();
      out.push_back({{"version", v.version()},
                     {"parent", v.parent()},
                     {"created", v.created()},
                     {"note", v.note()},
                     {"changed_blocks", std::vector<std::string>(v.changed_blocks().begin(), v.changed_blocks().end())},
                     {"blocks", blocks}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("%-8s %-7s %-18s %s\n", "version", "parent", "created", "note");
  for (const auto& v : response.versions()) {
    std::printf("%-8llu %-7llu %-18s %s\n", static_cast<unsigned long long>(v.version()),
                static_cast<unsigned long long>(v.parent()), Ago(v.created()).c_str(), v.note().c_str());
  }
  return absl::OkStatus();
}

absl::Status Rollback(const GlobalFlags& flags, const std::string& address, const std::string& edge, uint64_t to) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  blocktrainer::v1::RollbackRequest request;
  request.set_edge_id(edge);
  request.set_to_version(to);
  blocktrainer::v1::RollbackResponse response;
  grpc::Status status = stub->Rollback(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "bt-cloud admin");
  std::printf("edge %s: branch head is now version %llu (the blocks of version %llu)\n", edge.c_str(),
              static_cast<unsigned long long>(response.version()), static_cast<unsigned long long>(to));
  return absl::OkStatus();
}

// Creates (or replaces) an edge's token: stores its SHA-256 in the database, writes the token to `out` (0600).
absl::Status AddEdge(const GlobalFlags& flags, const std::string& edge, const std::string& out) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  if (edge.empty()) return absl::InvalidArgumentError("--edge is required");
  for (char c : edge) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return absl::InvalidArgumentError(absl::StrCat("--edge '", edge, "': letters, digits, '-', '_', '.' only"));
    }
  }
  ASSIGN_OR_RETURN(std::string random, ReadRandomBytes(32));
  std::string token;
  for (unsigned char c : random) absl::StrAppendFormat(&token, "%02x", c);
  std::error_code ec;
  std::filesystem::create_directories(config.cloud.data_dir, ec);
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  if (!out.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(out, token + "\n"));
    std::filesystem::permissions(out, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  RETURN_IF_ERROR(registry->SetTokenHash(edge, Sha256Hex(token)));
  if (out.empty()) {
    std::printf("%s\n", token.c_str());
  } else {
    std::printf("edge %s: token written to %s (its SHA-256 is stored in %s/blocktrainer.db; any previous token is "
                "revoked)\n", edge.c_str(), out.c_str(), config.cloud.data_dir.c_str());
  }
  return absl::OkStatus();
}

// `bt-cloud plan --edge X`: the plan the cloud would make now from the edge's last probe report and law.
absl::Status PlanForEdge(const CloudConfig& config, const std::string& edge, bool json) {
  LawStore laws(config.cloud.data_dir + "/edges");
  ASSIGN_OR_RETURN(std::string text, laws.LoadProbes(edge));
  ASSIGN_OR_RETURN(ProbeReport report, ProbeReport::FromJson(text, "edge '" + edge + "' last probe report"));
  auto law = laws.Load(edge);
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  ASSIGN_OR_RETURN(EdgeRecord record, registry->GetEdge(edge));
  WindowPlanRequest request;
  request.memory_budget = record.memory_budget;
  request.train_seconds = std::chrono::duration<double>(EdgeConfig().retrain.window).count() * 0.85;
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

absl::Status Manifest(const GlobalFlags& flags, const std::string& model_override, bool json) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  const std::string path = model_override.empty() ? config.ModelPath() : model_override;
  ASSIGN_OR_RETURN(auto store, ModelStore::Open(path, config.model.name));
  if (json) {
    std::printf("%s\n", store->manifest().ToJson().c_str());
  } else {
    std::printf("%s", store->manifest().ToTable().c_str());
  }
  return absl::OkStatus();
}

int Report(const absl::Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "bt-cloud: error: %s\n", std::string(status.message()).c_str());
  return absl::IsCancelled(status) ? 130 : 1;
}

}  // namespace
}  // namespace bt

int main(int argc, char** argv) {
  using namespace bt;
  CLI::App app{"bt-cloud: holds the foundation model in blocks, plans and serves edge retraining"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalFlags flags;
  app.add_option("-c,--config", flags.config_path, "YAML config file (default: embedded defaults)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error (default: cloud.log_level)");
  app.set_version_flag("--version", BT_VERSION);

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
  auto* add_edge = app.add_subcommand("add-edge", "Create (or replace) an edge's bearer token");
  add_edge->add_option("--edge", edge, "edge id")->required();
  add_edge->add_option("--token-out", token_out, "write the token to this file (mode 0600) instead of stdout");

  std::string export_out;
  std::optional<uint64_t> export_version;
  auto* export_cmd = app.add_subcommand("export", "Write an edge's version of the model as one safetensors checkpoint");
  export_cmd->add_option("--edge", edge, "edge id")->required();
  export_cmd->add_option("--version", export_version, "version of the edge's branch (default: its head)");
  export_cmd->add_option("-o,--out", export_out, "checkpoint to write (atomically)")->required();
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
  plan->add_option("--gflops", plan_options.gflops, "assumed edge throughput for the analytic costs")
      ->capture_default_str();
  plan->add_flag("--json", plan_options.json, "print JSON instead of a table");
  plan->add_option("--edge", edge, "plan from this edge's last probe report and fitted law (dry run)");

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) return Report(Serve(flags, listen));
  if (status->parsed()) return Report(Status(flags, address, json));
  if (versions->parsed()) return Report(Versions(flags, address, edge, json));
  if (rollback->parsed()) return Report(Rollback(flags, address, edge, to_version));
  if (add_edge->parsed()) return Report(AddEdge(flags, edge, token_out));
  if (manifest->parsed()) return Report(Manifest(flags, model_path, json));
  if (export_cmd->parsed()) {
    auto config = LoadConfigAndLogging(flags);
    if (!config.ok()) return Report(config.status());
    auto exported = ExportVersion(*config, edge, export_version, export_out);
    if (!exported.ok()) return Report(exported.status());
    if (json) {
      const nlohmann::ordered_json out = {{"edge", edge},
                                          {"version", exported->version},
                                          {"blocks", exported->blocks},
                                          {"bytes", exported->bytes},
                                          {"path", export_out}};
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("edge %s version %llu: %zu blocks, %s written to %s\n", edge.c_str(),
                  static_cast<unsigned long long>(exported->version), exported->blocks,
                  FormatBytes(exported->bytes).c_str(), export_out.c_str());
    }
    return 0;
  }
  if (plan->parsed()) {
    auto config = LoadConfigAndLogging(flags);
    if (!config.ok()) return Report(config.status());
    if (!edge.empty()) return Report(PlanForEdge(*config, edge, plan_options.json));
    if (plan_options.model_path.empty()) plan_options.model_path = config->ModelPath();
    return Report(RunPlanCommand(plan_options));
  }
  auto config = LoadConfigAndLogging(flags);
  if (!config.ok()) return Report(config.status());
  if (pretrain->parsed()) {
    CancelToken cancel;
    CancelOnSignals(&cancel);
    return Report(RunPretrainCommand(*config, pretrain_options, &cancel));
  }
  if (evaluate->parsed()) {
    return Report(RunEvaluateCommand(model_path.empty() ? config->ModelPath() : model_path,
                                     config->pretrain.dataset_dir, json));
  }
  return 1;
}
