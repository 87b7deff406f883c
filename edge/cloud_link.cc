#include "edge/cloud_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/base/units.h"
#include "common/train/compute_threads.h"

namespace bt {

CloudLink::~CloudLink() { Stop(); }

void CloudLink::Start() {
  MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    UseOneComputeThread();  // adopting a version builds tensors; the window's training keeps the OpenMP threads
    Loop();
  });
}

void CloudLink::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool CloudLink::connected() const {
  MutexLock lock(&mu_);
  return connected_;
}

bool CloudLink::WaitConnected(std::chrono::milliseconds timeout) const {
  MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return connected_ || stopping_; };
  mu_.Await(ready, timeout);
  return connected_;
}

void CloudLink::Reconnect() {
  MutexLock lock(&mu_);
  reconnect_ = true;
  beat_now_ = true;
}

void CloudLink::HeartbeatNow() {
  MutexLock lock(&mu_);
  beat_now_ = true;
}

int CloudLink::registrations() const {
  MutexLock lock(&mu_);
  return registrations_;
}

bool CloudLink::WaitFor(std::chrono::milliseconds d) {
  auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || beat_now_; };
  mu_.Await(wake, d);
  beat_now_ = false;
  return !stopping_;
}

void CloudLink::Loop() {
  std::chrono::milliseconds backoff = timing_.first_backoff;
  bool registered = false;
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      if (reconnect_) {
        reconnect_ = false;
        registered = false;
      }
    }
    if (!registered) {
      const absl::Status s = calls_.on_register();
      if (s.ok()) {
        MutexLock lock(&mu_);
        registered = true;
        connected_ = true;
        ++registrations_;
        backoff = timing_.first_backoff;
        continue;  // heartbeat at once
      }
      {
        MutexLock lock(&mu_);
        connected_ = false;
      }
      spdlog::warn("cannot reach bt-cloud: {} (retrying in {})", std::string(s.message()), FormatDuration(backoff));
      if (calls_.on_disconnected) calls_.on_disconnected();
      MutexLock lock(&mu_);
      if (!WaitFor(backoff)) return;
      backoff = std::min(backoff * 2, timing_.max_backoff);
      continue;
    }
    const absl::Status beat = calls_.heartbeat();
    if (!beat.ok()) {
      bool was_connected;
      {
        MutexLock lock(&mu_);
        was_connected = std::exchange(connected_, false);
      }
      registered = false;
      if (was_connected) spdlog::warn("heartbeat failed: {}; reconnecting with backoff", std::string(beat.message()));
      if (calls_.on_disconnected) calls_.on_disconnected();
      continue;
    }
    MutexLock lock(&mu_);
    if (reconnect_) continue;
    if (!WaitFor(timing_.heartbeat_interval)) return;
  }
}

}  // namespace bt
