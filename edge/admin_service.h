// The edge's admin endpoint (EdgeAdmin over gRPC, loopback only): GetEdgeStatus and RetrainNow for `bt-edge status`
// and `bt-edge retrain --now`, plus the standard health service and server reflection. What the calls answer is
// injected, so the server knows nothing of the daemon. Owns its gRPC server: Start() listens, Stop() shuts down
// (calls in flight get 2 s) and the destructor stops. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "common/base/status.h"

namespace bt {

class EdgeAdminServer {
 public:
  struct Calls {
    std::function<blocktrainer::v1::EdgeStatus()> status;
    // Asks for a window now; false with the reason when one is running or queued.
    std::function<bool(std::string* reason)> retrain_now;
  };

  // `address` must be a loopback host:port (port 0: any free port).
  static absl::StatusOr<std::unique_ptr<EdgeAdminServer>> Start(const std::string& address, Calls calls);
  ~EdgeAdminServer();
  void Stop();
  int port() const { return port_; }

 private:
  class Service;
  EdgeAdminServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// CLI side: the running daemon's status over its admin address.
absl::StatusOr<blocktrainer::v1::EdgeStatus> QueryEdgeStatus(const std::string& address);
// Asks for a window now; returns the daemon's message, FAILED_PRECONDITION when one is already running or queued.
absl::StatusOr<std::string> StartWindowNow(const std::string& address);

}  // namespace bt
