#include "common/plan/planner.h"

#include <gtest/gtest.h>

#include <random>

namespace bt {
namespace {

PlanRequest RandomRequest(std::mt19937& rng) {
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto integer = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  PlanRequest r;
  const int blocks = integer(1, 6);
  for (int b = 0; b < blocks; ++b) {
    BlockProfile p;
    p.name = "b" + std::to_string(b);
    p.parameters = 1000;
    p.prefix_bytes = static_cast<uint64_t>(integer(0, 15));
    p.prefix_seconds = uniform(0.0, 0.01);
    BlockOption frozen{"frozen", false, 0.0, p.prefix_bytes + static_cast<uint64_t>(integer(0, 30)),
                       p.prefix_seconds + uniform(0.0, 0.02)};
    p.options.push_back(frozen);
    const double shares[] = {1.0, 0.5, 0.25};
    const int trainable = integer(0, 3);
    for (int o = 0; o < trainable; ++o) {
      p.options.push_back({o == 0 ? "train" : "train@" + std::to_string(shares[o]), true, shares[o],
                           frozen.memory_bytes + static_cast<uint64_t>(integer(0, 40)),
                           frozen.seconds + uniform(0.0, 0.05)});
    }
    r.blocks.push_back(p);
    r.law.weights.push_back(uniform(0.0, 0.2));
  }
  r.law.acc0 = uniform(0.1, 0.9);
  r.law.max_gain = uniform(0.05, 1.0 - r.law.acc0);
  r.law.rho = uniform(0.3, 1.0);
  r.law.gamma = uniform(0.3, 1.0);
  r.law.tau = uniform(5, 100);
  r.law.alpha = uniform(0.5, 2.0);
  r.memory_budget = static_cast<uint64_t>(integer(10, 250));
  r.fixed_bytes = static_cast<uint64_t>(integer(0, 20));
  r.window_seconds = uniform(0.05, 10);
  r.iteration_grid = {1, 5, 10, 20, 50, 100};
  r.bytes_per_bucket = 1;  // exact integer memory, so the discretisation is exact too
  return r;
}

TEST(Planner, MatchesBruteForceOnAThousandRandomInstances) {
  std::mt19937 rng(2024);
  int trained = 0, infeasible = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    PlanRequest r = RandomRequest(rng);
    auto fast = SolvePlan(r);
    auto brute = BruteForcePlan(r);
    ASSERT_TRUE(fast.ok() && brute.ok()) << trial;
    ASSERT_EQ(fast->feasible, brute->feasible) << trial;
    ASSERT_NEAR(fast->predicted_accuracy, brute->predicted_accuracy, 1e-9) << "trial " << trial;
    if (!fast->feasible) {
      ++infeasible;
      EXPECT_GT(fast->min_memory_all_frozen, r.memory_budget);
      continue;
    }
    // Never over budget, never over the window, and the prediction is the law's for the plan.
    EXPECT_LE(fast->memory_bytes, r.memory_budget) << trial;
    EXPECT_LE(fast->train_seconds, r.window_seconds * (1 + 1e-9)) << trial;
    EXPECT_NEAR(fast->predicted_accuracy,
                r.law.Predict(PlanShares(r, *fast), static_cast<double>(fast->iterations)), 1e-12);
    if (fast->first_trainable >= 0) {
      ++trained;
      for (int64_t i = 0; i < fast->first_trainable; ++i) EXPECT_EQ(fast->blocks[i].option, "frozen");
      EXPECT_NE(fast->blocks[fast->first_trainable].option, "frozen");
    }
  }
  // The generator must exercise all the interesting outcomes.
  EXPECT_GT(trained, 300);
  EXPECT_GT(infeasible, 10);
}

PlanRequest ThreeBlocks() {
  PlanRequest r;
  for (int b = 0; b < 3; ++b) {
    BlockProfile p;
    p.name = "b" + std::to_string(b);
    p.prefix_bytes = 100;
    p.prefix_seconds = 0.001;
    p.options = {{"frozen", false, 0, 200, 0.002}, {"train", true, 1.0, 500, 0.004}};
    r.blocks.push_back(p);
  }
  r.law.acc0 = 0.5;
  r.law.max_gain = 0.4;
  r.law.weights = {0.9, 0.3, 0.15};
  r.memory_budget = 10000;
  r.window_seconds = 10;
  r.iteration_grid = {10, 100};
  return r;
}

TEST(Planner, PicksTheValuableEarlyBlockWhenItFits) {
  PlanRequest r = ThreeBlocks();
  auto plan = SolvePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->first_trainable, 0);
  EXPECT_EQ(plan->blocks[0].option, "train");
  EXPECT_EQ(plan->iterations, 100);
}

TEST(Planner, TighterMemoryMovesTrainingLater) {
  PlanRequest r = ThreeBlocks();
  // Training block 0 needs 500 + 200 + 200 = 900 bytes; block 2 alone needs 100 + 100 + 500 = 700.
  r.memory_budget = 800;
  auto plan = SolvePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_LE(plan->memory_bytes, 800u);
  EXPECT_GE(plan->first_trainable, 1);
}

