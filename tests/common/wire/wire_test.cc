// The wire codecs: a plan survives the trip and is checked against the model on the way in; a probe report
// survives the trip, and one naming an unknown block form is refused.
#include "common/wire/wire.h"

#include <gtest/gtest.h>

#include "tests/testing/sample_report.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

TEST(PlanFromProto, RejectsPlansThatDoNotFitTheModel) {
  Plan plan;
  plan.feasible = true;
  plan.iterations = 25;
  plan.blocks = {{"embed", BlockChoice::Train()}, {"head", BlockChoice::Frozen()}};
  v1::PlanResponse msg;
  PlanToProto(plan, &msg);
  auto ok = PlanFromProto(msg, {"embed", "head"}, 64);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->first_trainable, 0);
  EXPECT_EQ(PlanText(*ok), "embed:train");

  EXPECT_FALSE(PlanFromProto(msg, {"embed", "layer", "head"}, 64).ok());  // block count
  EXPECT_FALSE(PlanFromProto(msg, {"stem", "head"}, 64).ok());            // block name
  v1::PlanResponse bad = msg;
  bad.mutable_blocks(0)->set_option("train@1.5");
  EXPECT_FALSE(PlanFromProto(bad, {"embed", "head"}, 64).ok());
  bad = msg;
  bad.set_iterations(0);
  EXPECT_FALSE(PlanFromProto(bad, {"embed", "head"}, 64).ok());
  bad = msg;
  bad.set_micro_batch(65);
  EXPECT_FALSE(PlanFromProto(bad, {"embed", "head"}, 64).ok());
}

TEST(ProbeReportProto, RoundTripsAndRefusesUnknownForms) {
  const ProbeReport r = fixtures::SampleReport();
  v1::ProbeReportMsg msg;
  ProbeReportToProto(r, &msg);
  auto back = ProbeReportFromProto(msg);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), r.ToJson());
  msg.mutable_costs(1)->mutable_options(1)->set_name("train@2");
  auto bad = ProbeReportFromProto(msg);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("train@2"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace bt
