// The window pipeline's pieces on a tiny model: the label-free mode, the probe budget, applying retrained blocks and
// micro-batching.
#include <gtest/gtest.h>

#include "common/train/trainer.h"
#include "common/train/feature_stats.h"
#include "common/model/memory_meter.h"
#include "common/plan/window_plan.h"
#include "edge/window/retrain_engine.h"
#include "edge/window/window_probe.h"
#include "edge/window/window_runner.h"
#include "tests/testing/trained_tiny.h"

namespace bt {
namespace {

using fixtures::Tiny;
using fixtures::ToyData;
using fixtures::TrainedTiny;

TEST(LabelFree, IgnoresLabelsKeepsTheHeadFrozenAndNeverDeploysAWorseObjective) {
  auto model = TrainedTiny();
  ImageDataset shifted = ToyData(300, 5);
  shifted.images = (shifted.images * 0.6 + 0.2).clamp(0, 1);  // a contrast drift
  ImageDataset garbage_labels = shifted;
  garbage_labels.labels = torch::zeros_like(shifted.labels);
  RetrainOptions options;
  options.label_free = true;
  options.max_iterations = 40;
  options.batch = 32;
  options.eval_every = 10;
  const std::vector<BlockChoice> everything(4, {BlockChoice::Kind::kTrain, 0});
  auto with_labels = RetrainWindow(*model, everything, shifted, options);
  auto without = RetrainWindow(*model, everything, garbage_labels, options);
  ASSERT_TRUE(with_labels.ok()) << with_labels.status();
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(with_labels->objective_before, without->objective_before);
  EXPECT_EQ(with_labels->objective_after, without->objective_after);
  EXPECT_EQ(with_labels->iterations, 40);
  EXPECT_LE(with_labels->objective_after, with_labels->objective_before);
  if (with_labels->deployed) {
    EXPECT_LT(with_labels->objective_after, with_labels->objective_before);
    auto trained = *with_labels->model->TrainedBlocks(*model);
    EXPECT_EQ(trained.count("head"), 0u) << "the head is the source hypothesis and stays frozen";
    EXPECT_EQ(trained.size(), 3u);
  }
}

TEST(WindowProbe, SpendsItsShareOfTheWindowAndFallsBackToTheEstimateWithoutLabels) {
  auto model = TrainedTiny();
  auto source = *ComputeSourceStats(*model, ToyData(200, 2));
  // A fake clock that advances 1 s on every reading: the probe's budget is counted in readings.
  auto now = std::chrono::steady_clock::time_point{};
  auto clock = [&now] { return now += std::chrono::seconds(1); };
  WindowProbeOptions options;
  options.window = std::chrono::seconds(100);
  options.probe_share = 0.1;  // 10 s
  options.batch = 16;
  options.costs.repeats = 1;
  options.curves.checkpoints = {2, 4};
  const ImageDataset data = ToyData(200, 7);
  auto report = ProbeWindow(*model, data, data.images, &source, options, clock);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->budget_exhausted);
  EXPECT_GT(report->curve_runs, 0);
  // Everything + 4 blocks + 2 multi-block plans + 2 proxies would not fit: each run reads the clock once (1 s).
  EXPECT_LT(report->curve_runs, 9);
  // No run starts unless its predicted time, scaled by how much slower the runs so far were than predicted, still
  // fits before the deadline; the fake clock also charges 1 s for each of the three readings after the last run.
  EXPECT_LE(report->seconds, 10.0 + 3.0);
  EXPECT_EQ(report->costs.size(), 4u);
  EXPECT_GT(report->fixed_bytes, 0u);

  ImageDataset few = data.Slice(0, 10);
  auto label_free = ProbeWindow(*model, few, data.images, &source, options, clock);
  ASSERT_TRUE(label_free.ok()) << label_free.status();
  EXPECT_TRUE(label_free->points.empty());
  EXPECT_EQ(label_free->acc0, label_free->drift.estimated_accuracy);

  auto parsed = ProbeReport::FromJson(report->ToJson(), "test");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->points.size(), report->points.size());
  EXPECT_EQ(parsed->costs.size(), report->costs.size());
  EXPECT_EQ(parsed->acc0, report->acc0);
}

TEST(ApplyTrainedBlocks, RejectsNonFiniteWeightsAndChangesNothing) {
  auto model = *CreateVitModel(Tiny(), 1);
  TensorMap before = *model->GetBlock("head");
  TensorMap good = *model->GetBlock("encoder_layer_0");
  for (auto& [name, t] : good) t = t + 1;
  TensorMap bad = before;
  bad.begin()->second = bad.begin()->second.clone().fill_(std::nan(""));
  auto applied = ApplyTrainedBlocks(*model, {{"encoder_layer_0", good}, {"head", bad}});
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("not finite"), std::string::npos);
  const TensorMap head_after = *model->GetBlock("head");
  for (const auto& [name, t] : head_after) EXPECT_TRUE(t.equal(before.at(name)));
  const TensorMap layer_after = *model->GetBlock("encoder_layer_0");
  for (const auto& [name, t] : layer_after) EXPECT_FALSE(t.equal(good.at(name)));
  auto ok = ApplyTrainedBlocks(*model, {{"encoder_layer_0", good}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  const TensorMap applied_layer = *model->GetBlock("encoder_layer_0");
  for (const auto& [name, t] : applied_layer) EXPECT_TRUE(t.equal(good.at(name)));
}

}  // namespace
}  // namespace bt

namespace bt {
namespace {

TEST(MicroBatch, AccumulatedChunksGiveTheSameGradientWithLessMemory) {
  auto base = *CreateVitModel(Tiny(), 1);
  const ImageDataset data = ToyData(64, 1);
  MemoryMeter& meter = MemoryMeter::Install();
  std::vector<std::vector<torch::Tensor>> grads;
  std::vector<int64_t> peaks;
  for (int64_t micro : {int64_t{0}, int64_t{16}}) {
    auto model = *ComposedModel::Create(*base, std::vector<BlockChoice>(4, {BlockChoice::Kind::kTrain, 0}));
    torch::optim::AdamW optimizer(model->TrainableParameters(), torch::optim::AdamWOptions(1e-3));
    torch::manual_seed(5);
    const int64_t before = meter.current_bytes();
    meter.ResetPeak();
    TrainStep(*model, optimizer, data, 64, micro);
    peaks.push_back(meter.peak_bytes() - before);
    std::vector<torch::Tensor> g;
    for (const torch::Tensor& p : model->TrainableParameters()) g.push_back(p.grad().clone());
    grads.push_back(g);
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) {
    EXPECT_TRUE(torch::allclose(grads[0][i], grads[1][i], 1e-4, 1e-6)) << "parameter " << i;
  }
  EXPECT_LT(peaks[1], peaks[0]) << "chunks of 16 keep fewer activations alive than the batch of 64";
}

TEST(MicroBatch, ThePlannerScalesActivationsAndMayChooseChunks) {
  ProbeReport report;
  BlockProfile b;
  b.name = "layer";
  b.parameters = 100;
  b.prefix_bytes = 1000;
  b.options.push_back({BlockChoice::Frozen(), false, 0, 9000, 0.01, 4000, 8000});
  b.options.push_back({BlockChoice::Train(), true, 1, 13000, 0.02, 4000, 8000});
  report.costs = {b};
  report.fixed_bytes = 4000 + 500;  // largest working memory + input batch
  report.batch = 64;
  PlanRequest quarter = RequestForMicroBatch(report, 4);
  EXPECT_EQ(quarter.blocks[0].options[1].activation_bytes, 2000u);
  EXPECT_EQ(quarter.blocks[0].options[1].memory_bytes, 13000u - 8000u + 2000u);
  EXPECT_EQ(quarter.fixed_bytes, 500u + 1000u);
  EXPECT_GT(quarter.blocks[0].options[1].seconds, 0.02);
  // A budget the whole batch does not fit but chunks of 16 do: the plan trains, in chunks.
  WindowPlanRequest request;
  request.memory_budget = 10000;
  request.train_seconds = 100;
  auto planned = PlanFromProbes(report, nullptr, request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_TRUE(planned->plan.feasible);
  EXPECT_EQ(planned->plan.blocks[0].option(), "train");
  EXPECT_GT(planned->plan.micro_batch, 0);
  EXPECT_LE(planned->plan.memory_bytes, request.memory_budget);
}

}  // namespace
}  // namespace bt
