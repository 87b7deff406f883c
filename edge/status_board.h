// What `bt-edge status` shows and the cloud's heartbeats carry: the daemon's state (starting, idle, probing,
// planning, pulling, training, pushing, disconnected), the window running and its progress, the peak memory of
// windows so far, and the last 20 window results (also appended, one JSON line each, to results.jsonl when a
// window ends). Thread-safe: the window thread writes, the admin service and the cloud link read.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/base/status.h"
#include "nlohmann/json.hpp"

namespace bt {

// What the edge is doing; Name() is what status and heartbeats carry.
enum class EdgeState { kStarting, kIdle, kDisconnected, kProbing, kPlanning, kPulling, kRacing, kTraining, kPushing };
const char* EdgeStateName(EdgeState state);

// One window's result as JSON: a line of results.jsonl and an entry of `bt-edge status --json`.
nlohmann::ordered_json WindowResultJson(const blocktrainer::v1::WindowResult& r);

class StatusBoard {
 public:
  explicit StatusBoard(std::string results_path) : results_path_(std::move(results_path)) {}

  void SetState(EdgeState state, double progress = -1);
  EdgeState state() const;
  // A window opens: it becomes the running window with a "running" result at the front of the recent results.
  void BeginWindow(const std::string& id, std::chrono::milliseconds length);
  void UpdateResult(const std::string& id, const std::function<void(blocktrainer::v1::WindowResult*)>& update);
  // The running window ends: state becomes `next_state`, its result is appended to results.jsonl.
  absl::Status EndWindow(EdgeState next_state);
  std::string running_window() const;  // empty when none
  void NotePeak(int64_t bytes);

  // State, window, progress, ETA, peak and recent results into `out`.
  void Fill(blocktrainer::v1::EdgeStatus* out) const;

 private:
  const std::string results_path_;
  mutable Mutex mu_;
  EdgeState state_ ABSL_GUARDED_BY(mu_) = EdgeState::kStarting;
  std::string window_id_ ABSL_GUARDED_BY(mu_);
  double progress_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point window_end_ ABSL_GUARDED_BY(mu_);
  int64_t peak_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<blocktrainer::v1::WindowResult> recent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bt
