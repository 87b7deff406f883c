#include "cloud/cloud_service.h"

#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "common/grpc_status.h"

namespace bt {

namespace v1 = blocktrainer::v1;

CloudService::CloudService(const ModelStore* store, std::string model_name)
    : store_(store), model_name_(std::move(model_name)), started_(std::chrono::steady_clock::now()) {}

grpc::ServerUnaryReactor* CloudService::GetStatus(grpc::CallbackServerContext* context,
                                                  const v1::GetStatusRequest*, v1::GetStatusResponse* response) {
  const BlockManifest& manifest = store_->manifest();
  response->set_server_version(BT_VERSION);
  response->set_model_name(model_name_);
  response->set_model_path(store_->path());
  response->set_block_count(static_cast<uint32_t>(manifest.blocks.size()));
  response->set_parameter_count(static_cast<uint64_t>(manifest.TotalParameters()));
  response->set_model_bytes(manifest.TotalBytes());
  response->set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* CloudService::GetManifest(grpc::CallbackServerContext* context,
                                                    const v1::GetManifestRequest*, v1::Manifest* response) {
  const BlockManifest& manifest = store_->manifest();
  response->set_model_name(model_name_);
  for (const BlockEntry& block : manifest.blocks) {
    v1::BlockInfo* out = response->add_blocks();
    out->set_name(block.name);
    out->set_bytes(block.bytes);
    out->set_parameters(static_cast<uint64_t>(block.parameters));
    out->set_digest(block.digest);
    for (const ParamEntry& p : block.params) {
      v1::ParamInfo* param = out->add_params();
      param->set_name(p.name);
      param->set_dtype(DTypeName(p.dtype));
      for (int64_t d : p.shape) param->add_shape(d);
      param->set_bytes(p.bytes);
    }
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

absl::StatusOr<std::unique_ptr<CloudServer>> CloudServer::Start(const std::string& address, const ModelStore* store,
                                                               const std::string& model_name) {
  std::unique_ptr<CloudServer> server(new CloudServer());
  server->service_ = std::make_unique<CloudService>(store, model_name);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second daemon on the same port would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // TLS and per-edge tokens arrive with the daemon issue; until then the server is plaintext.
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", address, "' (in use or not a valid address)"));
  }
  return server;
}

void CloudServer::Stop(std::chrono::milliseconds deadline) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + deadline);
  server_->Wait();
  server_.reset();
}

CloudServer::~CloudServer() { Stop(); }

}  // namespace bt
