// Logging set-up (spdlog, configured once per process) and progress reporting for long jobs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"

namespace bt {

// Configures the default spdlog logger: stderr, "[time] [level] message". `level` is one of trace, debug, info,
// warn, error, critical, off. Call once from main() before any other thread starts.
absl::Status InitLogging(const std::string& level);

// Logs a periodic progress line for a job of known size: done/total, percentage, rate and ETA, plus a
// caller-supplied detail (e.g. the current loss). Lines are emitted at most every `interval`, and always for the
// last unit of work. Not thread-safe: one reporter per job, updated from the job's thread. The clock is injectable
// for tests.
class ProgressReporter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `sink` receives each formatted line; by default lines go to spdlog at info level.
  using Sink = std::function<void(const std::string&)>;

  ProgressReporter(std::string what, int64_t total, std::string unit, std::chrono::milliseconds interval,
                   Sink sink = nullptr, Clock clock = nullptr);

  // Records that `done` units (cumulative) are complete; may emit a line.
  void Update(int64_t done, const std::string& detail = "");
  // Units per second since the start.
  double Rate() const;
  // Formats the line for the current state without emitting it.
  std::string Line(const std::string& detail) const;

 private:
  std::string what_;
  int64_t total_;
  std::string unit_;
  std::chrono::milliseconds interval_;
  Sink sink_;
  Clock clock_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_emit_;
  int64_t done_ = 0;
};

}  // namespace bt
