// bt-edge: the edge daemon's command line.
//
//   bt-edge evaluate        accuracy of a checkpoint on this edge's data (clean Fashion-MNIST test split for now)
//   bt-edge cloud-manifest  fetch the block manifest from the configured bt-cloud (checks the connection)
//   bt-edge drift-report    accuracy of a model on each domain of a drift scenario
//   bt-edge feed            stream a drift scenario into the sample buffer (simulated camera)
//   bt-edge ingest-spool    move camera images from the spool directory into the sample buffer
//   bt-edge buffer          summarise the sample buffer
//   bt-edge probe-costs     measure per-block memory and time here, for the planner
//   bt-edge serve           run the edge daemon until SIGINT/SIGTERM
//   bt-edge status          state, current window, budget use, last results of a running daemon
//   bt-edge retrain --now   open a retraining window now
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "common/cli/cli.h"
#include "common/config/config.h"
#include "common/train/evaluation.h"
#include "common/wire/grpc_status.h"
#include "common/base/logging.h"
#include "common/base/units.h"
#include "edge/cloud_client.h"
#include "edge/daemon.h"
#include "edge/cli/data_commands.h"
#include "edge/cli/drift_report.h"
#include "edge/cli/status_command.h"
#include "edge/cli/probe_command.h"
#include "common/base/cancel.h"

namespace bt {
namespace {

absl::Status CloudManifest(const EdgeConfig& config, const std::string& address_override, bool json) {
  const std::string address = address_override.empty() ? config.edge.cloud : address_override;
  ClientSecurity security{config.tls.ca, config.tls.cert, config.tls.key, config.tls.server_name};
  ASSIGN_OR_RETURN(auto channel, MakeCloudChannel(address, security));
  auto stub = blocktrainer::v1::Cloud::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  blocktrainer::v1::Manifest manifest;
  grpc::Status status = stub->GetManifest(&context, blocktrainer::v1::GetManifestRequest(), &manifest);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("bt-cloud at ", address));
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    auto converted = google::protobuf::util::MessageToJsonString(manifest, &out, options);
    if (!converted.ok()) return absl::InternalError(converted.ToString());
    std::printf("%s", out.c_str());
    return absl::OkStatus();
  }
  std::printf("model %s from %s\n", manifest.model_name().c_str(), address.c_str());
  std::printf("%-18s %11s %11s  %s\n", "block", "parameters", "bytes", "sha256");
  for (const auto& block : manifest.blocks()) {
    std::printf("%-18s %11llu %11s  %s\n", block.name().c_str(), static_cast<unsigned long long>(block.parameters()),
                FormatBytes(block.bytes()).c_str(), block.digest().substr(0, 16).c_str());
  }
  return absl::OkStatus();
}


}  // namespace
}  // namespace bt

