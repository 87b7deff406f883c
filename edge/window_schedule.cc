#include "edge/window_schedule.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bt {

absl::StatusOr<std::unique_ptr<WindowSchedule>> WindowSchedule::Create(const std::vector<std::string>& specs,
                                                                       const std::string& time_zone,
                                                                       std::chrono::milliseconds on_request_length,
                                                                       UnixClock clock) {
  std::vector<std::pair<std::string, WindowSpec>> parsed;
  for (const std::string& text : specs) {
    auto spec = ParseWindowSpec(text);
    if (!spec.ok()) return Annotate(spec.status(), absl::StrCat("retrain.schedule '", text, "'"));
    parsed.emplace_back(text, *spec);
  }
  auto offset = ParseTimeZoneOffset(time_zone);
  if (!offset.ok()) return Annotate(offset.status(), "retrain.time_zone");
  if (!clock) clock = [] { return static_cast<int64_t>(std::time(nullptr)); };
  return std::unique_ptr<WindowSchedule>(
      new WindowSchedule(std::move(parsed), time_zone, *offset, on_request_length, std::move(clock)));
}

WindowSchedule::WindowSchedule(std::vector<std::pair<std::string, WindowSpec>> specs, std::string time_zone,
                               int offset_minutes, std::chrono::milliseconds on_request_length, UnixClock clock)
    : specs_(std::move(specs)),
      time_zone_(std::move(time_zone)),
      offset_minutes_(offset_minutes),
      on_request_length_(on_request_length),
      clock_(std::move(clock)) {}

bool WindowSchedule::Request(std::string* reason) {
  MutexLock lock(&mu_);
  if (requested_) {
    *reason = "a window is already queued";
    return false;
  }
  requested_ = true;
  woken_ = true;
  *reason = "window requested";
  return true;
}

bool WindowSchedule::requested() const {
  MutexLock lock(&mu_);
  return requested_;
}

void WindowSchedule::Wake() {
  MutexLock lock(&mu_);
  woken_ = true;
}

std::optional<WindowSchedule::Opening> WindowSchedule::Poll() {
  const int64_t unix_now = clock_();
  MutexLock lock(&mu_);
  if (requested_) {
    requested_ = false;
    return Opening{absl::StrCat("now-", unix_now), on_request_length_};
  }
  const int64_t local = unix_now + int64_t{offset_minutes_} * 60;
  const int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const int64_t second_of_day = local - day * 86400;
  const int minute = static_cast<int>(second_of_day / 60);
  const int weekday = static_cast<int>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday; 0 = Sunday
  for (const auto& [text, spec] : specs_) {
    for (int back = 0; back <= 1; ++back) {  // an occurrence that started yesterday and crosses midnight
      const int wd = (weekday - back + 7) % 7;
      if (!(spec.days & (1 << wd))) continue;
      const int start = spec.start_minute - back * 1440;
      int end = spec.end_minute - back * 1440;
      if (spec.end_minute <= spec.start_minute) end += 1440;
      if (minute < start || minute >= end) continue;
      const int64_t left_seconds = int64_t{end - minute} * 60 - second_of_day % 60;
      const std::string key = absl::StrCat(day - back, " ", text);
      if (left_seconds <= 10 || opened_.count(key)) continue;
      opened_[key] = unix_now;
      return Opening{absl::StrCat("sched-", unix_now), std::chrono::seconds(left_seconds)};
    }
  }
  return std::nullopt;
}

std::optional<WindowSchedule::Opening> WindowSchedule::Next(const CancelToken* cancel) {
  while (cancel == nullptr || !cancel->cancelled()) {
    if (auto opening = Poll()) return opening;
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_; }, std::chrono::seconds(1));
    woken_ = false;
  }
  return std::nullopt;
}

std::string WindowSchedule::Describe() const {
  if (specs_.empty()) return "on request (bt-edge retrain --now)";
  std::vector<std::string> texts;
  for (const auto& [text, spec] : specs_) texts.push_back(text);
  return absl::StrCat(absl::StrJoin(texts, "; "), " ", time_zone_);
}

}  // namespace bt
