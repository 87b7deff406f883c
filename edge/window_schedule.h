// When the edge retrains: the windows of retrain.schedule ("daily 02:00-02:30", "mon,tue 13:00-13:10", in
// retrain.time_zone; a window may cross midnight) and windows asked for now (`bt-edge retrain --now`, at most one
// queued). Each scheduled occurrence opens once, and only with more than 10 s of it left; a request opens a window
// of retrain.window. The clock is injected (Unix seconds), so the calendar arithmetic is testable.
//
// Thread-safe: Request and Wake may be called from any thread while another waits in Next.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

class WindowSchedule {
 public:
  using UnixClock = std::function<int64_t()>;
  struct Opening {
    std::string id;  // "now-<unix time>" or "sched-<unix time>"
    std::chrono::milliseconds length{0};
  };

  // Every spec must parse (ParseWindowSpec); errors name the spec.
  static absl::StatusOr<std::unique_ptr<WindowSchedule>> Create(const std::vector<std::string>& specs,
                                                                const std::string& time_zone,
                                                                std::chrono::milliseconds on_request_length,
                                                                UnixClock clock = nullptr);

  // Queues a window now; false with the reason when one is already queued.
  bool Request(std::string* reason);
  bool requested() const;

  // The window to open now, if any: a queued request first, then a scheduled occurrence that is open, has more
  // than 10 s left and has not opened yet (it is marked as opened).
  std::optional<Opening> Poll();
  // Polls once a second (or when woken) until a window opens or `cancel` fires (nullopt).
  std::optional<Opening> Next(const CancelToken* cancel);
  void Wake();

  // "daily 02:00-02:30 UTC; ..." or "on request (bt-edge retrain --now)".
  std::string Describe() const;

 private:
  WindowSchedule(std::vector<std::pair<std::string, WindowSpec>> specs, std::string time_zone, int offset_minutes,
                 std::chrono::milliseconds on_request_length, UnixClock clock);

  const std::vector<std::pair<std::string, WindowSpec>> specs_;
  const std::string time_zone_;
  const int offset_minutes_;
  const std::chrono::milliseconds on_request_length_;
  const UnixClock clock_;
  mutable Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int64_t> opened_ ABSL_GUARDED_BY(mu_);  // occurrence key → when it opened
};

}  // namespace bt
