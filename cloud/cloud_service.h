// bt-cloud's gRPC front: the Cloud service (blocktrainer.v1) and the server that hosts it.
//
// The service only translates: it reads the ModelStore and maps the result to proto messages; it does no
// domain work. Handlers use the callback API and never block. Thread-safe (the store is immutable).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/model_store.h"
#include "common/status.h"

namespace bt {

class CloudService final : public blocktrainer::v1::Cloud::CallbackService {
 public:
  // `store` must outlive the service.
  CloudService(const ModelStore* store, std::string model_name);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const blocktrainer::v1::GetStatusRequest* request,
                                      blocktrainer::v1::GetStatusResponse* response) override;
  grpc::ServerUnaryReactor* GetManifest(grpc::CallbackServerContext* context,
                                        const blocktrainer::v1::GetManifestRequest* request,
                                        blocktrainer::v1::Manifest* response) override;

 private:
  const ModelStore* store_;
  std::string model_name_;
  std::chrono::steady_clock::time_point started_;
};

// Owns a running grpc::Server with the Cloud service and the standard health service. Stop() (also run by the
// destructor) shuts it down, letting calls in flight finish until the deadline.
class CloudServer {
 public:
  // Binds `address` ("host:port"; port 0 picks a free one). Fails if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<CloudServer>> Start(const std::string& address, const ModelStore* store,
                                                            const std::string& model_name);
  ~CloudServer();
  int port() const { return port_; }
  void Stop(std::chrono::milliseconds deadline = std::chrono::seconds(5));

 private:
  CloudServer() = default;
  std::unique_ptr<CloudService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace bt
