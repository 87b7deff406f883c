// The retraining law: the fit recovers known parameters from synthetic curves, and the prior holds without data.
#include "common/plan/retraining_law.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

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
