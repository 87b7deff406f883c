// The window plan: the law fitted from probes and the plan solved over every chunk size, the prior used as is
// without curves, and the window constants' helpers.
#include "common/plan/window_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_join.h"
#include "tests/testing/sample_report.h"

namespace bt {
namespace {

using fixtures::SampleReport;

TEST(WindowPlan, FitsTheLawFromProbesAndPlansTheBlockThatHelps) {
  const ProbeReport r = SampleReport();
  WindowPlanRequest request;
  request.memory_budget = 1ull << 30;
  request.train_seconds = 1e6;
  auto planned = PlanFromProbes(r, nullptr, request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_TRUE(planned->law_fitted);
  EXPECT_LT(planned->law_rmse, 0.02);  // the prior pulls a little: within 2 points of the true curves
  EXPECT_EQ(planned->law.acc0, r.acc0);
  ASSERT_TRUE(planned->plan.feasible);
  EXPECT_TRUE(planned->plan.blocks[1].form.trains()) << planned->plan.ToTable();
  EXPECT_GT(planned->plan.predicted_accuracy, r.acc0);
}

TEST(WindowPlan, WithoutCurvesThePriorIsUsedAsIs) {
  ProbeReport r = SampleReport();
  r.points.clear();
  LawParams prior = GenericPrior(r.costs.size(), 0.9);
  prior.weights = {0.1, 0.1, 0.1, 2.0};
  WindowPlanRequest request;
  request.memory_budget = 1ull << 30;
  request.train_seconds = 1e6;
  auto planned = PlanFromProbes(r, &prior, request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_FALSE(planned->law_fitted);
  EXPECT_EQ(planned->law.weights, prior.weights);
  EXPECT_EQ(planned->law.acc0, r.acc0);  // measured afresh, not the prior's
  EXPECT_LE(planned->law.acc0 + planned->law.max_gain, 1.0);
}

TEST(WindowPlan, ChunkedPlansScaleActivationsAndKeepHeadroom) {
  const ProbeReport r = SampleReport();
  const PlanRequest whole = RequestForMicroBatch(r, 1);
  const PlanRequest chunked = RequestForMicroBatch(r, 4);
  for (size_t k = 0; k < r.costs.size(); ++k) {
    for (size_t o = 0; o < r.costs[k].options.size(); ++o) {
      const BlockOption& a = whole.blocks[k].options[o];
      const BlockOption& b = chunked.blocks[k].options[o];
      EXPECT_LE(b.memory_bytes, a.memory_bytes);
      EXPECT_EQ(a.memory_bytes - b.memory_bytes, a.activation_bytes - b.activation_bytes);  // only activations shrink
      EXPECT_GE(b.seconds, a.seconds);                                                     // small chunks are slower
    }
  }
  EXPECT_EQ(BudgetForDivisor(1000, 1), 1000u);
  EXPECT_EQ(BudgetForDivisor(1000, 4), 900u);
}

// A decoder's logits (positions × vocabulary per sample) are a large part of what every plan pays; in chunks only
// one chunk's logits and their gradient are alive, so that part scales too (the input and the rest do not).
TEST(WindowPlan, ChunkedPlansHoldOneChunksOutputs) {
  ProbeReport r = SampleReport();
  const uint64_t transient = MaxTransientBytes(r.costs);
  r.output_bytes = 4000000;
  r.fixed_bytes = transient + r.output_bytes + 1000;
  const PlanRequest whole = RequestForMicroBatch(r, 1);
  const PlanRequest chunked = RequestForMicroBatch(r, 4);
  EXPECT_EQ(whole.fixed_bytes, r.fixed_bytes);
  EXPECT_EQ(chunked.fixed_bytes, 1000 + (transient + 3) / 4 + 1000000);
  // A report from an edge that does not say (output_bytes 0) keeps its outputs whole, as before.
  r.output_bytes = 0;
  EXPECT_EQ(RequestForMicroBatch(r, 4).fixed_bytes, 4001000 + (transient + 3) / 4);
}

TEST(WindowPlan, GridTextAndFullFineTuning) {
  EXPECT_EQ(IterationGrid(400), (std::vector<int64_t>{25, 50, 100, 150, 200, 300, 400}));
  EXPECT_EQ(IterationGrid(10), (std::vector<int64_t>{25}));  // never empty
  Plan plan;
  EXPECT_EQ(PlanText(plan), "all frozen");
  plan.blocks = {{"embed", BlockChoice::Frozen()}, {"layer", BlockChoice::Proxy(0.5)}, {"head", BlockChoice::Train()}};
  plan.micro_batch = 8;
  EXPECT_EQ(PlanText(plan), "layer:train@0.50 head:train (chunks of 8)");
  const ProbeReport r = SampleReport();
  auto full = FullFineTuningBytes(r);
  ASSERT_TRUE(full.ok()) << full.status();
  uint64_t trainable_bytes = 0;
  for (const BlockProfile& b : r.costs) trainable_bytes += b.options[1].memory_bytes;
  EXPECT_GE(*full, trainable_bytes);  // every block trainable, plus what every plan pays
}

TEST(WindowPlan, TopPlansStartWithThePlannersChoiceAndFitWindowPlanFindsAChunkThatFits) {
  const ProbeReport r = SampleReport();
  WindowPlanRequest request;
  request.memory_budget = 3u << 20;
  request.train_seconds = 30;
  auto planned = PlanFromProbes(r, nullptr, request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_TRUE(planned->plan.feasible && planned->plan.first_trainable >= 0) << planned->plan.ToTable();
  auto top = TopWindowPlans(r, planned->law, request, 6);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_FALSE(top->empty());
  EXPECT_NEAR(top->front().predicted_accuracy, planned->plan.predicted_accuracy, 1e-9);
  EXPECT_EQ(top->front().micro_batch, planned->plan.micro_batch);
  for (size_t k = 1; k < top->size(); ++k) {
    EXPECT_GE((*top)[k - 1].predicted_accuracy, (*top)[k].predicted_accuracy - 1e-12);
    EXPECT_EQ((*top)[k].memory_budget, request.memory_budget);
  }
  // Each plan says how far a run that is faster than predicted may go on: the grid's top, whatever its iterations.
  for (const Plan& p : *top) {
    EXPECT_EQ(p.max_iterations, request.iteration_grid.back()) << PlanText(p);
    EXPECT_GE(p.max_iterations, p.iterations);
  }
  // Every block trainable does not fit 3 MiB on the whole batch; FitWindowPlan moves to smaller chunks or says so.
  std::vector<size_t> all;
  for (const BlockProfile& b : r.costs) all.push_back(b.options.size() > 1 ? 1 : 0);
  auto fitted = FitWindowPlan(r, planned->law, request, all);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  if (fitted->feasible) {
    EXPECT_LE(fitted->memory_bytes, BudgetForDivisor(request.memory_budget, fitted->micro_batch > 0 ? 2 : 1));
    EXPECT_LE(fitted->train_seconds, request.train_seconds + 1e-9);
  } else {
    EXPECT_EQ(fitted->micro_batch, r.batch / 8);  // it tried down to the smallest chunk
  }
}

TEST(WindowPlan, RaceAlternativesAreDistinctFeasiblePlansBesideTheLawsChoice) {
  const ProbeReport r = SampleReport();
  WindowPlanRequest request;
  request.memory_budget = 3u << 20;
  request.train_seconds = 30;
  auto planned = PlanFromProbes(r, nullptr, request);
  ASSERT_TRUE(planned.ok()) << planned.status();
  ASSERT_FALSE(planned->alternatives.empty());
  EXPECT_LE(planned->alternatives.size(), 3u);
  std::vector<std::string> texts = {PlanText(planned->plan)};
  bool first_alone = false;
  for (const Plan& a : planned->alternatives) {
    EXPECT_TRUE(a.feasible);
    EXPECT_GE(a.first_trainable, 0);
    EXPECT_LE(a.train_seconds, request.train_seconds + 1e-9);
    EXPECT_EQ(std::count(texts.begin(), texts.end(), PlanText(a)), 0) << PlanText(a);
    texts.push_back(PlanText(a));
    first_alone |= a.first_trainable == 0 &&
                   std::count_if(a.blocks.begin(), a.blocks.end(), [](const BlockDecision& d) { return d.form.trains(); }) == 1;
  }
  EXPECT_TRUE(first_alone || planned->plan.first_trainable == 0) << absl::StrJoin(texts, " | ");
  // No curve fitted the probe share: the prior's plan knows nothing of this window, so it races all the more.
  ProbeReport no_curves = r;
  no_curves.points.clear();
  no_curves.labeled_samples = kMinLabeledSamples;
  auto prior_only = PlanFromProbes(no_curves, nullptr, request);
  ASSERT_TRUE(prior_only.ok());
  EXPECT_FALSE(prior_only->law_fitted);
  EXPECT_FALSE(prior_only->alternatives.empty());
  // A label-free window has no accuracy to race on: no alternatives.
  no_curves.labeled_samples = kMinLabeledSamples - 1;
  auto label_free = PlanFromProbes(no_curves, nullptr, request);
  ASSERT_TRUE(label_free.ok());
  EXPECT_TRUE(label_free->alternatives.empty());
}

}  // namespace
}  // namespace bt
