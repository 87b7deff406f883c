#include "common/base/logging.h"

#include <gtest/gtest.h>

#include <vector>

namespace bt {
namespace {

TEST(ProgressReporter, EmitsAtIntervalWithRateAndEta) {
  auto now = std::chrono::steady_clock::time_point();
  std::vector<std::string> lines;
  ProgressReporter progress("job", 100, "steps", std::chrono::seconds(10),
                            [&](const std::string& line) { lines.push_back(line); }, [&] { return now; });
  now += std::chrono::seconds(5);
  progress.Update(10);
  EXPECT_TRUE(lines.empty()) << "no line before the interval has passed";
  now += std::chrono::seconds(5);
  progress.Update(20, "loss 0.5");
  ASSERT_EQ(lines.size(), 1u);
  // 20 steps in 10 s = 2/s; 80 left -> 40 s.
  EXPECT_EQ(lines[0], "job: 20/100 steps (20.0%), 2.0 steps/s, ETA 40.0s, loss 0.5");
  now += std::chrono::seconds(1);
  progress.Update(100);
  EXPECT_EQ(lines.size(), 2u) << "the final unit always reports";
}

}  // namespace
}  // namespace bt
