// Feature statistics and the label-free accuracy estimate (ATC): no drift on the source data, drift under a
// corruption, and a JSON round trip.
#include "common/train/feature_stats.h"

#include <gtest/gtest.h>

#include "tests/testing/trained_tiny.h"

namespace bt {
namespace {

using fixtures::ToyData;
using fixtures::TrainedTiny;

TEST(FeatureStats, NoDriftOnTheSourceAndDriftUnderCorruption) {
  auto model = TrainedTiny();
  const ImageDataset source_data = ToyData(400, 2);
  auto source = ComputeSourceStats(*model, source_data);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->mean.size(), 16u);
  EXPECT_EQ(source->covariance.size(), 16u * 16u);
  EXPECT_GT(source->accuracy, 0.8);

  auto same = ComputeDriftStats(*model, source_data.images, *source);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_NEAR(same->mean_shift, 0.0, 1e-9);
  EXPECT_NEAR(same->covariance_shift, 0.0, 1e-9);
  // ATC reproduces the clean accuracy on the clean data it was calibrated on (up to ties at the threshold).
  EXPECT_NEAR(same->estimated_accuracy, source->accuracy, 0.01);

  torch::manual_seed(3);
  torch::Tensor noisy = (source_data.images + 0.5 * torch::randn_like(source_data.images)).clamp(0, 1);
  auto drifted = ComputeDriftStats(*model, noisy, *source);
  ASSERT_TRUE(drifted.ok());
  EXPECT_GT(drifted->mean_shift, 0.1);
  EXPECT_GT(drifted->covariance_shift, 0.1);

  auto round_trip = SourceStats::FromJson(source->ToJson(), "test");
  ASSERT_TRUE(round_trip.ok()) << round_trip.status();
  EXPECT_EQ(round_trip->mean, source->mean);
  EXPECT_EQ(round_trip->confidence_threshold, source->confidence_threshold);
}

}  // namespace
}  // namespace bt
