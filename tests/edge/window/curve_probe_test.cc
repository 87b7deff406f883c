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

TEST(CurveProbe, AScoreCarriesOneHitPerScoredOutputInTheSlicesOrder) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  auto model = *ComposedModel::Create(*deployed, std::vector<BlockChoice>(deployed->layout().size()));
  const ImageDataset data = fixtures::ToyData(37, 2);
  const HeldOutScore whole = HeldOutScores(*model, data, 10);  // in batches of 10: 4 batches, the last of 7
  ASSERT_EQ(whole.hits.size(), 37u);
  EXPECT_EQ(whole.outputs_per_sample, 1);  // an image scores one output
  int64_t right = 0;
  for (uint8_t h : whole.hits) right += h;
  EXPECT_DOUBLE_EQ(whole.accuracy, static_cast<double>(right) / 37);
  // Each hit is its own image's: scoring one image alone gives the same.
  for (int64_t i : {0, 12, 36}) {
    const HeldOutScore one = HeldOutScores(*model, data.Slice(i, i + 1));
    ASSERT_EQ(one.hits.size(), 1u);
    EXPECT_EQ(one.hits[0], whole.hits[static_cast<size_t>(i)]) << i;
  }
}

TEST(CurveProbe, ATextScoreCarriesItsSequencesLengthSoThatErrorsAreTakenOverSequences) {
  auto deployed = *CreateLlamaModel(fixtures::TinyDecoder(24), 1);
  auto model = *ComposedModel::Create(*deployed, std::vector<BlockChoice>(deployed->layout().size()));
  torch::manual_seed(2);
  const torch::Tensor tokens = torch::randint(0, 24, {9, 7}, torch::kInt64);
  const ImageDataset data{tokens.slice(1, 0, 6).contiguous(), tokens.slice(1, 1, 7).contiguous()};
  const HeldOutScore score = HeldOutScores(*model, data, 4);
  ASSERT_EQ(score.hits.size(), 54u);  // 9 sequences of 6 next tokens, in order
  EXPECT_EQ(score.outputs_per_sample, 6);
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

// Costs of the Tiny ViT's four blocks as a probe would report them: training the embedding is slow (1 s per
// iteration), everything else cheap; a no-grad forward costs 1 ms per block, a frozen block in the backward path 20 ms.
std::vector<BlockProfile> SlowEmbeddingCosts() {
  std::vector<BlockProfile> costs;
  const std::vector<double> train = {1.0, 0.05, 0.05, 0.01};
  for (size_t k = 0; k < train.size(); ++k) {
    BlockProfile b;
    b.name = k == 0 ? "embed" : k == 3 ? "head" : "layer_" + std::to_string(k - 1);
    b.prefix_seconds = 0.001;
    BlockOption frozen;
    frozen.seconds = 0.02;
    BlockOption trained;
    trained.form = {BlockChoice::Kind::kTrain, 0};
    trained.trainable = true;
    trained.share = 1;
    trained.seconds = train[k];
    b.options = {frozen, trained};
    costs.push_back(b);
  }
  return costs;
}

TEST(CurveProbe, PredictsARunFromTheBlockCosts) {
  const std::vector<BlockProfile> costs = SlowEmbeddingCosts();
  using K = BlockChoice::Kind;
  // Everything trained: 10 × (1 + 0.05 + 0.05 + 0.01) s, plus two evaluations of 32 samples at batch 16 (4 ms each).
  EXPECT_NEAR(PredictCurveRunSeconds(costs, std::vector<BlockChoice>(4, {K::kTrain, 0}), {5, 10}, 32, 16),
              11.1 + 2 * 2 * 0.004, 1e-9);
  // layer_0 alone: the embedding runs without gradients, layer_1 and the head in the backward path, frozen.
  std::vector<BlockChoice> layer0(4);
  layer0[1] = {K::kTrain, 0};
  EXPECT_NEAR(PredictCurveRunSeconds(costs, layer0, {10}, 16, 16), 10 * (0.001 + 0.05 + 0.02 + 0.02) + 0.004, 1e-9);
  // A proxy of a sparsity that was not probed costs what the whole layer trained does.
  layer0[1] = {K::kProxy, 0.5};
  EXPECT_NEAR(PredictCurveRunSeconds(costs, layer0, {10}, 16, 16), 10 * (0.001 + 0.05 + 0.02 + 0.02) + 0.004, 1e-9);
  EXPECT_EQ(PredictCurveRunSeconds(costs, std::vector<BlockChoice>(3), {10}, 16, 16), 0);  // costs of another model
}

TEST(CurveProbe, SkipsRunsPredictedToOverrunAndRunsCheaperOnes) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  auto now = std::chrono::steady_clock::time_point();
  auto clock = [&] { return now += std::chrono::milliseconds(10); };
  CurveProbeOptions options;
  options.checkpoints = {10};
  options.batch = 16;
  options.time_budget = std::chrono::seconds(3);
  options.costs = SlowEmbeddingCosts();
  auto result = ProbeRetrainingCurves(*deployed, fixtures::ToyData(80, 1), options, clock);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->budget_exhausted);
  ASSERT_GE(result->runs, 1);
  // No run that trains the embedding (predicted ≥ 10 s of a 3 s budget) was started; the cheap ones were.
  for (const ProbePoint& p : result->points) EXPECT_EQ(p.shares[0], 0.0);
  EXPECT_EQ(result->points[0].shares, (std::vector<double>{0, 1, 0, 0}));
}

}  // namespace
}  // namespace bt
