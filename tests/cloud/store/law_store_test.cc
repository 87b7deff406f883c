#include "cloud/store/law_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace bt {
namespace {

class LawStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("bt_law_store_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

LawParams Truth() {
  LawParams law;
  law.acc0 = 0.4;
  law.max_gain = 0.4;
  law.weights = {1.2, 0.6, 0.3};
  law.gamma = 0.5;
  law.tau = 40;
  law.alpha = 1.2;
  law.rho = 0.6;
  return law;
}

std::vector<ProbePoint> Curves(const LawParams& truth) {
  std::vector<ProbePoint> points;
  for (size_t b = 0; b < 3; ++b) {
    for (double q : {25.0, 50.0, 100.0, 200.0}) {
      ProbePoint p{{0, 0, 0}, q, 0};
      p.shares[b] = 1.0;
      p.accuracy = truth.Predict(p.shares, q);
      points.push_back(p);
    }
  }
  points.push_back({{1, 1, 0}, 100, truth.Predict({1, 1, 0}, 100)});
  points.push_back({{0, 1, 1}, 200, truth.Predict({0, 1, 1}, 200)});
  return points;
}

TEST_F(LawStoreTest, AFitBecomesTheNextWindowsPrior) {
  LawStore store(dir_.string());
  EXPECT_TRUE(absl::IsNotFound(store.Load("cam-1").status()));
  LawParams fallback;
  fallback.weights = {0.5, 0.5, 0.5};
  auto first = store.FitAndStore("cam-1", Curves(Truth()), 0.4, fallback);
  ASSERT_TRUE(first.ok()) << first.status();
  auto stored = store.Load("cam-1");
  ASSERT_TRUE(stored.ok());
  // The stored law predicts what it was fitted to (to within half an accuracy point).
  EXPECT_LT(MeanAbsoluteError(*stored, Curves(Truth())), 0.005);

  // Next window: a single uninformative point. The fit stays at the stored law instead of the fallback.
  auto second = store.FitAndStore("cam-1", {{{0, 0, 0}, 0, 0.45}}, 0.45, fallback);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NEAR(second->params.weights[0], stored->weights[0], 1e-3);
  EXPECT_DOUBLE_EQ(second->params.acc0, 0.45);
  // Another edge is unaffected.
  EXPECT_TRUE(absl::IsNotFound(store.Load("cam-2").status()));
}

TEST_F(LawStoreTest, RejectsEdgeIdsThatAreNotPlainNames) {
  LawStore store(dir_.string());
  EXPECT_FALSE(store.Save("../etc", Truth()).ok());
  EXPECT_FALSE(store.Save("a/b", Truth()).ok());
  EXPECT_FALSE(store.Load("").ok());
  EXPECT_TRUE(store.Save("cam.7_x-1", Truth()).ok());
}

}  // namespace
}  // namespace bt
