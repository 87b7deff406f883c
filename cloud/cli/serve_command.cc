#include "cloud/cli/serve_command.h"

#include <spdlog/spdlog.h>

#include "common/format/block_store.h"
#include "cloud/cloud_service.h"
#include "cloud/store/law_store.h"
#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/cli/cli.h"
#include "common/base/file_util.h"
#include "common/plan/probe_report.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

absl::Status RunServeCommand(const CloudConfig& config, const std::string& listen_override,
                             const CancelToken* cancel) {
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

  WaitUntilCancelled(*cancel);
  spdlog::info("shutting down (in-flight transfers get 10 s to finish)");
  server->Stop(std::chrono::seconds(10));
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace bt
