// A decoder's window through the same pipeline as the ViT's: RunWindow probes block costs and retraining curves on
// token sequences, the planner (in-process, as bt-bench runs it; the cloud runs the same code behind the wire)
// fits its law and plans under a memory budget that binds, the race and the engine train it, and the trained
// blocks come back as full blocks. A baseline runs through the same pipeline.
#include <gtest/gtest.h>

#include "bench/baselines.h"
#include "edge/window/plan_source.h"
#include "edge/window/window_runner.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

using fixtures::TinyDecoder;


// Sequences where each token is the previous one plus a step (mod vocab), a different step than the model knows.
WindowSamples CountingWindow(int64_t n, int64_t t, int64_t vocab, int64_t step, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor start = torch::randint(0, vocab, {n, 1}, torch::kInt64);
  torch::Tensor seq = (start + step * torch::arange(t + 1, torch::kInt64).unsqueeze(0)).remainder(vocab);
  ImageDataset data{seq.slice(1, 0, t).contiguous(), seq.slice(1, 1, t + 1).contiguous()};
  return SplitWindowSamples(data, torch::ones({n}, torch::kBool));
}

WindowInput InputFor(const BlockModel& model, const WindowSamples& samples, uint64_t budget) {
  WindowInput in;
  in.id = "text-1";
  in.model = *CopyModel(model);
  in.samples = &samples;
  in.budget.memory_budget = budget;
  in.budget.window = std::chrono::minutes(10);  // every probe curve and iteration fits: deterministic
  in.budget.batch = 16;
  in.seed = 5;
  return in;
}

TEST(TextWindow, ThePlannerPlansADecoderWindowUnderABindingBudgetAndItLearns) {
  auto model = *CreateLlamaModel(TinyDecoder(64), 3);
  const WindowSamples samples = CountingWindow(200, 12, 64, 3, 1);
  // A budget that binds whatever the chunk: half of what training every block's weights costs (weights, gradients,
  // optimiser state — activations shrink with chunks, these do not) on top of what every plan pays.
  LocalPlanner probe_only({25});
  auto full = RunWindow(InputFor(*model, samples, 1ull << 30), probe_only, nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_FALSE(full->report.costs.empty());
  uint64_t weights_and_state = 0;
  for (const BlockProfile& b : full->report.costs) {
    for (const BlockOption& o : b.options) {
      if (o.form.kind == BlockChoice::Kind::kTrain) weights_and_state += o.memory_bytes - o.activation_bytes;
    }
  }
  const uint64_t budget = full->report.fixed_bytes + weights_and_state / 2;

  LocalPlanner planner({25, 50, 100});
  auto out = RunWindow(InputFor(*model, samples, budget), planner, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->retrained) << out->outcome;
  EXPECT_GT(out->report.points.size(), 0u);  // retraining curves were measured on token sequences
  EXPECT_LE(out->planned.plan.memory_bytes, budget);
  EXPECT_LE(static_cast<uint64_t>(out->peak_bytes), budget);
  EXPECT_NE(out->plan_text, "all frozen");
  ASSERT_TRUE(out->deployed) << out->outcome << " / " << out->plan_text;
  EXPECT_GT(out->accuracy_after, out->accuracy_before + 0.1) << out->plan_text;
  // Not everything fits: some block is frozen or in a compressed form.
  bool all_trained = true;
  for (const BlockDecision& d : out->planned.plan.blocks) all_trained = all_trained && d.form.kind == BlockChoice::Kind::kTrain;
  EXPECT_FALSE(all_trained) << out->plan_text;
  // The trained blocks are full blocks of the decoder.
  for (const auto& [block, tensors] : out->trained) {
    const TensorMap full_block = *model->GetBlock(block);
    ASSERT_EQ(full_block.size(), tensors.size()) << block;
    for (const auto& [name, t] : tensors) EXPECT_EQ(t.sizes(), full_block.at(name).sizes()) << name;
  }
}

TEST(TextWindow, BaselinesRunThroughTheSamePipeline) {
  auto model = *CreateLlamaModel(TinyDecoder(64), 3);
  const WindowSamples samples = CountingWindow(120, 12, 64, 3, 2);
  for (auto kind : {BaselinePlanSource::Kind::kLastK, BaselinePlanSource::Kind::kFixedCompressed}) {
    BaselinePlanSource baseline(kind, {25}, 1);
    auto out = RunWindow(InputFor(*model, samples, 1ull << 30), baseline, nullptr);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->retrained) << out->outcome;
    EXPECT_NE(out->plan_text, "all frozen");
  }
}

}  // namespace
}  // namespace bt
