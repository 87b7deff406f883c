#include "common/plan/probe_report.h"

#include <gtest/gtest.h>

#include "common/plan/block_profile.h"
#include "common/plan/window_plan.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

ProbeReport SampleReport() {
  ProbeReport r;
  r.costs = AnalyticProfile(VitLayerShapes(fixtures::TinyVit()), ProfileOptions{});
  r.fixed_bytes = 100000;
  r.acc0 = 0.4;
  r.labeled_samples = 800;
  r.unlabeled_samples = 200;
  r.drift = {0.4, 0.7, 0.8, 0.65, 1000};
  // Synthetic curves from a known law: the head helps a little, the first layer a lot.
  LawParams truth = GenericPrior(r.costs.size(), r.acc0);
  truth.weights = {0.2, 1.5, 0.1, 0.3};
  truth.max_gain = 0.4;
  for (size_t k = 0; k < r.costs.size(); ++k) {
    for (double q : {10.0, 20.0, 40.0}) {
      std::vector<double> shares(r.costs.size(), 0.0);
      shares[k] = 1;
      r.points.push_back({shares, q, truth.Predict(shares, q)});
    }
  }
  r.curve_runs = static_cast<int>(r.costs.size());
  r.seconds = 11.5;
  return r;
}

TEST(ProbeReport, RoundTripsThroughJson) {
  const ProbeReport r = SampleReport();
  auto parsed = ProbeReport::FromJson(r.ToJson(), "report.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->acc0, r.acc0);
  EXPECT_EQ(parsed->drift.covariance_shift, r.drift.covariance_shift);
  ASSERT_EQ(parsed->points.size(), r.points.size());
  EXPECT_EQ(parsed->points[5].shares, r.points[5].shares);
  EXPECT_EQ(parsed->points[5].accuracy, r.points[5].accuracy);
  ASSERT_EQ(parsed->costs.size(), r.costs.size());
  EXPECT_EQ(parsed->costs[1].options.size(), r.costs[1].options.size());
  EXPECT_EQ(parsed->ToJson(), r.ToJson());
}

TEST(ProbeReport, RejectsMalformedReportsNamingTheSourceAndField) {
  ProbeReport r = SampleReport();
  r.points[2].shares.pop_back();
  auto parsed = ProbeReport::FromJson(r.ToJson(), "edge-7");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("edge-7: points[2]"), std::string::npos) << parsed.status();
  EXPECT_FALSE(ProbeReport::FromJson("[]", "x").ok());
  EXPECT_FALSE(ProbeReport::FromJson("{\"acc0\": 0.5}", "x").ok());
  r = SampleReport();
  r.points[0].accuracy = 1.5;
  EXPECT_FALSE(ProbeReport::FromJson(r.ToJson(), "x").ok());
}

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
  EXPECT_NE(planned->plan.blocks[1].option, "frozen") << planned->plan.ToTable();
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

TEST(EvaluatePlan, AgreesWithTheSolverOnTheSolversOwnChoice) {
  const ProbeReport r = SampleReport();
  PlanRequest request;
  request.blocks = r.costs;
  request.law = GenericPrior(r.costs.size(), r.acc0);
  request.memory_budget = 3u << 20;
  request.fixed_bytes = r.fixed_bytes;
  request.window_seconds = 100;
  request.iteration_grid = {25, 50, 100};
  auto solved = SolvePlan(request);
  ASSERT_TRUE(solved.ok() && solved->feasible);
  std::vector<size_t> options;
  for (const BlockDecision& d : solved->blocks) options.push_back(d.option_index);
  auto evaluated = EvaluatePlan(request, options, solved->iterations);
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  EXPECT_TRUE(evaluated->feasible);
  EXPECT_DOUBLE_EQ(evaluated->predicted_accuracy, solved->predicted_accuracy);
  EXPECT_EQ(evaluated->memory_bytes, solved->memory_bytes);
  // Everything trainable does not fit this budget and says so.
  std::vector<size_t> all(r.costs.size(), 1);
  auto full = EvaluatePlan(request, all, 25);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->feasible, full->memory_bytes <= request.memory_budget);
  EXPECT_FALSE(EvaluatePlan(request, std::vector<size_t>(r.costs.size(), 99), 25).ok());
}

}  // namespace
}  // namespace bt
