#include "edge/intake/sample_intake.h"

#include <spdlog/spdlog.h>

#include "common/train/compute_threads.h"

namespace bt {

void SampleIntake::Start() {
  if (stream_ && !stream_thread_.joinable()) {
    stream_thread_ = std::thread([this] {
      UseOneComputeThread();  // the window's training keeps the cores' OpenMP threads to itself
      absl::Status s = stream_(&cancel_);
      if (!s.ok() && !absl::IsCancelled(s)) spdlog::error("simulator: {}", std::string(s.message()));
    });
  }
  if (spool_ && !spool_thread_.joinable()) spool_thread_ = std::thread([this] {
      UseOneComputeThread();
      PollSpool();
    });
}

void SampleIntake::Stop() {
  cancel_.Cancel();
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (stream_thread_.joinable()) stream_thread_.join();
  if (spool_thread_.joinable()) spool_thread_.join();
}

void SampleIntake::PollSpool() {
  while (true) {
    auto scan = spool_->ScanOnce();
    if (!scan.ok()) {
      spdlog::error("spool: {}", std::string(scan.status().message()));
    } else if (scan->accepted + scan->rejected > 0) {
      spdlog::info("spool: {} accepted, {} rejected (buffer: {} samples)", scan->accepted, scan->rejected,
                   buffer_->size());
    }
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }, poll_interval_);
    if (stopping_) return;
  }
}

}  // namespace bt
