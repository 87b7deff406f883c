// The window pipeline that `bt-edge serve` and `bt-bench` share: the same window through the planner in-process
// and through a cloud behind the wire codecs gives the same plan and the same accuracy; a baseline plan source
// runs through the same pipeline; and what the runner hands back is consistent with what it reports.
#include <gtest/gtest.h>

#include <algorithm>

#include <thread>

#include "bench/baselines.h"
#include "common/wire/wire.h"
#include "edge/window/plan_source.h"
#include "edge/window/window_runner.h"
#include "tests/testing/test_models.h"
#include "tests/testing/toy_data.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

using fixtures::Tiny;

// A fake cloud: the planning step as bt-cloud runs it, behind the wire messages both ways.
struct FakeCloud {
  std::vector<int64_t> grid;
  std::vector<std::string> pulled;
  int reports = 0;
  absl::StatusOr<v1::PlanResponse> ReportProbes(const v1::ReportProbesRequest& request) {
    ++reports;
    ASSIGN_OR_RETURN(ProbeReport report, ProbeReportFromProto(request.probes()));
    WindowPlanRequest plan_request;
    plan_request.memory_budget = memory_budget;
    plan_request.train_seconds = request.train_seconds();
    plan_request.iteration_grid = grid;
    ASSIGN_OR_RETURN(WindowPlan wp, PlanFromProbes(report, nullptr, plan_request));
    v1::PlanResponse response;
    PlanToProto(wp.plan, &response);
    AlternativesToProto(wp.alternatives, &response);
    response.set_plan_id("plan-" + request.window_id());
    for (int k = 0; k < response.blocks_size(); ++k) response.mutable_blocks(k)->set_digest(std::string(64, 'a' + k));
    return response;
  }
  uint64_t memory_budget = 0;
};

struct Window {
  std::unique_ptr<BlockModel> model;
  WindowSamples samples;
};

Window MakeWindow() {
  Window w;
  w.model = *CreateVitModel(Tiny(), 3);
  ImageDataset data = fixtures::ToyData(240, 7);
  data.images = (data.images * 0.5 + 0.3).clamp(0, 1);  // a contrast drift
  w.samples = SplitWindowSamples(data, torch::ones({data.size()}, torch::kBool));
  return w;
}

WindowInput InputFor(const Window& w, uint64_t budget) {
  WindowInput in;
  in.id = "w1";
  in.model = *CopyModel(*w.model);
  in.samples = &w.samples;
  in.budget.memory_budget = budget;
  in.budget.window = std::chrono::minutes(10);  // every probe curve and every iteration fits: deterministic
  in.budget.batch = 32;
  in.budget.threads = 1;  // the same arithmetic in both runs whatever else the machine is doing
  in.seed = 5;
  return in;
}