TEST(Planner, ReportsTheSmallestFeasibleBudget) {
  PlanRequest r = ThreeBlocks();
  r.memory_budget = 250;  // all frozen needs 300
  auto plan = SolvePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->feasible);
  EXPECT_EQ(plan->min_memory_all_frozen, 300u);
  EXPECT_NE(plan->note.find("smallest feasible budget"), std::string::npos) << plan->note;

  r.memory_budget = 400;  // frozen fits, no training does (smallest: 100 + 100 + 500 = 700)
  plan = SolvePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->feasible);
  EXPECT_EQ(plan->first_trainable, -1);
  EXPECT_EQ(plan->min_memory_to_train, 700u);
  EXPECT_NE(plan->note.find("700 B"), std::string::npos) << plan->note;
  EXPECT_DOUBLE_EQ(plan->predicted_accuracy, 0.5);
}

TEST(Planner, ShortWindowsGetFewerIterations) {
  PlanRequest r = ThreeBlocks();
  r.window_seconds = 0.1;  // 100 iterations of ≥ 0.006 s do not fit; 10 do
  auto plan = SolvePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->iterations, 10);
  EXPECT_LE(plan->train_seconds, 0.1);
}

TEST(Planner, RejectsMalformedRequests) {
  PlanRequest r = ThreeBlocks();
  r.law.weights.pop_back();
  EXPECT_FALSE(SolvePlan(r).ok());
  r = ThreeBlocks();
  r.iteration_grid = {0};
  EXPECT_FALSE(SolvePlan(r).ok());
  r = ThreeBlocks();
  r.blocks[1].options[0].trainable = true;
  auto status = SolvePlan(r).status();
  EXPECT_NE(status.message().find("b1"), std::string::npos) << status;
}

TEST(Planner, ExplainsItselfAsTableAndJson) {
  auto plan = SolvePlan(ThreeBlocks());
  ASSERT_TRUE(plan.ok());
  std::string table = plan->ToTable();
  EXPECT_NE(table.find("b0"), std::string::npos);
  EXPECT_NE(table.find("predicted"), std::string::npos);
  std::string json = plan->ToJson();
  EXPECT_NE(json.find("\"predicted_accuracy\""), std::string::npos);
}

TEST(RetrainingLaw, FitRecoversKnownParametersFromSyntheticPoints) {
  LawParams truth;
  truth.acc0 = 0.4;
  truth.max_gain = 0.45;
  truth.weights = {1.5, 0.8, 0.4, 0.2};
  truth.gamma = 0.6;
  truth.tau = 30;
  truth.alpha = 1.2;
  truth.rho = 0.7;
  std::vector<ProbePoint> points;
  // Single-block curves (what the edge probes) plus a few multi-block plans.
  for (size_t b = 0; b < 4; ++b) {
    for (double share : {0.25, 1.0}) {
      for (double q : {10.0, 40.0, 160.0}) {
        ProbePoint p;
        p.shares.assign(4, 0.0);
        p.shares[b] = share;
        p.iterations = q;
        p.accuracy = truth.Predict(p.shares, q);
        points.push_back(p);
      }
    }
  }
  points.push_back({{1, 1, 0, 0}, 80, truth.Predict({1, 1, 0, 0}, 80)});
  points.push_back({{0.5, 0, 1, 1}, 120, truth.Predict({0.5, 0, 1, 1}, 120)});
  LawParams prior;
  prior.acc0 = truth.acc0;
  prior.weights = {0.5, 0.5, 0.5, 0.5};
  LawFitOptions options;
  options.prior_strength = 0.0;
  auto fit = FitLaw(points, prior, options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_LT(fit->rmse, 1e-4);
  for (size_t b = 0; b < 4; ++b) EXPECT_NEAR(fit->params.weights[b], truth.weights[b], 0.05 * truth.weights[b]) << b;
  EXPECT_NEAR(fit->params.max_gain, truth.max_gain, 0.01);
  EXPECT_NEAR(fit->params.rho, truth.rho, 0.05);
  EXPECT_NEAR(fit->params.gamma, truth.gamma, 0.05);
  EXPECT_NEAR(fit->params.tau, truth.tau, 3);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.1);
  // A prediction off the fitting points.
  EXPECT_NEAR(fit->params.Predict({0, 1, 1, 0.5}, 60), truth.Predict({0, 1, 1, 0.5}, 60), 0.005);
}

TEST(RetrainingLaw, PriorDominatesWithoutData) {
  LawParams prior;
  prior.acc0 = 0.5;
  prior.weights = {0.2, 0.1};
  prior.gamma = 0.7;
  // One uninformative point at q = 0: the fit must stay at the prior.
  auto fit = FitLaw({{{0, 0}, 0, 0.5}}, prior);
  ASSERT_TRUE(fit.ok());
  EXPECT_NEAR(fit->params.weights[0], 0.2, 1e-6);
  EXPECT_NEAR(fit->params.gamma, 0.7, 1e-6);
  auto json = fit->params.ToJson();
  auto back = LawParams::FromJson(json);
  ASSERT_TRUE(back.ok());
  EXPECT_NEAR(back->weights[1], fit->params.weights[1], 1e-12);
  EXPECT_FALSE(LawParams::FromJson("{\"acc0\": 1}").ok());
  EXPECT_FALSE(FitLaw({}, prior).ok());
}

}  // namespace
}  // namespace bt
