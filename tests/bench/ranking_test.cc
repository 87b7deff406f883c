// The oracle's rank statistics against values worked out by hand.
#include "bench/ranking.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace bt
