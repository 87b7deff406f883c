// Bounds on bt-cloud's streaming calls (PullBlocks, PushUpdate): at most `max_streams` open at once (more are
// refused RESOURCE_EXHAUSTED), and a stream that makes no progress — no message read, no chunk written — for
// `idle` is cancelled, so that idle or deliberately slow peers cannot hold the cloud's memory and file mappings.
//
// A reactor takes a Slot when it starts, touches it on every read or write, and marks it done in OnDone; a watcher
// thread cancels idle slots' calls. The slot outlives the reactor (shared), and cancellation happens under the
// slot's (recursive) mutex, so a call is never cancelled after gRPC has finished it. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bt {

class StreamWatch {
 public:
  class Slot {
   public:
    explicit Slot(grpc::CallbackServerContext* context) : context_(context) { Touch(); }
    void Touch() { last_ns_.store(Now(), std::memory_order_relaxed); }
    // The call finished (OnDone): never cancelled after this.
    void Done();
    bool cancelled() const { return cancelled_.load(); }

   private:
    friend class StreamWatch;
    static int64_t Now() {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    }
    std::recursive_mutex mu_;
    grpc::CallbackServerContext* context_;  // null once done
    std::atomic<int64_t> last_ns_{0};
    std::atomic<bool> cancelled_{false};
  };

  StreamWatch(std::chrono::milliseconds idle, size_t max_streams);
  ~StreamWatch();
  StreamWatch(const StreamWatch&) = delete;
  StreamWatch& operator=(const StreamWatch&) = delete;

  // A slot for a new call; null when `max_streams` calls are open already.
  std::shared_ptr<Slot> Open(grpc::CallbackServerContext* context);
  size_t open_streams() const;
  std::chrono::milliseconds idle() const { return idle_; }

 private:
  void Run();
  const std::chrono::milliseconds idle_;
  const size_t max_streams_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::thread watcher_;
};

}  // namespace bt
