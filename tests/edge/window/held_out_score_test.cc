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

TEST(PairedStandardError, OfSequencesIsTakenOverTheirMeanDifferences) {
  // 4 sequences of 4 tokens: a gets the first two sequences wholly right, b the last two. Per sequence the mean
  // difference is +1 +1 -1 -1: mean 0, sample variance 4/3, over 4 samples. Taken over 16 tokens as if independent
  // it would be less than half of that.
  const HeldOutScore a = Score(8, 16), b = Score(8, 16, 1.0, 8);
  EXPECT_NEAR(PairedStandardError(a.hits, b.hits, 4), std::sqrt((4.0 / 3.0) / 4.0), 1e-12);
  EXPECT_NEAR(PairedStandardError(a.hits, b.hits, 1), std::sqrt((16.0 / 15.0) / 16.0), 1e-12);
  // A length that is not whole sequences is taken over outputs; one sequence alone has no error to measure.
  EXPECT_EQ(PairedStandardError(a.hits, b.hits, 5), PairedStandardError(a.hits, b.hits, 1));
  EXPECT_EQ(PairedStandardError(a.hits, b.hits, 16), 0.0);
}

TEST(ClearlyAbove, TakesTheErrorOverSamplesWhenTheirOutputsComeInSequences) {
  // 8 sequences of 8 tokens: a is right on 4 tokens of the first sequence and 1 of the third, b on 1 of the second.
  // 4 tokens of 64 (6.25 points) is more than one error taken over tokens (3.8), not over sequences (6.7).
  HeldOutScore a = Score(0, 64), b = Score(0, 64);
  for (size_t i = 0; i < 4; ++i) a.hits[i] = 1;
  a.hits[16] = 1;
  b.hits[8] = 1;
  a.accuracy = 5.0 / 64;
  b.accuracy = 1.0 / 64;
  ASSERT_TRUE(ClearlyAbove(a, b));  // outputs taken as independent
  a.outputs_per_sample = b.outputs_per_sample = 8;
  EXPECT_FALSE(ClearlyAbove(a, b));
  EXPECT_FALSE(AboveBy(a, b, 1.0));
  EXPECT_TRUE(AboveBy(a, b, 0.9));
  a.outputs_per_sample = 4;  // scores that disagree on their samples' size fall back to outputs
  EXPECT_TRUE(ClearlyAbove(a, b));
}

TEST(PairedStandardError, IsZeroWithoutComparableHits) {
  EXPECT_EQ(PairedStandardError({}, {}), 0.0);
  EXPECT_EQ(PairedStandardError({1, 0, 1}, {1, 0}), 0.0);
  EXPECT_EQ(PairedStandardError({1}, {0}), 0.0);
}

TEST(ClearlyAbove, NeedsMoreThanOnePairedStandardErrorWhenBothCarryHits) {
  EXPECT_TRUE(ClearlyAbove(Score(20, 25), Score(10, 25)));  // 10 more right, none fewer
  // One more right on other images: 3 outputs differ, the difference 1/25 is within their error.
  const HeldOutScore one_more = Score(21, 25, 1.0, 2), base = Score(20, 25);
  ASSERT_LE(1.0 / 25, PairedStandardError(one_more.hits, base.hits));
  EXPECT_FALSE(ClearlyAbove(one_more, base));
  EXPECT_FALSE(ClearlyAbove(base, one_more));  // nor below: never above without ScoresAbove
  // Without hits (or over other outputs) ScoresAbove alone decides.
  EXPECT_TRUE(ClearlyAbove(HeldOutScore{0.84, 1.0}, HeldOutScore{0.80, 1.0}));
  EXPECT_TRUE(ClearlyAbove(Score(21, 25), Score(20, 24)));
  EXPECT_FALSE(ClearlyAbove(HeldOutScore{0.80, 1.0}, HeldOutScore{0.80, 0.9}));
}

