#include "common/train/trainer.h"

#include <gtest/gtest.h>

#include "tests/testing/test_models.h"
#include "tests/testing/toy_data.h"

namespace bt {
namespace {

using fixtures::Tiny;

using fixtures::ToyData;

TEST(Trainer, LearnsASeparableTask) {
  auto model = CreateVitModel(Tiny(), 1);
  ASSERT_TRUE(model.ok());
  ImageDataset train = ToyData(256, 1), test = ToyData(128, 2);
  TrainOptions options;
  options.learning_rate = 3e-3;
  options.total_steps = 60;
  auto trainer = Trainer::Create(model->get(), options);
  ASSERT_TRUE(trainer.ok());
  auto before = Evaluate(model->get(), test);
  ASSERT_TRUE(before.ok());
  for (int step = 0; step < 60; ++step) {
    ImageDataset batch = train.Slice((step * 32) % 256, (step * 32) % 256 + 32);
    ASSERT_TRUE((*trainer)->Step(NormalizeImages(batch.images), batch.labels).ok());
  }
  auto after = Evaluate(model->get(), test);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->accuracy(), 0.9) << "before: " << before->accuracy();
}

TEST(Trainer, FrozenBlocksStayBitIdentical) {
  auto model = CreateVitModel(Tiny(), 1);
  ASSERT_TRUE(model.ok());
  (*model)->SetAllTrainable(false);
  ASSERT_TRUE((*model)->SetTrainable("encoder_layer_1", true).ok());
  auto frozen_before = (*model)->GetBlock("encoder_layer_0");
  auto head_before = (*model)->GetBlock("head");
  auto trained_before = (*model)->GetBlock("encoder_layer_1");
  auto trainer = Trainer::Create(model->get(), TrainOptions{});
  ASSERT_TRUE(trainer.ok());
  ImageDataset data = ToyData(32, 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*trainer)->Step(NormalizeImages(data.images), data.labels).ok());
  auto frozen_after = (*model)->GetBlock("encoder_layer_0");
  auto head_after = (*model)->GetBlock("head");
  auto trained_after = (*model)->GetBlock("encoder_layer_1");
  for (const auto& [name, t] : *frozen_before) EXPECT_TRUE(t.equal(frozen_after->at(name))) << name;
  for (const auto& [name, t] : *head_before) EXPECT_TRUE(t.equal(head_after->at(name))) << name;
  bool changed = false;
  for (const auto& [name, t] : *trained_before) changed = changed || !t.equal(trained_after->at(name));
  EXPECT_TRUE(changed);
}

TEST(Trainer, RefusesAModelWithNothingTrainable) {
  auto model = CreateVitModel(Tiny(), 1);
  ASSERT_TRUE(model.ok());
  (*model)->SetAllTrainable(false);
  auto trainer = Trainer::Create(model->get(), TrainOptions{});
  ASSERT_FALSE(trainer.ok());
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Trainer, ScheduleWarmsUpThenDecays) {
  auto model = CreateVitModel(Tiny(), 1);
  ASSERT_TRUE(model.ok());
  TrainOptions options;
  options.learning_rate = 1.0;
  options.warmup_fraction = 0.1;
  options.total_steps = 100;
  auto trainer = Trainer::Create(model->get(), options);
  ASSERT_TRUE(trainer.ok());
  EXPECT_NEAR((*trainer)->LearningRate(), 0.1, 1e-9);  // step 0 of a 10-step warm-up
  ImageDataset data = ToyData(4, 1);
  std::vector<double> rates;
  for (int i = 0; i < 100; ++i) {
    rates.push_back((*trainer)->LearningRate());
    ASSERT_TRUE((*trainer)->Step(NormalizeImages(data.images), data.labels).ok());
  }
  EXPECT_NEAR(rates[9], 1.0, 1e-9);
  EXPECT_NEAR(rates[10], 1.0, 1e-9);
  EXPECT_LT(rates[99], 0.01);
  for (int i = 11; i < 100; ++i) EXPECT_LE(rates[i], rates[i - 1]);
}

TEST(Pretrain, StopsWhenCancelledAndIsDeterministic) {
  ImageDataset data = ToyData(64, 5);
  PretrainOptions options;
  options.epochs = 2;
  options.batch_size = 16;
  options.seed = 9;

  auto a = CreateVitModel(Tiny(), 9);
  auto b = CreateVitModel(Tiny(), 9);
  ASSERT_TRUE(a.ok() && b.ok());
  auto ra = Pretrain(a->get(), data, options, nullptr);
  auto rb = Pretrain(b->get(), data, options, nullptr);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->steps, 8);
  EXPECT_FALSE(ra->cancelled);
  EXPECT_TRUE((*a)->parameters().at("heads.head.weight").equal((*b)->parameters().at("heads.head.weight")));

  CancelToken cancel;
  cancel.Cancel();
  auto c = CreateVitModel(Tiny(), 9);
  auto rc = Pretrain(c->get(), data, options, &cancel);
  ASSERT_TRUE(rc.ok());
  EXPECT_TRUE(rc->cancelled);
  EXPECT_EQ(rc->steps, 0);
}

}  // namespace
}  // namespace bt
