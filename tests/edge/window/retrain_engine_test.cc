#include "edge/window/retrain_engine.h"

#include <gtest/gtest.h>

#include "common/train/trainer.h"
#include "edge/window/curve_probe.h"
#include "tests/testing/test_models.h"
#include "tests/testing/toy_data.h"
#include "tests/testing/trained_tiny.h"

namespace bt {
namespace {

using fixtures::Tiny;

using fixtures::ToyData;

std::vector<BlockChoice> TrainLastLayerAndHead() {
  return {{}, {}, {BlockChoice::Kind::kTrain, 0}, {BlockChoice::Kind::kTrain, 0}};
}

TEST(RetrainEngine, LearnsAndDeploysTheBestCheckpoint) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  options.max_iterations = 80;
  options.batch = 32;
  options.learning_rate = 3e-3;
  options.eval_every = 10;
  std::vector<BlockChoice> everything(4, BlockChoice{BlockChoice::Kind::kTrain, 0});
  auto result = RetrainWindow(*deployed, everything, ToyData(300, 1), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->deployed);
  EXPECT_GT(result->accuracy_after, result->accuracy_before);
  EXPECT_GT(result->accuracy_after, 0.9);
  EXPECT_GT(result->best_iteration, 0);
  EXPECT_EQ(result->stop_reason, "iterations");
  EXPECT_GT(result->peak_bytes, 0);
  ASSERT_NE(result->model, nullptr);
  // The baseline and one evaluation every 10 of the 80 iterations, timed within the training time.
  EXPECT_EQ(result->evaluations, 1 + 8);
  EXPECT_GT(result->eval_seconds, 0);
  EXPECT_LT(result->eval_seconds, result->train_seconds);
}

TEST(RetrainEngine, RefusesAPlanPredictedOverBudget) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  options.memory_budget = 1 << 20;
  options.predicted_peak_bytes = 2 << 20;
  auto result = RetrainWindow(*deployed, TrainLastLayerAndHead(), ToyData(100, 1), options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("exceeds the memory budget"), std::string::npos);
}

TEST(RetrainEngine, StopsCleanlyWhenTheMeasuredPeakCrossesTheBudget) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  options.memory_budget = 4096;  // the prediction said it fits; the run proves otherwise
  auto result = RetrainWindow(*deployed, TrainLastLayerAndHead(), ToyData(100, 1), options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(result.status().message().find("the deployed model stays"), std::string::npos);
}

TEST(RetrainEngine, StopsAtTheDeadline) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  // A clock that advances 10 ms every time it is read.
  auto now = std::chrono::steady_clock::time_point();
  SteadyClock clock = [&] { return now += std::chrono::milliseconds(10); };
  RetrainOptions options;
  options.max_iterations = 1000;
  options.time_budget = std::chrono::milliseconds(300);
  options.eval_every = 5;
  auto result = RetrainWindow(*deployed, TrainLastLayerAndHead(), ToyData(100, 1), options, nullptr, clock);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop_reason, "deadline");
  EXPECT_LT(result->iterations, 40);
  EXPECT_GT(result->iterations, 5);
}

TEST(RetrainEngine, ScoresTheIterationsADeadlineCutBeforeTheirEvaluation) {
  // Evaluations every 1,000 iterations, a deadline after a few dozen: before, the run stopped with nothing scored and
  // kept the deployed model (a race entrant cut by its time share scored as no gain at all).
  auto deployed = *CreateVitModel(Tiny(), 1);
  auto now = std::chrono::steady_clock::time_point();
  SteadyClock clock = [&] { return now += std::chrono::milliseconds(10); };
  RetrainOptions options;
  options.max_iterations = 5000;
  options.eval_every = 1000;
  options.batch = 32;
  options.learning_rate = 3e-3;
  options.time_budget = std::chrono::milliseconds(600);
  auto result = RetrainWindow(*deployed, std::vector<BlockChoice>(4, BlockChoice{BlockChoice::Kind::kTrain, 0}),
                              ToyData(300, 1), options, nullptr, clock);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop_reason, "deadline");
  EXPECT_GT(result->iterations, 10);
  EXPECT_LT(result->iterations, 1000);
  EXPECT_EQ(result->best_iteration, result->iterations);
  EXPECT_TRUE(result->deployed);
  EXPECT_GT(result->accuracy_after, result->accuracy_before);
}

