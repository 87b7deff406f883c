// Where the daemon's samples come from while it runs, in the background: the simulated camera streaming a drift
// scenario (simulator.advance: stream) and a camera's spool directory polled every spool.poll_interval. Each source
// has its own thread, owned here: Start() starts them, Stop() cancels and joins them (within one poll interval or
// one simulated sample), the destructor stops. Failures are logged and the intake keeps going. Thread-safe.
// Torch-free: the simulator is injected as a function.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/cancel.h"
#include "common/base/status.h"
#include "edge/intake/sample_buffer.h"
#include "edge/intake/spool.h"

namespace bt {

class SampleIntake {
 public:
  using Stream = std::function<absl::Status(const CancelToken* cancel)>;  // runs until cancelled or done
  // Either may be empty/null.
  SampleIntake(Stream stream, std::unique_ptr<Spool> spool, std::chrono::milliseconds poll_interval,
               const SampleBuffer* buffer)
      : stream_(std::move(stream)), spool_(std::move(spool)), poll_interval_(poll_interval), buffer_(buffer) {}
  ~SampleIntake() { Stop(); }
  SampleIntake(const SampleIntake&) = delete;
  SampleIntake& operator=(const SampleIntake&) = delete;

  void Start();
  void Stop();

 private:
  void PollSpool();

  Stream stream_;
  std::unique_ptr<Spool> spool_;
  const std::chrono::milliseconds poll_interval_;
  const SampleBuffer* buffer_;
  CancelToken cancel_;
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread stream_thread_, spool_thread_;
};

}  // namespace bt
