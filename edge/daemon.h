// bt-edge serve: the edge daemon. It wires its parts together and runs windows one at a time:
//
//   CloudLink (edge/cloud_link.h)      registers with the cloud (backoff while it is away) and heartbeats
//   SampleIntake (edge/intake/sample_intake.h) the simulated camera (stream mode) and the spool directory, in the background
//   WindowSchedule (edge/window_schedule.h) when a window opens: retrain.schedule, or `bt-edge retrain --now`
//   RunWindow (edge/window/window_runner.h)   probe → plan (the cloud, RemotePlanSource) → pull → retrain, for each window
//   ServingState (edge/serving_state.h) the model served and its version, serving.json
//   Outbox (edge/outbox.h)             finished updates until the cloud accepts them
//   StatusBoard (edge/status_board.h)  state, progress, recent results, results.jsonl
//   EdgeAdminServer (edge/admin_service.h) `bt-edge status` and `bt-edge retrain --now` on edge.admin_listen
//
// State under edge.data_dir survives restarts: samples.buf (sample buffer), blocks/ (content-addressed block
// files), serving.json, simulator.json (the simulated camera's next domain), outbox/, results.jsonl (one line per
// window, appended durably). Files other than the append-only results are written atomically.
//
// Threads: Run's caller runs the windows; the link, the intake and gRPC have their own (owned by those parts). Run
// returns after `cancel` fires, with every part stopped in order (intake, link, admin); the destructor does the
// same for a daemon that never ran. Status and RequestWindow are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

class EdgeDaemon {
 public:
  static absl::StatusOr<std::unique_ptr<EdgeDaemon>> Create(const EdgeConfig& config);
  ~EdgeDaemon();

  // Runs until `cancel` fires; a window in progress stops at its next iteration and leaves nothing half-written.
  absl::Status Run(const CancelToken* cancel);

  blocktrainer::v1::EdgeStatus Status() const;
  // Asks for a window now; false (with a reason) if one is running or queued.
  bool RequestWindow(std::string* reason);
  int admin_port() const;

  struct Impl;

 private:
  explicit EdgeDaemon(std::unique_ptr<Impl> impl);
  void Shutdown();
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt
