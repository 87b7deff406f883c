// CloudServer: the gRPC servers that host the Cloud service (with health and reflection) and, on a loopback
// address, CloudAdmin; and the server credentials for plaintext, TLS and mutual TLS.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "cloud/cloud_service.h"
#include "common/base/address.h"
#include "common/base/file_util.h"

namespace bt {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& s,
                                                                               const std::string& address) {
  if (s.cert_file.empty() && s.key_file.empty()) {
    if (!IsLoopbackAddress(address)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing plaintext on '", address, "': it is not a loopback address; configure tls.cert and tls.key"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (s.cert_file.empty() || s.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key");
  }
  grpc::SslServerCredentialsOptions options(s.client_ca_file.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(std::string cert, ReadFileToString(s.cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadFileToString(s.key_file));
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!s.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadFileToString(s.client_ca_file));
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::unique_ptr<CloudServer>> CloudServer::Start(const std::string& address,
                                                               const std::string& admin_address,
                                                               const CloudContext* context,
                                                               const ServerSecurity& security) {
  std::unique_ptr<CloudServer> server(new CloudServer());
  server->service_ = std::make_unique<CloudService>(context);
  server->admin_ = std::make_unique<CloudAdminService>(context);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(security, address));
  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second daemon on the same port would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", address, "' (in use or not a valid address)"));
  }
  // The admin service has a listener of its own, on loopback only: a separate server, so the edge-facing port
  // never exposes it.
  if (!admin_address.empty()) {
    if (!IsLoopbackAddress(admin_address)) {
      return absl::FailedPreconditionError(absl::StrCat("the admin address '", admin_address,
                                                        "' must be a loopback address"));
    }
    grpc::ServerBuilder admin;
    admin.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    admin.AddListeningPort(admin_address, grpc::InsecureServerCredentials(), &server->admin_port_);
    admin.RegisterService(server->admin_.get());
    server->admin_server_ = admin.BuildAndStart();
    if (server->admin_server_ == nullptr || server->admin_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on the admin address '", admin_address, "'"));
    }
  }
  return server;
}

void CloudServer::Stop(std::chrono::milliseconds deadline) {
  for (auto* s : {&admin_server_, &server_}) {
    if (*s == nullptr) continue;
    (*s)->Shutdown(std::chrono::system_clock::now() + deadline);
    (*s)->Wait();
    s->reset();
  }
}

CloudServer::~CloudServer() { Stop(); }

}  // namespace bt
