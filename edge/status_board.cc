#include "edge/status_board.h"

#include <algorithm>

#include "common/base/file_util.h"

namespace bt {

namespace v1 = blocktrainer::v1;

const char* EdgeStateName(EdgeState state) {
  switch (state) {
    case EdgeState::kStarting: return "starting";
    case EdgeState::kIdle: return "idle";
    case EdgeState::kDisconnected: return "disconnected";
    case EdgeState::kProbing: return "probing";
    case EdgeState::kPlanning: return "planning";
    case EdgeState::kPulling: return "pulling";
    case EdgeState::kRacing: return "racing";
    case EdgeState::kTraining: return "training";
    case EdgeState::kPushing: return "pushing";
  }
  return "unknown";
}

nlohmann::ordered_json WindowResultJson(const v1::WindowResult& r) {
  return {{"window_id", r.window_id()},
          {"domain", r.domain_hint()},
          {"outcome", r.outcome()},
          {"accuracy_before", r.accuracy_before()},
          {"accuracy_after", r.accuracy_after()},
          {"predicted_accuracy", r.predicted_accuracy()},
          {"peak_memory_bytes", r.peak_memory_bytes()},
          {"predicted_memory_bytes", r.predicted_memory_bytes()},
          {"train_seconds", r.train_seconds()},
          {"iterations", r.iterations()},
          {"bytes_down", r.bytes_down()},
          {"bytes_up", r.bytes_up()},
          {"plan", r.plan()},
          {"version", r.version()}};
}

void StatusBoard::SetState(EdgeState state, double progress) {
  MutexLock lock(&mu_);
  state_ = state;
  if (progress >= 0) progress_ = progress;
}

EdgeState StatusBoard::state() const {
  MutexLock lock(&mu_);
  return state_;
}

void StatusBoard::BeginWindow(const std::string& id, std::chrono::milliseconds length) {
  MutexLock lock(&mu_);
  window_id_ = id;
  window_end_ = std::chrono::steady_clock::now() + length;
  progress_ = 0;
  v1::WindowResult r;
  r.set_window_id(id);
  r.set_outcome("running");
  recent_.push_front(r);
  while (recent_.size() > 20) recent_.pop_back();
}

void StatusBoard::UpdateResult(const std::string& id, const std::function<void(v1::WindowResult*)>& update) {
  MutexLock lock(&mu_);
  for (v1::WindowResult& r : recent_) {
    if (r.window_id() == id) update(&r);
  }
}

absl::Status StatusBoard::EndWindow(EdgeState next_state) {
  std::string line;
  {
    MutexLock lock(&mu_);
    state_ = next_state;
    if (!window_id_.empty() && !recent_.empty() && recent_.front().window_id() == window_id_) {
      line = WindowResultJson(recent_.front()).dump() + "\n";
    }
    window_id_.clear();
    progress_ = 0;
  }
  if (line.empty() || results_path_.empty()) return absl::OkStatus();
  return AppendToFileDurably(results_path_, line);
}

std::string StatusBoard::running_window() const {
  MutexLock lock(&mu_);
  return window_id_;
}

void StatusBoard::NotePeak(int64_t bytes) {
  MutexLock lock(&mu_);
  peak_bytes_ = std::max(peak_bytes_, bytes);
}

void StatusBoard::Fill(v1::EdgeStatus* out) const {
  MutexLock lock(&mu_);
  out->set_state(EdgeStateName(state_));
  out->set_window_id(window_id_);
  out->set_progress(progress_);
  if (!window_id_.empty()) {
    out->set_eta_seconds(
        std::max(0.0, std::chrono::duration<double>(window_end_ - std::chrono::steady_clock::now()).count()));
  }
  out->set_peak_memory_bytes(peak_bytes_);
  for (const v1::WindowResult& r : recent_) *out->add_recent() = r;
}

}  // namespace bt
