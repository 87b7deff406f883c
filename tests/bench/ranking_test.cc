// The reports' statistics against values worked out by hand.
#include "bench/ranking.h"

#include <gtest/gtest.h>

#include <cmath>

namespace bt {
namespace {

TEST(Ranking, AverageRanksShareTiesLargestFirst) {
  EXPECT_EQ(AverageRanks({0.3, 0.9, 0.3, 0.1}), (std::vector<double>{2.5, 1.0, 2.5, 4.0}));
  EXPECT_TRUE(AverageRanks({}).empty());
}

TEST(Ranking, SpearmanIsOneForTheSameOrderMinusOneForTheReverseAndWorkedOutOtherwise) {
  EXPECT_DOUBLE_EQ(SpearmanCorrelation({1, 2, 3, 4}, {10, 20, 30, 45}), 1.0);
  EXPECT_DOUBLE_EQ(SpearmanCorrelation({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ranks (largest first) a = 4 3 2 1, b = 3 4 1 2: Σd² = 4, ρ = 1 − 6·4 / (4·15) = 0.6.
  EXPECT_NEAR(SpearmanCorrelation({1, 2, 3, 4}, {2, 1, 4, 3}), 0.6, 1e-12);
  EXPECT_EQ(SpearmanCorrelation({1, 1, 1}, {1, 2, 3}), 0.0);  // no order on one side
  EXPECT_EQ(SpearmanCorrelation({1}, {1}), 0.0);
  EXPECT_EQ(SpearmanCorrelation({1, 2}, {1}), 0.0);
}

TEST(Ranking, RankOfCountsOnlyClearlyBetterValues) {
  EXPECT_EQ(RankOf(0.5, {0.9, 0.5, 0.7, 0.1}), 3u);
  EXPECT_EQ(RankOf(0.9, {0.9, 0.5}), 1u);
  EXPECT_EQ(RankOf(0.5, {0.5 + 1e-15, 0.2}), 1u);
}

TEST(SamplingError, IsTheMeanAbsoluteErrorOfABinomialReading) {
  // 25 images at 50%: one standard error is 10 points, the mean |error| sqrt(2/π) of it.
  EXPECT_NEAR(MeanAbsoluteSamplingError(0.5, 25), 0.1 * std::sqrt(2.0 / M_PI), 1e-12);
  EXPECT_NEAR(MeanAbsoluteSamplingError(0.5, 100), MeanAbsoluteSamplingError(0.5, 25) / 2, 1e-12);  // 1/sqrt(n)
  EXPECT_EQ(MeanAbsoluteSamplingError(1.0, 25), 0.0);  // every output right: nothing to be off by
  EXPECT_EQ(MeanAbsoluteSamplingError(0.5, 0), 0.0);
  EXPECT_EQ(MeanAbsoluteSamplingError(1.5, 25), 0.0);  // clamped into [0, 1]
}

}  // namespace
}  // namespace bt