TEST(WindowRunner, LocalAndRemotePlanSourcesGiveTheSamePlanAndAccuracy) {
  const Window w = MakeWindow();
  const std::vector<int64_t> grid = {25, 50};
  const uint64_t budget = 64ull << 20;

  LocalPlanner local(grid);
  auto a = RunWindow(InputFor(w, budget), local, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();

  FakeCloud cloud;
  cloud.grid = grid;
  cloud.memory_budget = budget;
  RemotePlanSource::Transport transport;
  transport.report_probes = [&](const v1::ReportProbesRequest& r) { return cloud.ReportProbes(r); };
  transport.pull_blocks = [&](const std::vector<std::string>& digests) -> absl::StatusOr<uint64_t> {
    cloud.pulled = digests;
    return uint64_t{123};
  };
  RemotePlanSource remote("edge-1", 32, transport);
  auto b = RunWindow(InputFor(w, budget), remote, nullptr);
  ASSERT_TRUE(b.ok()) << b.status();

  EXPECT_EQ(cloud.reports, 1);
  // Both raced the law's plan against the same alternatives and trained the same winner.
  EXPECT_FALSE(a->race_text.empty());
  EXPECT_EQ(a->planned.alternatives.size(), b->planned.alternatives.size());
  EXPECT_EQ(a->race_winner, b->race_winner);
  EXPECT_EQ(a->plan_text, b->plan_text);
  EXPECT_NE(a->plan_text, "all frozen");
  EXPECT_EQ(a->planned.plan.iterations, b->planned.plan.iterations);
  EXPECT_NEAR(a->planned.plan.predicted_accuracy, b->planned.plan.predicted_accuracy, 1e-9);
  EXPECT_EQ(a->planned.plan.memory_bytes, b->planned.plan.memory_bytes);
  EXPECT_EQ(a->outcome, b->outcome);
  EXPECT_DOUBLE_EQ(a->accuracy_before, b->accuracy_before);
  EXPECT_DOUBLE_EQ(a->accuracy_after, b->accuracy_after);
  EXPECT_EQ(a->iterations, b->iterations);
  // Only the remote source names the plan and pulls (every block's digest in the base version).
  EXPECT_EQ(a->planned.plan_id, "");
  EXPECT_EQ(b->planned.plan_id, "plan-w1");
  EXPECT_EQ(b->bytes_down, 123u);
  ASSERT_EQ(cloud.pulled.size(), w.model->num_blocks());
  EXPECT_EQ(cloud.pulled[0], std::string(64, 'a'));
  // Same trained weights.
  ASSERT_TRUE(a->deployed && b->deployed);
  for (const auto& [name, tensor] : a->model->parameters()) {
    EXPECT_TRUE(torch::equal(tensor, b->model->parameters().at(name))) << name;
  }
}

TEST(WindowRunner, DeployedOutcomeCarriesTheTrainedBlocksAndLeavesTheInputModelAlone) {
  const Window w = MakeWindow();
  const TensorMap before = *w.model->GetBlock("head");
  LocalPlanner local({25});
  auto out = RunWindow(InputFor(w, 64ull << 20), local, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->deployed) << out->outcome;
  EXPECT_EQ(out->outcome, "deployed");
  EXPECT_GE(out->accuracy_after, out->accuracy_before);
  EXPECT_GT(out->peak_bytes, 0);
  EXPECT_LE(static_cast<uint64_t>(out->peak_bytes), uint64_t{64} << 20);
  // Every trained block is in the new model, and the caller's model is untouched.
  for (const auto& [block, tensors] : out->trained) {
    const TensorMap now = *out->model->GetBlock(block);
    for (const auto& [param, t] : tensors) EXPECT_TRUE(torch::equal(now.at(param), t)) << param;
  }
  for (const auto& [param, t] : before) EXPECT_TRUE(torch::equal(w.model->GetBlock("head")->at(param), t));
  uint64_t bytes = 0;
  for (const auto& [block, tensors] : out->trained) {
    for (const auto& [param, t] : tensors) bytes += static_cast<uint64_t>(t.numel() * t.element_size());
  }
  EXPECT_EQ(out->trained_bytes, bytes);
}

TEST(WindowRunner, ABudgetTooSmallForAnythingTrainsNothing) {
  const Window w = MakeWindow();
  LocalPlanner local({25});
  auto out = RunWindow(InputFor(w, 1024), local, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->retrained);
  EXPECT_FALSE(out->deployed);
  EXPECT_EQ(out->outcome.rfind("nothing to train: ", 0), 0u) << out->outcome;
  EXPECT_EQ(out->model, nullptr);
}

TEST(WindowRunner, BaselinesRunThroughTheSamePipelineWithoutCurves) {
  const Window w = MakeWindow();
  BaselinePlanSource last_k(BaselinePlanSource::Kind::kLastK, {25}, 1);
  auto out = RunWindow(InputFor(w, 64ull << 20), last_k, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->report.points.empty());  // baselines probe costs only
  EXPECT_EQ(out->report.curve_runs, 0);
  // With room for everything, last-k trains every block.
  for (const BlockDecision& d : out->planned.plan.blocks) EXPECT_EQ(d.option(), "train") << d.block;
  EXPECT_TRUE(out->retrained);

  BaselinePlanSource lora(BaselinePlanSource::Kind::kFixedCompressedLora, {25}, 1);
  auto with_lora = RunWindow(InputFor(w, 64ull << 20), lora, nullptr);
  ASSERT_TRUE(with_lora.ok()) << with_lora.status();
  EXPECT_EQ(with_lora->planned.plan.blocks[1].form.kind, BlockChoice::Kind::kLora) << with_lora->plan_text;
}

TEST(WindowRunner, TheRaceTrainsTheMeasuredLeaderAndTheLawAloneTrainsItsOwnPlan) {
  const Window w = MakeWindow();
  const std::vector<int64_t> grid = {25, 50};
  LocalPlanner racing(grid), law_only(grid, /*race=*/false);
  auto raced = RunWindow(InputFor(w, 64ull << 20), racing, nullptr);
  auto alone = RunWindow(InputFor(w, 64ull << 20), law_only, nullptr);
  ASSERT_TRUE(raced.ok() && alone.ok()) << raced.status() << alone.status();
  EXPECT_TRUE(alone->planned.alternatives.empty());
  EXPECT_TRUE(alone->race_text.empty());
  ASSERT_FALSE(raced->planned.alternatives.empty());
  EXPECT_NE(raced->race_text.find("race ("), std::string::npos) << raced->race_text;
  // The winner is what trained: the law's plan (0) or one of the alternatives.
  const Plan& trained = raced->race_winner == 0 ? alone->planned.plan
                                                : raced->planned.alternatives[raced->race_winner - 1];
  EXPECT_EQ(raced->plan_text, PlanText(trained));
  if (raced->race_winner == 0) EXPECT_EQ(raced->plan_text, alone->plan_text);
  // The winner went on from its race run: those iterations are part of what trained.
  EXPECT_GT(raced->continued_iterations, 0) << raced->race_text;
  EXPECT_GE(raced->iterations, raced->continued_iterations);
  EXPECT_NE(raced->race_text.find("goes on from"), std::string::npos) << raced->race_text;
  EXPECT_EQ(alone->continued_iterations, 0);
}

// A plan source whose plans stop short of how far they may go (a window's time fitted at predicted speeds).
class ShortPlans final : public PlanSource {
 public:
  ShortPlans(PlanSource& inner, int64_t max_iterations) : inner_(inner), max_iterations_(max_iterations) {}
  ProbeNeeds needs() const override { return inner_.needs(); }
  absl::StatusOr<PlannedWindow> PlanWindow(const PlanQuery& query) override {
    ASSIGN_OR_RETURN(PlannedWindow planned, inner_.PlanWindow(query));
    planned.plan.max_iterations = max_iterations_;
    return planned;
  }

 private:
  PlanSource& inner_;
  int64_t max_iterations_;
};

// A run that reaches its plan's iterations with the window's time left goes on towards the plan's max_iterations
// (its own measured speed says more fit: here minutes), and no further than the plan when that says nothing more.
TEST(WindowRunner, ATrainingThatFinishesEarlyGoesOnTowardsThePlansLimit) {
  const Window w = MakeWindow();
  BaselinePlanSource last_k(BaselinePlanSource::Kind::kLastK, {25}, 1);
  ShortPlans may_go_on(last_k, 75), may_not(last_k, 0);
  std::vector<double> training_progress;
  WindowHooks hooks;
  hooks.on_state = [&](WindowStage stage, double progress) {
    if (stage == WindowStage::kTraining) training_progress.push_back(progress);
  };
  auto went_on = RunWindow(InputFor(w, 64ull << 20), may_go_on, nullptr, hooks);
  auto stayed = RunWindow(InputFor(w, 64ull << 20), may_not, nullptr);
  ASSERT_TRUE(went_on.ok() && stayed.ok()) << went_on.status() << stayed.status();
  EXPECT_EQ(went_on->planned.plan.iterations, 25);
  EXPECT_EQ(went_on->iterations, 75);
  EXPECT_EQ(stayed->iterations, 25);
  EXPECT_TRUE(went_on->retrained && stayed->retrained);
  // The peak is the training's, over every leg (the last leg only evaluates and ends the run).
  EXPECT_GT(stayed->peak_bytes, 0);
  EXPECT_GE(went_on->peak_bytes, stayed->peak_bytes);
  // Its progress never goes back when a leg going on counts against a larger total.
  ASSERT_GE(training_progress.size(), 75u);
  EXPECT_TRUE(std::is_sorted(training_progress.begin(), training_progress.end()));
  EXPECT_LE(training_progress.back(), 0.95 + 1e-9);
}

TEST(WindowRunner, TheThreadCountIsMeasuredAndSet) {
  const Window w = MakeWindow();
  const int chosen = ChooseIntraOpThreads(*w.model, w.samples.all.images);
  EXPECT_GE(chosen, 1);
  EXPECT_LE(chosen, std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_EQ(torch::get_num_threads(), chosen);
  for (const auto& [name, p] : w.model->parameters()) {
    EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0) << name << ": the timing left gradients";
  }
}

}  // namespace
}  // namespace bt