TEST(AboveBy, CountsThePairedStandardErrorsOfTheGapAndNeedsHitsThatDiffer) {
  // 20 of 100 right against 10 (the 10 a subset): 10 outputs differ, the gap 0.10 is 3.3 standard errors of 0.030.
  const HeldOutScore a = Score(20, 100), b = Score(10, 100);
  const double error = PairedStandardError(a.hits, b.hits);
  ASSERT_NEAR(0.10 / error, 3.3, 0.05);
  EXPECT_TRUE(AboveBy(a, b, 2.0));
  EXPECT_TRUE(AboveBy(a, b, 3.0));
  EXPECT_FALSE(AboveBy(a, b, 3.5));
  EXPECT_FALSE(AboveBy(b, a, 0.0));  // below is not above
  // 12 against 10: 2 outputs differ, 1.4 standard errors: clearly above by keep-best's one, not by two.
  const HeldOutScore c = Score(12, 100);
  EXPECT_TRUE(ClearlyAbove(c, b));
  EXPECT_FALSE(AboveBy(c, b, 2.0));
  // Nothing to measure the gap by: never above, however far apart the accuracies.
  EXPECT_FALSE(AboveBy(HeldOutScore(0.9, 1.0), HeldOutScore(0.1, 1.0), 2.0));
  EXPECT_FALSE(AboveBy(b, b, 0.0));  // the same outputs right
}

TEST(CheckpointChoice, SwitchesOnlyToACheckpointAboveTheKeptOneByMoreThanOneStandardError) {
  CheckpointChoice choice;
  EXPECT_TRUE(choice.Offer(Score(10, 25)));            // before training: kept until something beats it
  EXPECT_TRUE(choice.Offer(Score(20, 25)));            // 10 more right, none fewer: far beyond the error
  const HeldOutScore a_little = Score(21, 25, 1.0, 2);  // one more right, on other images: within it
  ASSERT_LE(21.0 / 25 - 20.0 / 25, PairedStandardError(a_little.hits, choice.kept().hits));
  EXPECT_FALSE(choice.Offer(a_little));
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 20.0 / 25);
  EXPECT_DOUBLE_EQ(choice.highest().accuracy, 21.0 / 25);
  // Many more right than the kept one, each of them new: taken.
  EXPECT_TRUE(choice.Offer(Score(25, 25)));
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 1.0);
}

TEST(CheckpointChoice, KeepsTheModelBeforeTrainingUntilACheckpointIsClearlyAboveIt) {
  CheckpointChoice choice;
  choice.Offer(Score(12, 25));
  EXPECT_FALSE(choice.Offer(Score(13, 25, 1.0, 3)));  // one image more in all, 7 that differ: noise on 25
  EXPECT_FALSE(choice.Offer(Score(8, 25)));   // worse
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, 12.0 / 25);
  // On 400 outputs, 40 more right (and none fewer) is far beyond one standard error.
  CheckpointChoice large;
  large.Offer(Score(200, 400));
  EXPECT_TRUE(large.Offer(Score(240, 400)));
}

TEST(CheckpointChoice, WithoutHitsTakesAScoreAboveTheKeptOne) {
  CheckpointChoice choice;
  EXPECT_TRUE(choice.Offer(HeldOutScore{-2.0, 0}));  // label-free: the negated objective
  EXPECT_TRUE(choice.Offer(HeldOutScore{-1.0, 0}));
  EXPECT_FALSE(choice.Offer(HeldOutScore{-1.01, 0}));
  EXPECT_FALSE(choice.Offer(HeldOutScore{-1.0, 0}));  // a tie is not above
  EXPECT_DOUBLE_EQ(choice.kept().accuracy, -1.0);
}

TEST(CheckpointChoice, AtEqualAccuracyOnTheSameOutputsTheLowerLossIsAbove) {
  CheckpointChoice choice;
  choice.Offer(Score(5, 10, 2.0));
  EXPECT_TRUE(choice.Offer(Score(5, 10, 1.5)));  // identical hits: no standard error, the loss decides
  EXPECT_FALSE(choice.Offer(Score(5, 10, 1.7)));
  EXPECT_DOUBLE_EQ(choice.kept().loss, 1.5);
}

}  // namespace
}  // namespace bt
