// Cooperative cancellation for long jobs (pretraining, evaluation, later retraining windows).
#pragma once

#include <atomic>

namespace bt {

// A flag that a job polls between units of work. Thread-safe; Cancel() is async-signal-safe, so a SIGINT handler
// may call it. The owner creates it and outlives every job that holds a pointer to it.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// Routes SIGINT and SIGTERM to `token` (first signal cancels; a second one exits immediately with status 130).
// For command-line jobs; the daemons install their own shutdown handling.
void CancelOnSignals(CancelToken* token);

}  // namespace bt
