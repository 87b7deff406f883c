#include "edge/window/curve_probe.h"

#include <gtest/gtest.h>

#include "tests/testing/test_models.h"
#include "tests/testing/toy_data.h"

namespace bt {
namespace {

using fixtures::Tiny;

TEST(CurveProbe, MeasuresEveryPlannedRunWithinABudget) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  CurveProbeOptions options;
  options.checkpoints = {5, 10};
  options.batch = 16;
  options.time_budget = std::chrono::minutes(10);
  auto result = ProbeRetrainingCurves(*deployed, fixtures::ToyData(120, 1), options);
  ASSERT_TRUE(result.ok()) << result.status();
  // all-blocks + 4 single blocks + 2 mixed + 2 proxies (encoder layers 0 and 1 at 0.5)
  EXPECT_EQ(result->runs, 9);
  EXPECT_FALSE(result->budget_exhausted);
  ASSERT_EQ(result->points.size(), 18u);
  EXPECT_EQ(result->points[0].shares, (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(result->points[2].shares, (std::vector<double>{1, 0, 0, 0}));
  const ProbePoint& proxy = result->points.back();
  EXPECT_GT(proxy.shares[2], 0.0);
  EXPECT_LT(proxy.shares[2], 1.0);
  EXPECT_GE(result->acc0, 0.0);
  for (const ProbePoint& p : result->points) EXPECT_TRUE(p.iterations == 5 || p.iterations == 10);
  // The points fit a law.
  LawParams prior;
  prior.acc0 = result->acc0;
  prior.weights.assign(4, 0.5);
  EXPECT_TRUE(FitLaw(result->points, prior).ok());
}

TEST(CurveProbe, StopsWhenTheBudgetRunsOut) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  auto now = std::chrono::steady_clock::time_point();
  auto clock = [&] { return now += std::chrono::milliseconds(100); };  // every reading costs 100 ms
  CurveProbeOptions options;
  options.checkpoints = {2};
  options.batch = 8;
  options.time_budget = std::chrono::milliseconds(700);
  auto result = ProbeRetrainingCurves(*deployed, fixtures::ToyData(60, 1), options, clock);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->budget_exhausted);
  EXPECT_GE(result->runs, 1);
  EXPECT_LT(result->runs, 9);
  EXPECT_LE(result->seconds, 0.9);
}

}  // namespace
}  // namespace bt
