#include "common/plan/probe_report.h"

#include <gtest/gtest.h>

#include "tests/testing/sample_report.h"

namespace bt {
namespace {


TEST(ProbeReport, RoundTripsThroughJson) {
  const ProbeReport r = fixtures::SampleReport();
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
  ProbeReport r = fixtures::SampleReport();
  r.points[2].shares.pop_back();
  auto parsed = ProbeReport::FromJson(r.ToJson(), "edge-7");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("edge-7: points[2]"), std::string::npos) << parsed.status();
  EXPECT_FALSE(ProbeReport::FromJson("[]", "x").ok());
  EXPECT_FALSE(ProbeReport::FromJson("{\"acc0\": 0.5}", "x").ok());
  r = fixtures::SampleReport();
  r.points[0].accuracy = 1.5;
  EXPECT_FALSE(ProbeReport::FromJson(r.ToJson(), "x").ok());
}

}  // namespace
}  // namespace bt
