// The edge's link to bt-cloud: one thread that registers (retrying with exponential backoff, 0.5 s doubling to
// 30 s, while the cloud is away), then heartbeats every interval, and registers again when a heartbeat fails or the
// caller says the branch moved. What registering means (adopting the branch head, delivering the outbox) is the
// caller's `on_register`; a failure there counts as the cloud being away.
//
// Owns its thread: Start() starts it, Stop() ends it (an RPC in flight finishes within its deadline) and the
// destructor stops and joins. Thread-safe: connected(), Reconnect() and HeartbeatNow() may be called from any
// thread. Torch-free; the calls are injected, so tests run it against fakes.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/status.h"

namespace bt {

class CloudLink {
 public:
  struct Calls {
    std::function<absl::Status()> on_register;   // register with the cloud and catch up (adopt head, outbox)
    std::function<absl::Status()> heartbeat;     // one heartbeat; an error means the cloud is away
    std::function<void()> on_disconnected;       // the link went down (for status)
  };
  struct Timing {
    std::chrono::milliseconds heartbeat_interval{10'000};
    std::chrono::milliseconds first_backoff{500};
    std::chrono::milliseconds max_backoff{30'000};
  };

  CloudLink(Calls calls, Timing timing) : calls_(std::move(calls)), timing_(timing) {}
  ~CloudLink();
  CloudLink(const CloudLink&) = delete;
  CloudLink& operator=(const CloudLink&) = delete;

  void Start();
  void Stop();

  bool connected() const;
  // Blocks until connected, `timeout` passes or Stop(); returns connected().
  bool WaitConnected(std::chrono::milliseconds timeout) const;
  // Drop the registration: the next turn registers again (a plan refused because the branch moved).
  void Reconnect();
  // Heartbeat at once instead of at the next interval (a window just ended).
  void HeartbeatNow();

  int registrations() const;  // successful registrations so far (for tests and status)

 private:
  void Loop();
  bool WaitFor(std::chrono::milliseconds d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // false when stopping

  const Calls calls_;
  const Timing timing_;
  mutable Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool reconnect_ ABSL_GUARDED_BY(mu_) = false;
  bool beat_now_ ABSL_GUARDED_BY(mu_) = false;
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace bt
