#include "cloud/cli/serve_command.h"

#include <spdlog/spdlog.h>

#include "common/format/block_store.h"
#include "cloud/cloud_service.h"
#include "cloud/store/law_store.h"
#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/cli/cli.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/plan/probe_report.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

absl::Status RunServeCommand(const CloudConfig& config, const std::string& listen_override,
                             const CancelToken* cancel) {
  const std::string listen = listen_override.empty() ? config.cloud.listen : listen_override;
  auto model = ModelStore::Open(config.ModelPath(), config.model.name, config.model.Hints());
  if (!model.ok()) {
    return Annotate(model.status(), "cannot open the foundation model (run `bt-cloud pretrain` first?)");
  }
  const BlockManifest& manifest = (*model)->manifest();
  spdlog::info("model '{}' from {} (memory-mapped): {} blocks, {} parameters, {}", config.model.name,
               config.ModelPath(), manifest.blocks.size(), manifest.TotalParameters(),
               FormatBytes(manifest.TotalBytes()));
  ASSIGN_OR_RETURN(auto blocks, BlockStore::Open(config.cloud.data_dir + "/blocks"));
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  // What a crash or a push that failed late left in the store: temporary files and blocks no version holds.
  ASSIGN_OR_RETURN(std::set<std::string> referenced, registry->ReferencedDigests());
  ASSIGN_OR_RETURN(BlockStore::SweepResult swept,
                   blocks->Sweep([&](const std::string& digest) { return referenced.count(digest) > 0; }));
  if (swept.blocks > 0 || swept.temporary > 0) {
    spdlog::info("block store: removed {} blocks no version holds and {} temporary files ({})", swept.blocks,
                 swept.temporary, FormatBytes(swept.bytes));
  }
  LawStore laws(config.cloud.data_dir + "/edges");
  ASSIGN_OR_RETURN(std::string admin_token, LoadOrCreateAdminToken(config.cloud.data_dir));
  CloudContext context;
  context.admin_token_sha256 = Sha256Hex(admin_token);
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