int main(int argc, char** argv) {
  using namespace bt;
  CLI::App app{"bt-edge: retrains the blocks the cloud plans on this edge's drifting data"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalFlags flags;
  AddGlobalFlags(&app, &flags, "edge.log_level", BT_VERSION);

  std::string model_path;
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  bool json = false;
  auto* evaluate = app.add_subcommand("evaluate", "Accuracy of a checkpoint on clean Fashion-MNIST test images");
  evaluate->add_option("-m,--model", model_path, "checkpoint (.safetensors or .index.json)")->required();
  evaluate->add_option("--dataset-dir", dataset_dir, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  evaluate->add_flag("--json", json, "print JSON instead of a table");

  std::string address;
  auto* manifest = app.add_subcommand("cloud-manifest", "Fetch the block manifest from bt-cloud");
  manifest->add_option("--address", address, "host:port of bt-cloud (default: edge.cloud)");
  manifest->add_flag("--json", json, "print JSON instead of a table");

  DriftReportOptions drift;
  auto* drift_report =
      app.add_subcommand("drift-report", "Accuracy of a model on each domain of a drift scenario (table, JSON, PNG)");
  drift_report->add_option("-s,--scenario", drift.scenario_path, "scenario YAML")->required()->check(CLI::ExistingFile);
  drift_report->add_option("-m,--model", drift.model_path, "checkpoint (.safetensors or .index.json)")->required();
  drift_report->add_option("--dataset-dir", drift.dataset_dir, "directory of the Fashion-MNIST IDX files")
      ->capture_default_str();
  drift_report->add_option("-o,--out", drift.out_dir, "directory for drift_report.json and drift_report.png");
  drift_report->add_flag("--json", drift.json, "print JSON instead of a table");

  std::string scenario_path;
  double rate = -1;
  auto* feed = app.add_subcommand("feed", "Stream a drift scenario into this edge's sample buffer (a simulated camera)");
  feed->add_option("-s,--scenario", scenario_path, "scenario YAML (default: simulator.scenario)")
      ->check(CLI::ExistingFile);
  feed->add_option("--rate", rate, "samples per second, 0 = as fast as possible (default: simulator.rate)");

  std::string spool_dir;
  bool watch = false;
  auto* ingest = app.add_subcommand("ingest-spool", "Move images from the spool directory into the sample buffer");
  ingest->add_option("--dir", spool_dir, "spool directory (default: spool.dir)");
  ingest->add_flag("--watch", watch, "keep polling every spool.poll_interval until Ctrl-C");

  auto* buffer = app.add_subcommand("buffer", "Summarise the sample buffer");
  buffer->add_flag("--json", json, "print JSON instead of a table");

  ProbeCommandOptions probe;
  auto* probe_costs = app.add_subcommand("probe-costs", "Measure what each block costs here, for the planner");
  probe_costs->add_option("-m,--model", probe.model_path, "checkpoint")->required();
  probe_costs->add_option("-o,--out", probe.out_path, "write the JSON profile here");
  probe_costs->add_option("--batch", probe.batch, "samples per iteration")->capture_default_str();
  probe_costs->add_option("--sequence", probe.sequence, "decoders: tokens per sample")->capture_default_str();
  probe_costs->add_option("--sparsities", probe.sparsities, "train@s proxies to probe")->delimiter(',')
      ->capture_default_str();
  probe_costs->add_flag("--lora", probe.lora, "also probe the LoRA forms (lora, and lora@s at --sparsities)");
  probe_costs->add_flag("--every-block", probe.every_block,
                        "measure each layer of a stack on its own (by default the first one's numbers stand for all)");

  auto* serve = app.add_subcommand("serve", "Run the edge daemon until SIGINT/SIGTERM");

  std::string admin_address;
  auto* status = app.add_subcommand("status", "State, current window, budget use and last results of bt-edge serve");
  status->add_option("--address", admin_address, "admin host:port of bt-edge (default: edge.admin_listen)");
  status->add_flag("--json", json, "print JSON instead of a table");

  bool now = false;
  auto* retrain = app.add_subcommand("retrain", "Open a retraining window on a running bt-edge");
  retrain->add_flag("--now", now, "open it now (required: scheduled windows come from retrain.schedule)")->required();
  retrain->add_option("--address", admin_address, "admin host:port of bt-edge (default: edge.admin_listen)");

  CLI11_PARSE(app, argc, argv);
  auto Report = [](const absl::Status& s) { return ExitStatus("bt-edge", s); };
  auto config = LoadEdgeConfigAndLogging(flags);
  if (!config.ok()) return Report(config.status());
  const std::string admin = admin_address.empty() ? config->edge.admin_listen : admin_address;
  if (status->parsed()) return Report(PrintEdgeStatus(admin, json));
  if (retrain->parsed()) return Report(RequestRetrainNow(admin));
  if (serve->parsed()) {
    CancelToken cancel;
    CancelOnSignals(&cancel);  // the one shutdown path: the daemon stops its parts in order, then Run returns
    torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
    auto daemon = EdgeDaemon::Create(*config);
    if (!daemon.ok()) return Report(daemon.status());
    return Report((*daemon)->Run(&cancel));
  }
  if (evaluate->parsed()) return Report(RunEvaluateCommand(model_path, dataset_dir, json));
  if (manifest->parsed()) return Report(CloudManifest(*config, address, json));
  if (drift_report->parsed()) return Report(RunDriftReport(drift));
  if (buffer->parsed()) return Report(RunBufferCommand(*config, json));
  if (probe_costs->parsed()) return Report(RunProbeCostsCommand(probe));
  CancelToken cancel;
  CancelOnSignals(&cancel);
  if (feed->parsed()) return Report(RunFeedCommand(*config, scenario_path, rate, &cancel));
  if (ingest->parsed()) return Report(RunIngestSpoolCommand(*config, spool_dir, watch, &cancel));
  return 1;
}
