#include "edge/window/held_out_score.h"

#include <gtest/gtest.h>

#include <cmath>

namespace bt {
namespace {

// `correct` of `n` outputs right: the first `correct`, or shifted by `offset` (wrapping) so that two scores with the
// same accuracy can disagree on which outputs they get right.
HeldOutScore Score(int correct, int n, double loss = 1.0, int offset = 0) {
  HeldOutScore s;
  s.hits.assign(static_cast<size_t>(n), 0);
  for (int i = 0; i < correct; ++i) s.hits[static_cast<size_t>((i + offset) % n)] = 1;
  s.accuracy = static_cast<double>(correct) / n;
  s.loss = loss;
  return s;
}

TEST(PairedStandardError, IsTheStandardErrorOfTheMeanPerOutputDifference) {
  // a right on 0..3, b right on 2..5 of 8: differences +1 +1 0 0 -1 -1 0 0, mean 0, sample variance 4/7.
  const HeldOutScore a = Score(4, 8), b = Score(4, 8, 1.0, 2);
  EXPECT_NEAR(PairedStandardError(a.hits, b.hits), std::sqrt((4.0 / 7.0) / 8.0), 1e-12);
  EXPECT_EQ(PairedStandardError(a.hits, a.hits), 0.0);  // the same outputs right: no doubt at all
}

TEST(PairedStandardError, IsZeroWithoutComparableHits) {
  EXPECT_EQ(PairedStandardError({}, {}), 0.0);
  EXPECT_EQ(PairedStandardError({1, 0, 1}, {1, 0}), 0.0);
  EXPECT_EQ(PairedStandardError({1}, {0}), 0.0);
}

TEST(CheckpointChoice, TakesTheLaterOfTwoCheckpointsWithinOneStandardErrorOfTheBest) {
  CheckpointChoice choice;
  EXPECT_TRUE(choice.Offer(Score(10, 25)));  // before training
  EXPECT_TRUE(choice.Offer(Score(16, 25)));  // the best so far
  // One output fewer right, on other outputs: well within one paired standard error of the best.
  const HeldOutScore later = Score(15, 25, 1.0, 3);
  ASSERT_LE(16.0 / 25 - 15.0 / 25, PairedStandardError(later.hits, choice.best_seen().hits));
  EXPECT_TRUE(choice.Offer(later));
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 15.0 / 25);
  EXPECT_DOUBLE_EQ(choice.best_seen().accuracy, 16.0 / 25);
}

TEST(CheckpointChoice, KeepsTheBestWhenALaterCheckpointIsClearlyWorse) {
  CheckpointChoice choice;
  choice.Offer(Score(50, 200));
  choice.Offer(Score(150, 200));
  // 40 fewer right out of 200, every one of them among the best's: far beyond one standard error.
  EXPECT_FALSE(choice.Offer(Score(110, 200)));
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 150.0 / 200);
}

TEST(CheckpointChoice, NeverTakesACheckpointThatDoesNotBeatTheModelBeforeTraining) {
  CheckpointChoice choice;
  choice.Offer(Score(12, 25));            // before training
  EXPECT_TRUE(choice.Offer(Score(13, 25)));
  // Within one standard error of the best (13), but below the start (12): not taken.
  const HeldOutScore worse = Score(11, 25, 1.0, 5);
  ASSERT_LE(13.0 / 25 - 11.0 / 25, PairedStandardError(worse.hits, choice.best_seen().hits));
  EXPECT_FALSE(choice.Offer(worse));
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 13.0 / 25);
}

TEST(CheckpointChoice, WithoutHitsTakesOnlyAScoreAboveEveryEarlierOne) {
  CheckpointChoice choice;
  EXPECT_TRUE(choice.Offer(HeldOutScore{-2.0, 0, {}}));  // label-free: the negated objective
  EXPECT_TRUE(choice.Offer(HeldOutScore{-1.0, 0, {}}));
  EXPECT_FALSE(choice.Offer(HeldOutScore{-1.01, 0, {}}));
  EXPECT_FALSE(choice.Offer(HeldOutScore{-1.0, 0, {}}));  // a tie is not above
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, -1.0);
}

TEST(CheckpointChoice, AtEqualAccuracyTheLowerLossRanksFirst) {
  CheckpointChoice choice;
  choice.Offer(Score(5, 10, 2.0));
  EXPECT_TRUE(choice.Offer(Score(5, 10, 1.5)));  // identical hits: no standard error, the loss decides
  EXPECT_FALSE(choice.Offer(Score(5, 10, 1.7)));
  EXPECT_DOUBLE_EQ(choice.kept().loss, 1.5);
}

}  // namespace
}  // namespace bt
