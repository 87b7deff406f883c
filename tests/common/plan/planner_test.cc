#include "common/plan/planner.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing/sample_report.h"

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
    BlockOption frozen{BlockChoice::Frozen(), false, 0.0, p.prefix_bytes + static_cast<uint64_t>(integer(0, 30)),
                       p.prefix_seconds + uniform(0.0, 0.02)};
    p.options.push_back(frozen);
    const double shares[] = {1.0, 0.5, 0.25};
    const int trainable = integer(0, 3);
    for (int o = 0; o < trainable; ++o) {
      p.options.push_back({o == 0 ? BlockChoice::Train() : BlockChoice::Proxy(1.0 - shares[o]), true, shares[o],
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
      for (int64_t i = 0; i < fast->first_trainable; ++i) EXPECT_FALSE(fast->blocks[i].form.trains());
      EXPECT_TRUE(fast->blocks[fast->first_trainable].form.trains());
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
    p.options = {{BlockChoice::Frozen(), false, 0, 200, 0.002}, {BlockChoice::Train(), true, 1.0, 500, 0.004}};
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
  EXPECT_EQ(plan->blocks[0].option(), "train");
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

TEST(EvaluatePlan, AgreesWithTheSolverOnTheSolversOwnChoice) {
  const ProbeReport r = fixtures::SampleReport();
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

// An option combination at the most iterations on the grid that fit the window (TopPlans ranks on the grid; FitPlan
// also fills the window between grid values).
absl::StatusOr<Plan> AtBestGridValue(const PlanRequest& r, const std::vector<size_t>& options) {
  absl::StatusOr<Plan> best = EvaluatePlan(r, options, r.iteration_grid.front());
  for (int64_t q : r.iteration_grid) {
    auto plan = EvaluatePlan(r, options, q);
    if (plan.ok() && plan->train_seconds <= r.window_seconds * (1 + 1e-12) && q > best->iterations) best = plan;
  }
  return best;
}

// Every feasible, gaining option combination of `r` at its best q, by brute force: (predicted accuracy, options).
std::vector<std::pair<double, std::vector<size_t>>> AllPlans(const PlanRequest& r) {
  std::vector<std::pair<double, std::vector<size_t>>> all;
  const size_t n = r.blocks.size();
  std::vector<size_t> options(n, 0);
  while (true) {
    bool trains = false, canonical = true;
    for (size_t i = 0; i < n && !trains; ++i) {
      trains = r.blocks[i].options[options[i]].trainable;
      if (!trains && options[i] != 0) canonical = false;
    }
    if (trains && canonical) {
      auto plan = AtBestGridValue(r, options);
      if (plan.ok() && plan->feasible && plan->train_seconds <= r.window_seconds * (1 + 1e-12) &&
          plan->predicted_accuracy > r.law.acc0 + 1e-12) {
        all.push_back({plan->predicted_accuracy, options});
      }
    }
    size_t i = 0;
    while (i < n && ++options[i] == r.blocks[i].options.size()) options[i++] = 0;
    if (i == n) break;
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return all;
}

TEST(TopPlans, AreTheBestDistinctPlansInOrderAndStartWithTheSolversOptimum) {
  std::mt19937 rng(7);
  int compared = 0;
  for (int trial = 0; trial < 300; ++trial) {
    PlanRequest r = RandomRequest(rng);
    auto top = TopPlans(r, 5);
    auto solved = SolvePlan(r);
    ASSERT_TRUE(top.ok() && solved.ok()) << trial;
    const auto all = AllPlans(r);
    ASSERT_EQ(top->size(), std::min<size_t>(5, all.size())) << "trial " << trial;
    for (size_t k = 0; k < top->size(); ++k) {
      const Plan& p = (*top)[k];
      EXPECT_TRUE(p.feasible);
      EXPECT_LE(p.memory_bytes, r.memory_budget);
      EXPECT_LE(p.train_seconds, r.window_seconds * (1 + 1e-9));
      // The k-th best prediction over every plan (ties may come in either order, the values may not).
      EXPECT_NEAR(p.predicted_accuracy, all[k].first, 1e-9) << "trial " << trial << " rank " << k;
      for (size_t j = 0; j < k; ++j) {
        std::vector<size_t> a, b;
        for (const BlockDecision& d : p.blocks) a.push_back(d.option_index);
        for (const BlockDecision& d : (*top)[j].blocks) b.push_back(d.option_index);
        EXPECT_NE(a, b) << "trial " << trial << ": rank " << j << " and " << k << " are the same plan";
      }
    }
    if (!top->empty() && solved->first_trainable >= 0) {
      EXPECT_NEAR(top->front().predicted_accuracy, solved->predicted_accuracy, 1e-9) << "trial " << trial;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100);
}

TEST(TopPlans, BeyondTheExhaustiveLimitSearchTheSolversNeighbourhood) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    PlanRequest r = RandomRequest(rng);
    auto exhaustive = TopPlans(r, 3);
    auto local = TopPlans(r, 3, /*exhaustive_limit=*/1);
    auto solved = SolvePlan(r);
    ASSERT_TRUE(exhaustive.ok() && local.ok() && solved.ok());
    ASSERT_EQ(local->empty(), exhaustive->empty()) << trial;
    if (local->empty()) continue;
    EXPECT_NEAR(local->front().predicted_accuracy, solved->predicted_accuracy, 1e-9) << trial;
    for (size_t k = 0; k < local->size(); ++k) {
      // Never better than the true k-th best (it searches a subset), and in order.
      EXPECT_LE((*local)[k].predicted_accuracy, (*exhaustive)[k].predicted_accuracy + 1e-9) << trial;
      if (k > 0) EXPECT_GE((*local)[k - 1].predicted_accuracy, (*local)[k].predicted_accuracy - 1e-12);
    }
  }
}

TEST(FitPlan, RunsTheMostIterationsThatFitTheWindow) {
  PlanRequest r = ThreeBlocks();
  std::vector<size_t> options(r.blocks.size(), 0);
  options.back() = 1;
  r.iteration_grid = {10, 20, 40, 80};
  auto at_10 = EvaluatePlan(r, options, 10);
  ASSERT_TRUE(at_10.ok());
  r.window_seconds = at_10->seconds_per_iteration * 47;  // 40 fit on the grid, 80 do not: 45 fill the window
  auto fitted = FitPlan(r, options);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->iterations, 45);
  EXPECT_LE(fitted->train_seconds, r.window_seconds);
  auto at_40 = EvaluatePlan(r, options, 40);
  ASSERT_TRUE(at_40.ok());
  EXPECT_GT(fitted->predicted_accuracy, at_40->predicted_accuracy);  // re-evaluated at the iterations it runs
  r.window_seconds = at_10->seconds_per_iteration * 500;  // far more than the grid's top: the top
  fitted = FitPlan(r, options);
  ASSERT_TRUE(fitted.ok());
  EXPECT_EQ(fitted->iterations, 80);
  r.window_seconds = at_10->seconds_per_iteration * 5;  // not even the smallest: the smallest, honestly timed
  fitted = FitPlan(r, options);
  ASSERT_TRUE(fitted.ok());
  EXPECT_EQ(fitted->iterations, 10);
  EXPECT_GT(fitted->train_seconds, r.window_seconds);
}

TEST(FillWindow, APlanUsesTheWindowBetweenGridValues) {
  PlanRequest r = ThreeBlocks();
  r.iteration_grid = {10, 20, 40, 80};
  auto solved = EvaluatePlan(r, {1, 1, 1}, 40);  // everything trains, at a grid value
  ASSERT_TRUE(solved.ok() && solved->feasible && solved->first_trainable == 0);
  r.window_seconds = solved->seconds_per_iteration * 63;  // 40 fit on the grid, 80 do not
  auto filled = FillWindow(r, *solved);
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(filled->iterations, 60);
  for (size_t k = 0; k < filled->blocks.size(); ++k) {
    EXPECT_EQ(filled->blocks[k].option_index, solved->blocks[k].option_index);  // the same forms
  }
  EXPECT_GE(filled->predicted_accuracy, solved->predicted_accuracy);
  Plan frozen = *solved;
  frozen.first_trainable = -1;
  EXPECT_EQ(FillWindow(r, frozen)->iterations, 40);  // nothing trains: as it is
}

}  // namespace
}  // namespace bt
