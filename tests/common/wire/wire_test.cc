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
  // ... unless the plan says it is infeasible (no time or memory left): it trains nothing.
  bad.set_feasible(false);
  auto nothing = PlanFromProto(bad, {"embed", "head"}, 64);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(nothing->feasible);
  bad.set_iterations(-1);
  EXPECT_FALSE(PlanFromProto(bad, {"embed", "head"}, 64).ok());
  bad = msg;
  bad.set_micro_batch(65);
  EXPECT_FALSE(PlanFromProto(bad, {"embed", "head"}, 64).ok());
}

// How far a run may go on past its iterations travels with the plan; a cloud that says nothing (0, as an older one
// sends) or less than the plan's iterations lets it go no further than them, and an absurd one is refused.
TEST(PlanFromProto, CarriesHowFarTheRunMayGoOnAndBoundsIt) {
  Plan plan;
  plan.feasible = true;
  plan.iterations = 75;
  plan.max_iterations = 400;
  plan.blocks = {{"embed", BlockChoice::Train()}, {"head", BlockChoice::Frozen()}};
  v1::PlanResponse msg;
  PlanToProto(plan, &msg);
  auto back = PlanFromProto(msg, {"embed", "head"}, 64);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->iterations, 75);
  EXPECT_EQ(back->max_iterations, 400);
  for (int64_t said : {0, 10}) {
    v1::PlanResponse less = msg;
    less.set_max_iterations(said);
    auto no_further = PlanFromProto(less, {"embed", "head"}, 64);
    ASSERT_TRUE(no_further.ok()) << no_further.status();
    EXPECT_EQ(no_further->max_iterations, 75) << said;
  }
  for (int64_t absurd : {int64_t{-1}, int64_t{1'000'001}}) {
    v1::PlanResponse bad = msg;
    bad.set_max_iterations(absurd);
    auto refused = PlanFromProto(bad, {"embed", "head"}, 64);
    ASSERT_FALSE(refused.ok()) << absurd;
    EXPECT_NE(refused.status().message().find("max_iterations"), std::string::npos) << refused.status();
  }
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

TEST(AlternativesProto, RoundTripAndRefuseTooManyNestedOrUntrainedAlternatives) {
  Plan plan;
  plan.feasible = true;
  plan.iterations = 50;
  plan.first_trainable = 1;
  plan.predicted_accuracy = 0.7;
  for (const char* name : {"embed", "head"}) {
    BlockDecision d;
    d.block = name;
    d.form = std::string(name) == "head" ? BlockChoice::Train() : BlockChoice::Frozen();
    d.in_backward_path = d.form.trains();
    plan.blocks.push_back(d);
  }
  v1::PlanResponse msg;
  AlternativesToProto({plan, plan}, &msg);
  auto back = AlternativesFromProto(msg, {"embed", "head"}, 64);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(PlanText((*back)[1]), "head:train");
  EXPECT_EQ((*back)[1].iterations, 50);

  v1::PlanResponse too_many;
  AlternativesToProto(std::vector<Plan>(kMaxAlternatives + 1, plan), &too_many);
  EXPECT_NE(AlternativesFromProto(too_many, {"embed", "head"}, 64).status().message().find("at most"),
            std::string::npos);
  v1::PlanResponse nested = msg;
  AlternativesToProto({plan}, nested.mutable_alternatives(0));
  EXPECT_NE(AlternativesFromProto(nested, {"embed", "head"}, 64).status().message().find("alternatives[0]"),
            std::string::npos);
  Plan frozen = plan;
  frozen.blocks[1].form = BlockChoice::Frozen();
  v1::PlanResponse untrained;
  AlternativesToProto({plan, frozen}, &untrained);
  auto refused = AlternativesFromProto(untrained, {"embed", "head"}, 64);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("alternatives[1]"), std::string::npos) << refused.status();
  EXPECT_FALSE(AlternativesFromProto(msg, {"embed", "layer", "head"}, 64).ok());  // checked like the plan
}

}  // namespace
}  // namespace bt
