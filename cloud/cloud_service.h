// bt-cloud's gRPC front: the Cloud service for edges (register, heartbeat, probes → plan, block pulls and pushes),
// the CloudAdmin service for the local CLI, and the server that hosts them with the health and reflection services.
//
// Handlers use the callback API. Edge RPCs authenticate by bearer token (hashed, looked up in the registry) and
// may only touch the token's own edge. A pushed update is validated completely (digests, shapes, dtypes, finite
// values, base version, planned blocks) before anything is stored; then its blocks are written atomically to the
// block store and the new version committed in one SQL transaction. Short file and SQL work runs on the gRPC
// callback threads. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/block_store.h"
#include "cloud/law_store.h"
#include "cloud/model_store.h"
#include "cloud/registry.h"
#include "common/address.h"
#include "common/probe_report.h"
#include "common/wire.h"
#include "common/status.h"
#include "common/window_plan.h"

namespace bt {

// Everything the handlers use; owned by the daemon, outliving the server.
struct CloudContext {
  const ModelStore* model = nullptr;
  const BlockStore* blocks = nullptr;
  Registry* registry = nullptr;
  const LawStore* laws = nullptr;
  std::string model_name;
  std::string source_stats_json;         // shipped to edges at registration (empty: none)
  std::vector<int64_t> iteration_grid = IterationGrid();
  uint64_t max_push_bytes = 4ull << 30;  // largest update accepted (all blocks of one push)
  std::function<int64_t()> now;          // Unix seconds; injectable for tests
};

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

 private:
  const CloudContext* ctx_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<uint64_t> plan_counter_{0};
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
