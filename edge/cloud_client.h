// The edge's side of the wire (torch-free): a channel to bt-cloud with the edge's bearer token (and TLS when
// configured), and the calls a window needs. Block pulls land in the edge's own content-addressed store
// (common/format/block_store.h): bytes go to <digest>.partial, a pull interrupted midway resumes from the partial
// file's size, and the file is renamed into place only after its SHA-256 matches. Only 64-hex digests are pulled. Thread-compatible (one window at
// a time; heartbeats may run concurrently on the same channel).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "common/base/status.h"
#include "common/format/block_store.h"

namespace bt {

struct ClientSecurity {
  std::string ca_file;      // empty: plaintext (allowed to a loopback address only)
  std::string cert_file;    // client certificate (mutual TLS)
  std::string key_file;
  std::string server_name;  // overrides the name checked in the server certificate
};

// A channel to `address`, refusing plaintext to a non-loopback address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCloudChannel(const std::string& address,
                                                                const ClientSecurity& security);

struct TransferStats {
  uint64_t bytes = 0;
  int blocks = 0;
  double seconds = 0;
};

class CloudClient {
 public:
  CloudClient(std::shared_ptr<grpc::Channel> channel, std::string edge_id, std::string token);

  absl::StatusOr<blocktrainer::v1::RegisterResponse> Register(const blocktrainer::v1::RegisterRequest& request);
  absl::StatusOr<blocktrainer::v1::HeartbeatResponse> Heartbeat(const blocktrainer::v1::HeartbeatRequest& request);
  absl::StatusOr<blocktrainer::v1::PlanResponse> ReportProbes(const blocktrainer::v1::ReportProbesRequest& request);
  // Pulls every digest the store does not hold yet (resuming partial files), verifying each. `progress` gets
  // (bytes so far, bytes wanted).
  // A chunk that would make a block larger than its declared size (or a declared size over kMaxPullBlockBytes)
  // fails the pull and discards that block's partial file; a partial file the cloud cannot resume (OUT_OF_RANGE)
  // is discarded and the block pulled again from the start, once.
  static constexpr uint64_t kMaxPullBlockBytes = 8ull << 30;
  absl::StatusOr<TransferStats> PullBlocks(const std::vector<std::string>& digests, const BlockStore& store,
                                           std::function<void(uint64_t, uint64_t)> progress = nullptr);
  // Streams the header and then every block's bytes (chunks of ≤ 1 MiB) and returns the new version.
  struct OutgoingBlock {
    std::string name;
    std::string replaces_digest;
    std::string bytes;
  };
  absl::StatusOr<uint64_t> PushUpdate(blocktrainer::v1::PushHeader header, const std::vector<OutgoingBlock>& blocks,
                                      TransferStats* stats = nullptr);

  void set_deadline(std::chrono::milliseconds d) { deadline_ = d; }

 private:
  absl::StatusOr<TransferStats> PullOnce(const std::vector<std::string>& digests, const BlockStore& store,
                                         std::function<void(uint64_t, uint64_t)> progress);
  void Prepare(grpc::ClientContext* context) const;
  std::unique_ptr<blocktrainer::v1::Cloud::Stub> stub_;
  std::string edge_id_;
  std::string token_;
  std::chrono::milliseconds deadline_{30'000};
};

}  // namespace bt
