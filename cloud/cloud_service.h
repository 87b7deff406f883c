// bt-cloud's gRPC front: the Cloud service for edges (register, heartbeat, probes → plan, block pulls and pushes),
// the CloudAdmin service for the local CLI, and the server that hosts them with the health and reflection services.
//
// Handlers use the callback API and stay thin: they authenticate (bearer token, hashed, looked up in the registry;
// an edge may only touch its own branch), convert, and call the domain objects — Planning (cloud/planning.h) for
// ReportProbes, UpdateMerger (cloud/update_merger.h) for PushUpdate. Short file and SQL work runs on the gRPC
// callback threads. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/cloud_context.h"
#include "cloud/planning.h"
#include "cloud/stream_watch.h"
#include "common/base/address.h"
#include "common/base/status.h"

namespace bt {

class CloudService final : public blocktrainer::v1::Cloud::CallbackService {
 public:
  explicit CloudService(const CloudContext* context);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const blocktrainer::v1::GetStatusRequest* request,
                                      blocktrainer::v1::GetStatusResponse* response) override;
  grpc::ServerUnaryReactor* GetManifest(grpc::CallbackServerContext* context,
                                        const blocktrainer::v1::GetManifestRequest* request,
                                        blocktrainer::v1::Manifest* response) override;
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const blocktrainer::v1::RegisterRequest* request,
                                     blocktrainer::v1::RegisterResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const blocktrainer::v1::HeartbeatRequest* request,
                                      blocktrainer::v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* ReportProbes(grpc::CallbackServerContext* context,
                                         const blocktrainer::v1::ReportProbesRequest* request,
                                         blocktrainer::v1::PlanResponse* response) override;
  grpc::ServerWriteReactor<blocktrainer::v1::BlockChunk>* PullBlocks(
      grpc::CallbackServerContext* context, const blocktrainer::v1::PullBlocksRequest* request) override;
  grpc::ServerReadReactor<blocktrainer::v1::PushMessage>* PushUpdate(
      grpc::CallbackServerContext* context, blocktrainer::v1::PushResponse* response) override;

  size_t open_streams() const { return streams_.open_streams(); }

 private:
  const CloudContext* ctx_;
  Planning planning_;
  std::chrono::steady_clock::time_point started_;
  StreamWatch streams_;
};

class CloudAdminService final : public blocktrainer::v1::CloudAdmin::CallbackService {
 public:
  explicit CloudAdminService(const CloudContext* context) : ctx_(context) {}
  grpc::ServerUnaryReactor* ListEdges(grpc::CallbackServerContext* context,
                                      const blocktrainer::v1::ListEdgesRequest* request,
                                      blocktrainer::v1::ListEdgesResponse* response) override;
  grpc::ServerUnaryReactor* ListVersions(grpc::CallbackServerContext* context,
                                         const blocktrainer::v1::ListVersionsRequest* request,
                                         blocktrainer::v1::ListVersionsResponse* response) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* context,
                                     const blocktrainer::v1::RollbackRequest* request,
                                     blocktrainer::v1::RollbackResponse* response) override;

 private:
  const CloudContext* ctx_;
};

struct ServerSecurity {
  // Empty: plaintext (allowed on loopback only). Otherwise PEM files.
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // set: mutual TLS (clients must present a certificate signed by this CA)
};

// Owns a running grpc::Server with the Cloud service, the standard health service and server reflection, plus
// (when `admin_address` is set, loopback only) a second server for CloudAdmin. Stop() (also run by the destructor) shuts it
// down, letting calls in flight finish until the deadline.
class CloudServer {
 public:
  static absl::StatusOr<std::unique_ptr<CloudServer>> Start(const std::string& address,
                                                            const std::string& admin_address,
                                                            const CloudContext* context,
                                                            const ServerSecurity& security = {});
  ~CloudServer();
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  // Streaming calls open now (PullBlocks, PushUpdate).
  size_t open_streams() const { return service_->open_streams(); }
  void Stop(std::chrono::milliseconds deadline = std::chrono::seconds(5));

 private:
  CloudServer() = default;
  std::unique_ptr<CloudService> service_;
  std::unique_ptr<CloudAdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> admin_server_;
  int port_ = 0;
  int admin_port_ = 0;
};

// Server credentials for `security`, refusing plaintext on a non-loopback address.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& security,
                                                                               const std::string& address);

}  // namespace bt
