// The retraining calendar on an injected clock: windows open once per occurrence, with enough time left, across
// midnight and in a time zone; requests come first and queue at most one.
#include "edge/window_schedule.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

// 2026-11-30 was a Monday. Unix time of that day at hh:mm UTC.
int64_t Monday(int hh, int mm, int ss = 0) { return 1795996800 + hh * 3600 + mm * 60 + ss; }

TEST(WindowSchedule, OpensEachOccurrenceOnceWithTheTimeLeft) {
  int64_t now = Monday(1, 59);
  auto s = *WindowSchedule::Create({"daily 02:00-02:30"}, "UTC", std::chrono::minutes(2), [&] { return now; });
  EXPECT_FALSE(s->Poll().has_value());
  now = Monday(2, 10, 30);
  auto opening = s->Poll();
  ASSERT_TRUE(opening.has_value());
  EXPECT_EQ(opening->length, std::chrono::seconds(19 * 60 + 30));
  EXPECT_EQ(opening->id.rfind("sched-", 0), 0u);
  EXPECT_FALSE(s->Poll().has_value());  // the same occurrence does not open twice
  now = Monday(2, 29, 55);
  EXPECT_FALSE(s->Poll().has_value());
  now = Monday(2, 5) + 86400;  // the next day's occurrence
  EXPECT_TRUE(s->Poll().has_value());
}

TEST(WindowSchedule, TooLittleTimeLeftDoesNotOpen) {
  int64_t now = Monday(2, 29, 52);  // 8 s left
  auto s = *WindowSchedule::Create({"daily 02:00-02:30"}, "UTC", std::chrono::minutes(2), [&] { return now; });
  EXPECT_FALSE(s->Poll().has_value());
}

TEST(WindowSchedule, DaysTimeZonesAndMidnight) {
  int64_t now = Monday(23, 30);  // Monday 23:30 UTC = Tuesday 00:30 at +01:00
  auto tue = *WindowSchedule::Create({"tue 00:00-01:00"}, "+01:00", std::chrono::minutes(2), [&] { return now; });
  auto opening = tue->Poll();
  ASSERT_TRUE(opening.has_value());
  EXPECT_EQ(opening->length, std::chrono::minutes(30));
  auto mon = *WindowSchedule::Create({"mon 00:00-01:00"}, "+01:00", std::chrono::minutes(2), [&] { return now; });
  EXPECT_FALSE(mon->Poll().has_value());
  // A Monday window from 23:00 to 01:00 is still open on Tuesday at 00:30, with 30 minutes left.
  now = Monday(0, 30) + 86400;
  auto night = *WindowSchedule::Create({"mon 23:00-01:00"}, "UTC", std::chrono::minutes(2), [&] { return now; });
  opening = night->Poll();
  ASSERT_TRUE(opening.has_value());
  EXPECT_EQ(opening->length, std::chrono::minutes(30));
}

TEST(WindowSchedule, RequestsComeFirstAndQueueOnce) {
  int64_t now = Monday(12, 0);
  auto s = *WindowSchedule::Create({}, "UTC", std::chrono::seconds(90), [&] { return now; });
  EXPECT_EQ(s->Describe(), "on request (bt-edge retrain --now)");
  EXPECT_FALSE(s->Poll().has_value());
  std::string reason;
  EXPECT_TRUE(s->Request(&reason));
  EXPECT_FALSE(s->Request(&reason));
  EXPECT_EQ(reason, "a window is already queued");
  auto opening = s->Next(nullptr);  // returns at once: a request is queued
  ASSERT_TRUE(opening.has_value());
  EXPECT_EQ(opening->length, std::chrono::seconds(90));
  EXPECT_EQ(opening->id, "now-" + std::to_string(now));
  EXPECT_TRUE(s->Request(&reason));  // the queue is free again
}

TEST(WindowSchedule, NextReturnsWhenCancelled) {
  auto s = *WindowSchedule::Create({}, "UTC", std::chrono::seconds(90));
  CancelToken cancel;
  cancel.Cancel();
  EXPECT_FALSE(s->Next(&cancel).has_value());
}

TEST(WindowSchedule, BadSpecsNameTheSpec) {
  auto s = WindowSchedule::Create({"sometimes 02:00"}, "UTC", std::chrono::seconds(90));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("sometimes 02:00"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace bt
