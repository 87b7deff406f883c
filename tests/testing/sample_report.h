// A probe report for a tiny ViT with analytic costs and synthetic curves from a known law (the first layer helps a
// lot, the head a little), for plan and report tests.
#pragma once

#include "common/plan/block_profile.h"
#include "common/plan/probe_report.h"
#include "common/plan/window_plan.h"
#include "tests/testing/test_models.h"

namespace bt::fixtures {

inline ProbeReport SampleReport() {
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

}  // namespace bt::fixtures
