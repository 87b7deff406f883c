#include "common/base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_format.h"
#include "common/base/units.h"

namespace bt {

absl::Status InitLogging(const std::string& level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level '", level, "' (trace, debug, info, warn, error, critical, off)"));
  }
  auto logger = spdlog::stderr_color_mt("bt");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

ProgressReporter::ProgressReporter(std::string what, int64_t total, std::string unit,
                                   std::chrono::milliseconds interval, Sink sink, Clock clock)
    : what_(std::move(what)),
      total_(total),
      unit_(std::move(unit)),
      interval_(interval),
      sink_(sink ? std::move(sink) : Sink([](const std::string& line) { spdlog::info("{}", line); })),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      start_(clock_()),
      last_emit_(start_) {}

double ProgressReporter::Rate() const {
  double seconds = std::chrono::duration<double>(clock_() - start_).count();
  return seconds > 0 ? done_ / seconds : 0.0;
}

std::string ProgressReporter::Line(const std::string& detail) const {
  double rate = Rate();
  std::string eta = "?";
  if (rate > 0 && total_ > 0) {
    eta = FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(1000.0 * (total_ - done_) / rate)));
  }
  double percent = total_ > 0 ? 100.0 * done_ / total_ : 0.0;
  std::string line = absl::StrFormat("%s: %d/%d %s (%.1f%%), %.1f %s/s, ETA %s", what_, done_, total_, unit_,
                                     percent, rate, unit_, eta);
  if (!detail.empty()) absl::StrAppend(&line, ", ", detail);
  return line;
}

void ProgressReporter::Update(int64_t done, const std::string& detail) {
  done_ = done;
  auto now = clock_();
  if (done_ >= total_ || now - last_emit_ >= interval_) {
    last_emit_ = now;
    sink_(Line(detail));
  }
}

}  // namespace bt
