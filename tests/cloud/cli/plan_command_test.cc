// `bt-cloud plan` on a decoder (the analytic costs before any edge has probed): it plans the committed tiny LLaMA
// fixture's blocks at a sequence length the user gives, and refuses one longer than the model's positions.
#include "cloud/cli/plan_command.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

const std::string kDecoder = std::string(BT_SOURCE_DIR) + "/tests/fixtures/llama_tiny";

TEST(PlanCommand, PlansADecoderFromItsDirectoryAtTheGivenSequenceLength) {
  PlanCommandOptions o;
  o.model_path = kDecoder;
  o.memory_budget = "64MiB";
  o.window = "1m";
  o.batch = 8;
  o.sequence = 16;
  o.json = true;
  testing::internal::CaptureStdout();
  const absl::Status planned = RunPlanCommand(o);
  const std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(planned.ok()) << planned;
  EXPECT_NE(out.find("\"feasible\": true"), std::string::npos) << out;
  EXPECT_NE(out.find("of 16 tokens"), std::string::npos) << out;
  EXPECT_NE(out.find("layer_0"), std::string::npos) << out;

  o.sequence = 100000;
  const absl::Status too_long = RunPlanCommand(o);
  EXPECT_FALSE(too_long.ok());
  EXPECT_NE(too_long.message().find("positions"), std::string::npos) << too_long;
}

}  // namespace
}  // namespace bt