TEST(RetrainEngine, NeverHandsBackAWorseModel) {
  // A deployed model that already solves the task; a destructive learning rate can only make it worse.
  auto deployed = *CreateVitModel(Tiny(), 1);
  TrainOptions train;
  train.learning_rate = 3e-3;
  train.total_steps = 80;
  auto trainer = *Trainer::Create(deployed.get(), train);
  ImageDataset data = ToyData(300, 2);
  for (int step = 0; step < 80; ++step) {
    ImageDataset batch = data.Slice((step * 32) % 256, (step * 32) % 256 + 32);
    ASSERT_TRUE(trainer->Step(NormalizeImages(batch.images), batch.labels).ok());
  }
  deployed->SetAllTrainable(false);
  RetrainOptions options;
  options.learning_rate = 5.0;
  options.max_iterations = 20;
  options.eval_every = 5;
  auto result = RetrainWindow(*deployed, TrainLastLayerAndHead(), data, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->deployed);
  EXPECT_EQ(result->model, nullptr);
  EXPECT_GE(result->accuracy_before, 0.95);
}

// A model that already scores 100% on the held-out slice cannot score higher, but it can be surer: at equal
// accuracy keep-best takes the lower held-out loss (on a 23-sample slice, ties are the common case).
TEST(RetrainEngine, BreaksAccuracyTiesByTheHeldOutLoss) {
  auto deployed = fixtures::TrainedTiny();
  const ImageDataset data = ToyData(200, 1);
  const ImageDataset held_out = data.Slice(160, 200);  // the engine holds out the last 20%
  ASSERT_DOUBLE_EQ(Evaluate(deployed.get(), held_out)->accuracy(), 1.0);
  RetrainOptions options;
  options.max_iterations = 40;
  options.batch = 32;
  options.eval_every = 10;
  auto result = RetrainWindow(*deployed, TrainLastLayerAndHead(), data, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->loss_before, Evaluate(deployed.get(), held_out)->mean_loss(), 1e-5);
  EXPECT_DOUBLE_EQ(result->accuracy_before, 1.0);
  EXPECT_DOUBLE_EQ(result->accuracy_after, 1.0);
  EXPECT_TRUE(result->deployed);
  EXPECT_LT(result->loss_after, result->loss_before);
  ASSERT_NE(result->model, nullptr);
}

TEST(HeldOutScore, AccuracyFirstThenTheLowerLoss) {
  EXPECT_TRUE(ScoresAbove({0.6, 2.0}, {0.5, 0.1}));
  EXPECT_FALSE(ScoresAbove({0.5, 0.1}, {0.6, 2.0}));
  EXPECT_TRUE(ScoresAbove({0.5, 0.3}, {0.5, 0.4}));
  EXPECT_FALSE(ScoresAbove({0.5, 0.4}, {0.5, 0.4}));  // an exact tie is not above: the earlier one stays
}

// With a proxy in the plan, the composed model is neither the deployed model (before) nor what gets deployed
// (after: the proxy written back into the full layer). Before/after and the decision are about those two.
TEST(RetrainEngine, JudgesProxyPlansByTheWrittenBackBlocks) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  options.max_iterations = 60;
  options.batch = 32;
  options.learning_rate = 3e-3;
  options.eval_every = 10;
  const ImageDataset data = ToyData(300, 3);
  const std::vector<BlockChoice> plan = {{}, {}, {BlockChoice::Kind::kProxy, 0.5}, {BlockChoice::Kind::kTrain, 0}};
  auto result = RetrainWindow(*deployed, plan, data, options);
  ASSERT_TRUE(result.ok()) << result.status();
  const int64_t holdout = static_cast<int64_t>(static_cast<double>(data.size()) * options.holdout_fraction);
  const ImageDataset held_out = data.Slice(data.size() - holdout, data.size());
  auto accuracy_of = [&](const BlockModel& full) {
    auto frozen = *ComposedModel::Create(full, std::vector<BlockChoice>(4));
    return HeldOutAccuracy(*frozen, held_out, 500);
  };
  EXPECT_DOUBLE_EQ(result->accuracy_before, accuracy_of(*deployed));
  ASSERT_TRUE(result->deployed);
  auto trained = *result->model->TrainedBlocks(*deployed);
  auto after = *CreateVitModel(Tiny(), 1);
  for (const auto& [name, tensors] : trained) ASSERT_TRUE(after->SetBlock(name, tensors).ok());
  EXPECT_DOUBLE_EQ(result->accuracy_after, accuracy_of(*after));
  EXPECT_GT(result->accuracy_after, result->accuracy_before);
}

