// bt-cloud: the cloud daemon and its command line.
//
//   bt-cloud serve      run the daemon (gRPC) until SIGINT/SIGTERM
//   bt-cloud pretrain   pretrain the default foundation model (skips if the checkpoint exists)
//   bt-cloud evaluate   accuracy of a checkpoint on clean Fashion-MNIST test images
//   bt-cloud manifest   the block manifest of a checkpoint
//   bt-cloud status     ask a running bt-cloud for its status
//   bt-cloud plan       dry-run block plan under a memory budget and a window
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/cloud_service.h"
#include "cloud/model_store.h"
#include "cloud/plan_command.h"
#include "cloud/pretrain_command.h"
#include "common/cancel.h"
#include "common/config.h"
#include "common/evaluation.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/units.h"
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
  auto store = ModelStore::Open(config.ModelPath(), config.model.name);
  if (!store.ok()) {
    return Annotate(store.status(), "cannot open the foundation model (run `bt-cloud pretrain` first?)");
  }
  const BlockManifest& manifest = (*store)->manifest();
  spdlog::info("model '{}' from {}: {} blocks, {} parameters, {}", config.model.name, config.ModelPath(),
               manifest.blocks.size(), manifest.TotalParameters(), FormatBytes(manifest.TotalBytes()));
  ASSIGN_OR_RETURN(auto server, CloudServer::Start(listen, store->get(), config.model.name));
  spdlog::info("bt-cloud {} listening on {} (port {}), plaintext", BT_VERSION, listen, server->port());

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
  server->Stop(std::chrono::seconds(5));
  spdlog::info("stopped");
  return absl::OkStatus();
}

absl::Status Status(const GlobalFlags& flags, const std::string& address_override, bool json) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadConfigAndLogging(flags));
  const std::string address = address_override.empty() ? config.cloud.listen : address_override;
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = blocktrainer::v1::Cloud::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  blocktrainer::v1::GetStatusResponse response;
  grpc::Status status = stub->GetStatus(&context, blocktrainer::v1::GetStatusRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("bt-cloud at ", address));
  if (json) {
    nlohmann::ordered_json out = {{"address", address},
                                  {"server_version", response.server_version()},
                                  {"model_name", response.model_name()},
                                  {"model_path", response.model_path()},
                                  {"block_count", response.block_count()},
                                  {"parameter_count", response.parameter_count()},
                                  {"model_bytes", response.model_bytes()},
                                  {"uptime_seconds", response.uptime_seconds()}};
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("bt-cloud %s at %s, up %s\n", response.server_version().c_str(), address.c_str(),
              FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(response.uptime_seconds() * 1000)))
                  .c_str());
  std::printf("model     %s (%s)\n", response.model_name().c_str(), response.model_path().c_str());
  std::printf("blocks    %u, %llu parameters, %s\n", response.block_count(),
              static_cast<unsigned long long>(response.parameter_count()),
              FormatBytes(response.model_bytes()).c_str());
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
  auto* status = app.add_subcommand("status", "Ask a running bt-cloud for its status");
  status->add_option("--address", address, "host:port of bt-cloud (default: cloud.listen)");
  status->add_flag("--json", json, "print JSON instead of a table");

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

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) return Report(Serve(flags, listen));
  if (status->parsed()) return Report(Status(flags, address, json));
  if (manifest->parsed()) return Report(Manifest(flags, model_path, json));
  if (plan->parsed()) {
    auto config = LoadConfigAndLogging(flags);
    if (!config.ok()) return Report(config.status());
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
