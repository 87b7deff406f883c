// bt-edge serve: the edge daemon. It registers with the cloud (and re-registers with backoff whenever the cloud is
// away), heartbeats, feeds its sample buffer (a simulated camera or a spool directory), opens retraining windows
// from its YAML schedule or on request (`bt-edge retrain --now`), and runs each window:
//
//   probe (≤ probe_share of the window) → report → plan from the cloud → pull missing blocks → retrain under the
//   memory budget and the deadline → deploy locally (never worse on the held-out slice) → push to the cloud.
//
// State under edge.data_dir survives restarts: samples.buf (sample buffer), blocks/ (content-addressed block
// files), serving.json (the version and blocks it serves), outbox/ (finished updates the cloud has not accepted
// yet; sent when it is back), results.jsonl (one line per window). Every file is written atomically.
// Serves EdgeAdmin (status, retrain now) on edge.admin_listen. Thread-safe public methods.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "common/cancel.h"
#include "common/config.h"
#include "common/status.h"

namespace bt {

class EdgeDaemon {
 public:
  static absl::StatusOr<std::unique_ptr<EdgeDaemon>> Create(const EdgeConfig& config);
  ~EdgeDaemon();

  // Runs until `cancel` fires; windows in progress stop at their next iteration and leave nothing half-written.
  absl::Status Run(const CancelToken* cancel);

  blocktrainer::v1::EdgeStatus Status() const;
  // Asks for a window now; false (with a reason) if one is running or queued.
  bool RequestWindow(std::string* reason);
  int admin_port() const;

  struct Impl;

 private:
  explicit EdgeDaemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// CLI helpers: query a running daemon over its admin address (empty: edge.admin_listen).
absl::StatusOr<blocktrainer::v1::EdgeStatus> QueryEdgeStatus(const EdgeConfig& config, const std::string& address);
// Asks for a window now; returns the daemon's message, FAILED_PRECONDITION when one is already running or queued.
absl::StatusOr<std::string> StartWindowNow(const EdgeConfig& config, const std::string& address);
absl::Status PrintEdgeStatus(const EdgeConfig& config, const std::string& address, bool json);
absl::Status RequestRetrainNow(const EdgeConfig& config, const std::string& address);

}  // namespace bt