TEST(RetrainEngine, RejectsPlansThatTrainNothingOrDataTooSmall) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  EXPECT_FALSE(RetrainWindow(*deployed, std::vector<BlockChoice>(4), ToyData(100, 1), options).ok());
  EXPECT_FALSE(RetrainWindow(*deployed, TrainLastLayerAndHead(), ToyData(3, 1), options).ok());
}

TEST(RetrainEngine, AKeptRunContinuesWhereItStopped) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  const ImageDataset data = ToyData(200, 1);
  RetrainOptions options;
  options.max_iterations = 30;
  options.batch = 32;
  options.learning_rate = 3e-3;
  options.eval_every = 10;
  options.keep_state = true;
  auto first = RetrainWindow(*deployed, TrainLastLayerAndHead(), data, options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->model, nullptr);  // kept: nothing handed back to deploy
  ASSERT_NE(first->state, nullptr);
  EXPECT_EQ(first->state->iterations, 30);
  EXPECT_EQ(first->resumed_from, 0);
  const int64_t held = first->state->held_bytes;
  EXPECT_GT(held, 0);

  // Continuing for no more iterations hands back the first run's best and its decision.
  auto again = [&](int64_t iterations, uint64_t budget) {
    auto kept = std::make_unique<RetrainState>();
    std::swap(*kept, *first->state);  // keep `first` reusable: the state moves back below
    RetrainOptions more = options;
    more.keep_state = true;
    more.max_iterations = iterations;
    more.memory_budget = budget;
    auto r = RetrainWindow(*deployed, TrainLastLayerAndHead(), data, more, nullptr, nullptr, std::move(kept));
    if (r.ok()) std::swap(*first->state, *r->state);
    return r;
  };
  auto same = again(30, options.memory_budget);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->iterations, 30);
  EXPECT_EQ(same->resumed_from, 30);
  EXPECT_EQ(same->best_iteration, first->best_iteration);
  EXPECT_EQ(same->accuracy_after, first->accuracy_after);
  EXPECT_EQ(same->deployed, first->deployed);

  // Going on: the iterations count on from the kept run's, the held bytes count in the peak, keep-best keeps the
  // record (never below the first run's best).
  auto longer = again(60, options.memory_budget);
  ASSERT_TRUE(longer.ok()) << longer.status();
  EXPECT_EQ(longer->iterations, 60);
  EXPECT_EQ(longer->resumed_from, 30);
  EXPECT_GE(longer->peak_bytes, held);
  EXPECT_GE(longer->accuracy_after, first->accuracy_after);
  EXPECT_GE(longer->best_iteration, first->best_iteration);
  EXPECT_GT(longer->train_seconds, 0);

  // A budget the held state alone crosses is refused before anything runs.
  auto tight = again(90, static_cast<uint64_t>(held) - 1);
  ASSERT_FALSE(tight.ok());
  EXPECT_EQ(tight.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RetrainEngine, AStateContinuesOnlyItsOwnModelAndPlan) {
  auto deployed = *CreateVitModel(Tiny(), 1);
  auto other = *CreateVitModel(Tiny(), 1);
  const ImageDataset data = ToyData(200, 1);
  RetrainOptions options;
  options.max_iterations = 10;
  options.batch = 32;
  options.keep_state = true;
  auto kept = [&] { return std::move(RetrainWindow(*deployed, TrainLastLayerAndHead(), data, options)->state); };
  RetrainOptions more = options;
  more.max_iterations = 20;
  auto wrong_model = RetrainWindow(*other, TrainLastLayerAndHead(), data, more, nullptr, nullptr, kept());
  ASSERT_FALSE(wrong_model.ok());
  EXPECT_EQ(wrong_model.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<BlockChoice> everything(4, BlockChoice{BlockChoice::Kind::kTrain, 0});
  auto wrong_plan = RetrainWindow(*deployed, everything, data, more, nullptr, nullptr, kept());
  ASSERT_FALSE(wrong_plan.ok());
  EXPECT_EQ(wrong_plan.status().code(), absl::StatusCode::kInvalidArgument);
  more.label_free = true;
  EXPECT_FALSE(RetrainWindow(*deployed, TrainLastLayerAndHead(), data, more).ok());  // keep_state needs labels
}

}  // namespace
}  // namespace bt
