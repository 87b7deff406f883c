// The project's mutex: std::mutex (so ThreadSanitizer sees every lock through its pthread interceptors, which it
// cannot for Debian's uninstrumented absl::Mutex) with clang's thread-safety annotations (so -Wthread-safety checks
// every ABSL_GUARDED_BY field). Await blocks, the lock held, until a condition over guarded state holds or a timeout
// passes; every Unlock wakes the waiters to re-check, so no caller has to remember to notify.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace bt {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.unlock();
    cv_.notify_all();
  }
  // Waits until `done()` (called with the lock held) or `timeout`; returns done(). The lock is held on return.
  template <typename Done>
  bool Await(Done done, std::chrono::steady_clock::duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    const bool ok = cv_.wait_until(lock, std::chrono::steady_clock::now() + timeout, done);
    lock.release();
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace bt
