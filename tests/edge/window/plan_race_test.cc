// The race before a window commits: how many iterations its first round gets, when it does not run, and that the
// winner is the entrant that measured best in the last round, with the caller's model untouched.
#include "edge/window/plan_race.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "tests/testing/test_models.h"
#include "common/plan/window_plan.h"
#include "edge/window/window_runner.h"
#include "tests/testing/toy_data.h"

namespace bt {
namespace {

using fixtures::Tiny;

Plan Timed(double seconds_per_iteration) {
  Plan p;
  p.feasible = true;
  p.first_trainable = 0;
  p.seconds_per_iteration = seconds_per_iteration;
  p.iterations = 400;
  return p;
}

TEST(PlanRace, FirstRoundFitsBothRoundsIntoTheRaceSeconds) {
  // 4 entrants at 0.01/0.02/0.03/0.04 s: round 1 costs r·0.10, the final the two slowest r more each (they go on
  // from their first runs), r·0.07; 12 s → r = 70.
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02), Timed(0.03), Timed(0.04)}, 12.0), 70);
  // Plenty of time: a quarter of the law's 400 iterations (the final runs half of them).
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02), Timed(0.03), Timed(0.04)}, 1000.0), 100);
  // Two entrants: only the final, 2r·0.03 = 12 s → r = 200, capped at 100.
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02)}, 6.0), 100);
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02)}, 0.9), 15);
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02), Timed(0.03), Timed(0.04)}, 1.5), 0);  // under 10
  EXPECT_EQ(FirstRoundIterations({Timed(0.01)}, 100.0), 0);                                       // nothing to race
  // A start trial to follow: one more 2r run of the slowest from the start, r·0.10 + r·0.07 + 2r·0.04 = r·0.25;
  // 16 s → r = 64 → 60.
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02), Timed(0.03), Timed(0.04)}, 16.0, true), 60);
  EXPECT_EQ(FirstRoundIterations({Timed(0.01), Timed(0.02), Timed(0.03), Timed(0.04)}, 16.0, false), 90);
}

TEST(PlanRace, TheFinalRunsWhatFitsAtTheMeasuredSpeedsEqualForBoth) {
  EXPECT_EQ(FinalIterations(100, 0.1, 0.1, 100.0, false), 200);  // twice the first round: it fits
  EXPECT_EQ(FinalIterations(100, 0.1, 0.1, 30.0, false), 150);   // 30 s at 0.2 s per iteration of both
  EXPECT_EQ(FinalIterations(50, 0.1, 0.1, 30.0, true), 100);     // and one more run kept for the start trial
  EXPECT_EQ(FinalIterations(50, 0.1, 0.2, 30.0, true), 60);      // the slower finalist's run is the one kept
  EXPECT_EQ(FinalIterations(100, 0.1, 0.1, 20.0, true), 0);      // 66 fit: no longer than the first round, no final
  EXPECT_EQ(FinalIterations(5, 0.1, 0.1, 2.4, false), 10);       // 12 fit: rounded down to a multiple of 5
  EXPECT_EQ(FinalIterations(5, 0.1, 0.1, 1.5, false), 0);        // under 10: no final
  EXPECT_EQ(FinalIterations(100, 0.1, 0.1, -1.0, false), 0);     // the race's time is gone
  // Finalists that go on from their first-round runs pay only for the iterations they add.
  EXPECT_EQ(FinalIterations(10, 0.1, 0.1, 2.0, false), 0);           // from the start: 10 fit, no longer than r
  EXPECT_EQ(FinalIterations(10, 0.1, 0.1, 2.0, false, 10, 10), 20);  // (2 + 1 + 1) / 0.2 = 20
  EXPECT_EQ(FinalIterations(10, 0.1, 0.1, 2.0, false, 10, 0), 15);   // one goes on: (2 + 1) / 0.2 = 15
  EXPECT_EQ(FinalIterations(100, 0.1, 0.1, 30.0, false, 100, 100), 200);  // 250 fit: capped at 2r
}

TEST(PlanRace, TheStartTrialRepeatsTheLongestRoundThatFitsItsSeconds) {
  RaceEntry entry;
  entry.iterations = {50, 100};  // the first round and the final
  entry.run_seconds_per_iteration = 0.1;
  EXPECT_EQ(StartTrialRound(entry, 10.0, false), 1);  // the final's 10 s fit
  EXPECT_EQ(StartTrialRound(entry, 9.9, false), 0);   // only the first round's 5 s
  EXPECT_EQ(StartTrialRound(entry, 4.9, false), -1);  // neither
  EXPECT_EQ(StartTrialRound(entry, 0.0, true), 1);    // a pinned race: the final, whatever it costs
  entry.iterations = {50, 0};                          // its final failed
  EXPECT_EQ(StartTrialRound(entry, 100.0, false), -1);
  EXPECT_EQ(StartTrialRound(RaceEntry{}, 100.0, true), -1);  // it never ran
  entry.iterations = {100, 12};                        // a final the deadline cut short of its first round
  EXPECT_EQ(StartTrialRound(entry, 0.0, true), 0);
  EXPECT_EQ(StartTrialRound(entry, 100.0, false), 0);
  EXPECT_EQ(StartTrialRound(entry, 5.0, false), 1);   // only the short one fits
}

TEST(PlanRace, AFinalCostsTheIterationsEachFinalistAddsToWhatItGoesOnFrom) {
  EXPECT_DOUBLE_EQ(FinalSeconds(200, 0.1, 0.2, 100, 100), 30.0);  // both go on from 100
  EXPECT_DOUBLE_EQ(FinalSeconds(200, 0.1, 0.2, 0, 100), 40.0);    // the first starts again
  EXPECT_DOUBLE_EQ(FinalSeconds(200, 0.1, 0.2, 300, 0), 40.0);    // nothing to add: no cost, never less
}

TEST(PlanRace, AFinalDecidesOnlyWhereBothFinalistsWentFurtherThanTheFirstRoundAndEquallyFar) {
  std::vector<RaceEntry> entries(3);
  entries[0].iterations = {100, 200};
  entries[1].iterations = {100, 200};
  entries[2].iterations = {100};
  EXPECT_TRUE(FinalDecides(entries, {0, 1}, 100));
  EXPECT_FALSE(FinalDecides(entries, {0, 2}, 100));  // one never ran a final
  entries[1].iterations = {100, 140};                 // the deadline cut the second run of the final short
  EXPECT_FALSE(FinalDecides(entries, {0, 1}, 100));
  entries[0].iterations = {100, 12};                  // both started again, cut at or below the first round
  entries[1].iterations = {100, 12};
  EXPECT_FALSE(FinalDecides(entries, {0, 1}, 100));
  EXPECT_TRUE(FinalDecides(entries, {0, 1}, 10));
  entries[0].iterations = {100, 0};                   // a final run that failed
  EXPECT_FALSE(FinalDecides(entries, {0, 1}, 0));
}

struct Window {
  std::unique_ptr<BlockModel> model = *CreateVitModel(Tiny(), 3);
  WindowSamples samples;
  std::vector<Plan> entrants;
};

Window MakeWindow(int64_t samples) {
  Window w;
  ImageDataset data = fixtures::ToyData(samples, 7);
  w.samples = SplitWindowSamples(data, torch::ones({data.size()}, torch::kBool));
  // The head alone, the first block alone, everything: forms only matter to the engine.
  for (std::vector<bool> trains : {std::vector<bool>{false, false, false, true}, {true, false, false, false},
                                   {true, true, true, true}}) {
    Plan p = Timed(0.001);
    p.iterations = 200;
    p.first_trainable = -1;
    for (size_t k = 0; k < trains.size(); ++k) {
      BlockDecision d;
      d.block = w.model->layout()[k].name;
      d.form = trains[k] ? BlockChoice::Train() : BlockChoice::Frozen();
      d.in_backward_path = trains[k] || p.first_trainable >= 0;
      if (trains[k] && p.first_trainable < 0) p.first_trainable = static_cast<int64_t>(k);
      p.blocks.push_back(d);
    }
    w.entrants.push_back(p);
  }
  return w;
}

// A race with time to spare and its first round pinned at `first_round` iterations.
RaceOptions Pinned(int64_t first_round, uint64_t seed) {
  RaceOptions options;
  options.seconds = 600;
  options.first_round = first_round;
  options.memory_budget = 64ull << 20;
  options.batch = 32;
  options.seed = seed;
  return options;
}

// `plan` alone for `iterations` on the tiny model, its state kept, under `budget` (the engine's hard limit only:
// no prediction to refuse it on).
absl::StatusOr<RetrainResult> RunAlone(const Window& w, Plan plan, int64_t iterations, const RaceOptions& options,
                                       uint64_t budget = 64ull << 20) {
  PlanTraining alone;
  alone.memory_budget = budget;
  alone.time_budget = std::chrono::seconds(600);
  alone.batch = options.batch;
  alone.seed = options.seed;
  alone.keep_state = true;
  plan.iterations = iterations;
  plan.memory_bytes = 0;
  return RunPlan(*w.model, plan, w.samples, alone, nullptr);
}

// A plan's real footprint on the tiny model: a fresh run's measured peak and the bytes its state holds after it.
struct Footprint {
  uint64_t peak = 0, held = 0;
};
Footprint Measure(const Window& w, const Plan& plan, int64_t iterations, const RaceOptions& options) {
  auto run = RunAlone(w, plan, iterations, options);
  if (!run.ok() || run->state == nullptr) return {};
  return {static_cast<uint64_t>(run->peak_bytes), static_cast<uint64_t>(run->state->held_bytes)};
}

TEST(PlanRace, TheWinnerMeasuredBestInTheLastRoundAndTheModelIsUntouched) {
  const Window w = MakeWindow(240);
  const TensorMap head = *w.model->GetBlock("head");
  RaceOptions options = Pinned(20, 3);
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  ASSERT_EQ(race->entries.size(), 3u);
  // Round 1: all three at 20 iterations; round 2: the better two at 40.
  size_t in_round_two = 0;
  for (const RaceEntry& e : race->entries) {
    ASSERT_GE(e.iterations.size(), 1u);
    EXPECT_EQ(e.iterations[0], 20);
    if (e.iterations.size() == 2) {
      EXPECT_EQ(e.iterations[1], 40);
      ++in_round_two;
    }
  }
  EXPECT_EQ(in_round_two, 2u);
  const RaceEntry& winner = race->entries[race->winner];
  ASSERT_EQ(winner.accuracy.size(), 2u);
  for (const RaceEntry& e : race->entries) {
    if (e.accuracy.size() == 2) EXPECT_GE(winner.accuracy[1], e.accuracy[1]);
  }
  EXPECT_NE(race->text.find("*"), std::string::npos);
  for (const auto& [param, t] : head) EXPECT_TRUE(torch::equal(w.model->GetBlock("head")->at(param), t));
  // With memory to spare the finalists went on from their first-round runs, and the winner's final run is held, to
  // be continued.
  for (const RaceEntry& e : race->entries) {
    if (e.iterations.size() == 2) EXPECT_EQ(e.went_on_from, (std::vector<int64_t>{0, 20})) << e.plan;
  }
  ASSERT_NE(race->winner_state, nullptr) << race->text;
  EXPECT_EQ(race->winner_state->iterations, 40);
  EXPECT_EQ(race->winner_state->deployed, w.model.get());
  EXPECT_EQ(race->winner_state->plan, *ChoicesFromPlan(w.entrants[race->winner]));
}

TEST(PlanRace, ARunTheDeadlineCutsCapsTheRoundsLaterRunsAtItsIterations) {
  // A clock that moves 1 ms per reading, and 50 ms while the final's first run trains (a finalist slower than its
  // first round said): that run is cut by its share of the race's second; the leader, run after it at full speed,
  // would go on to 40 iterations and win on iterations alone. It stops where the cut one did.
  const Window w = MakeWindow(240);
  RaceOptions options = Pinned(20, 3);
  options.seconds = 1.0;
  auto now = std::chrono::steady_clock::time_point{};
  std::chrono::milliseconds step{1};
  options.clock = [&] { return now += step; };
  int final_runs = 0;
  options.on_run = [&](size_t, size_t round) {
    step = std::chrono::milliseconds(round == 1 && final_runs++ == 0 ? 50 : 1);
  };
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  ASSERT_EQ(final_runs, 2) << race->text;
  std::vector<int64_t> final_iterations;
  for (const RaceEntry& e : race->entries) {
    if (e.iterations.size() == 2) final_iterations.push_back(e.iterations[1]);
  }
  ASSERT_EQ(final_iterations.size(), 2u) << race->text;
  const int64_t cut = std::min(final_iterations[0], final_iterations[1]);
  EXPECT_LT(cut, 40) << race->text;  // the deadline cut the final's first run
  EXPECT_GT(cut, 20) << race->text;  // after it went on from its first round
  EXPECT_EQ(final_iterations[0], final_iterations[1]) << race->text;
}

// A pinned race whose final would not finish in the time left at the speeds its finalists measured does not start
// it (the deadline would cut it short, and a short final does not decide): the first round's leader wins.
TEST(PlanRace, APinnedFinalThatDoesNotFitTheTimeLeftIsNotRun) {
  const Window w = MakeWindow(240);
  // A clock that moves 1 ms per reading; first, how long the first round takes on it (to the final's first run).
  auto now = std::chrono::steady_clock::time_point{};
  RaceOptions calibrate = Pinned(20, 3);
  calibrate.clock = [&] { return now += std::chrono::milliseconds(1); };
  std::chrono::steady_clock::time_point final_starts{};
  calibrate.on_run = [&](size_t, size_t round) {
    if (round == 1 && final_starts == std::chrono::steady_clock::time_point{}) final_starts = now;
  };
  const auto started = now;
  auto full = RacePlans(*w.model, w.entrants, w.samples, calibrate, nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_NE(final_starts, std::chrono::steady_clock::time_point{}) << full->text;
  const double first_round = std::chrono::duration<double>(final_starts - started).count();
  // The same race with only a little more than its first round's time: the first round fits, the final does not.
  RaceOptions options = Pinned(20, 3);
  now = {};
  options.clock = [&] { return now += std::chrono::milliseconds(1); };
  options.seconds = first_round * 1.05;
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  EXPECT_NE(race->text.find("no final (it does not fit"), std::string::npos) << race->text;
  size_t best = 0;
  for (size_t e = 0; e < race->entries.size(); ++e) {
    EXPECT_EQ(race->entries[e].iterations, (std::vector<int64_t>{20})) << race->text;
    if (ScoresAbove({race->entries[e].accuracy[0], race->entries[e].loss[0]},
                    {race->entries[best].accuracy[0], race->entries[best].loss[0]})) {
      best = e;
    }
  }
  EXPECT_EQ(race->winner, best) << race->text;
  ASSERT_NE(race->winner_state, nullptr) << race->text;
  EXPECT_EQ(race->winner_state->iterations, 20);
}

TEST(PlanRace, HoldsARunOnlyWhereItFitsBesideTheNextInTheBudget) {
  // Two entrants, the head alone and everything: only the final, the law's plan (everything) run last. At a batch
  // of 2 the optimiser state is a large part of a run's memory; predicted at their measured peaks, with the budget
  // short of the head's held state beside everything's peak, the head's run is let go before everything runs.
  RaceOptions options = Pinned(10, 5);
  options.batch = 2;
  Window pair = MakeWindow(240);
  pair.entrants = {pair.entrants[2], pair.entrants[0]};
  const Footprint all = Measure(pair, pair.entrants[0], 20, options);
  const Footprint head = Measure(pair, pair.entrants[1], 20, options);
  ASSERT_GT(all.peak, 0u);
  ASSERT_GT(head.held, 0u);
  pair.entrants[0].memory_bytes = all.peak;
  pair.entrants[1].memory_bytes = head.peak;
  options.memory_budget = all.peak + head.held / 2;
  auto race = RacePlans(*pair.model, pair.entrants, pair.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  for (const RaceEntry& entry : race->entries) EXPECT_EQ(entry.iterations, (std::vector<int64_t>{20})) << race->text;
  EXPECT_EQ(race->winner_state != nullptr, race->winner == 0) << race->text;
  // With room for the head's state beside everything's peak, whichever wins is held.
  options.memory_budget = all.peak + head.held + (head.held / 2);
  auto roomy = RacePlans(*pair.model, pair.entrants, pair.samples, options, nullptr);
  ASSERT_TRUE(roomy.ok()) << roomy.status();
  EXPECT_NE(roomy->winner_state, nullptr) << roomy->text;
  // Predicted at just under the budget but measured far below it, the runs are held after all: the first run's
  // measured / predicted ratio scales the others' predictions, and both finalists go on from their first rounds.
  Window three = MakeWindow(240);
  RaceOptions loose = Pinned(10, 5);
  for (Plan& p : three.entrants) p.memory_bytes = loose.memory_budget - 1;
  auto again = RacePlans(*three.model, three.entrants, three.samples, loose, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  int went_on = 0;
  for (const RaceEntry& entry : again->entries) {
    went_on += entry.went_on_from.size() == 2 && entry.went_on_from[1] == 10;
  }
  EXPECT_EQ(went_on, 2) << again->text;
  // Room for both (the head alone and the first block alone): whichever wins is held.
  Window w = MakeWindow(240);
  w.entrants.resize(2);
  options = Pinned(10, 5);
  for (Plan& p : w.entrants) p.memory_bytes = 1 << 20;
  for (size_t favoured : {0, 1}) {
    // Make each entrant the winner in turn: the other's run fails (it trains no block).
    std::vector<Plan> entrants = w.entrants;
    for (BlockDecision& d : entrants[1 - favoured].blocks) d.form = BlockChoice::Frozen();
    auto r = RacePlans(*w.model, entrants, w.samples, options, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->winner, favoured) << r->text;
    ASSERT_NE(r->winner_state, nullptr) << r->text;
    EXPECT_EQ(r->winner_state->plan, *ChoicesFromPlan(entrants[favoured]));
  }
}

TEST(PlanRace, ARunThatCrossesTheBudgetBesideAHeldRunGoesAgainWithNoneHeld) {
  // Two plans that train everything: the first to run (entrant 1: a two-entrant race runs the law's plan last)
  // predicted at its measured peak, the second below its real peak, so the first run is held beside the second.
  // The budget fits either run alone, but not the second beside the first's held state: the engine's hard budget
  // stops the second, which then goes again with nothing held and is scored like the first.
  Window w = MakeWindow(240);
  w.entrants = {w.entrants[2], w.entrants[2]};
  for (Plan& p : w.entrants) p.memory_bytes = 1 << 20;
  RaceOptions options = Pinned(10, 5);
  // A two-entrant race's one round: twice the pinned first round.
  const Footprint all = Measure(w, w.entrants[0], 20, options);
  const uint64_t peak = all.peak, held = all.held;
  ASSERT_GT(held, 0u);
  options.memory_budget = peak + held / 2;
  w.entrants[1].memory_bytes = peak;
  // Beside the held run the room is peak − held/2: the same run there crosses it.
  EXPECT_TRUE(absl::IsResourceExhausted(RunAlone(w, w.entrants[0], 20, options, peak - held / 2).status()));
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  for (const RaceEntry& entry : race->entries) {
    EXPECT_EQ(entry.iterations, (std::vector<int64_t>{20})) << race->text;
    ASSERT_EQ(entry.accuracy.size(), 1u);
    EXPECT_GE(entry.accuracy[0], 0) << race->text;  // scored, not failed
  }
}

HeldOutScore FirstRoundScore(const RaceEntry& e) { return {e.accuracy[0], e.loss[0], e.hits[0]}; }

TEST(PlanRace, WhenItsTimeComesOutOfTrainingAClearLoserIsCutAtHalfItsRound) {
  const Window w = MakeWindow(240);
  RaceOptions options = Pinned(20, 3);
  options.cut_clear_losers = true;
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  // The same first runs stopped at half the round (10 iterations, the same seed): every entrant's score where the
  // cut is decided. The first block alone is far behind there (a third of the slice against two thirds).
  auto halves = RacePlans(*w.model, w.entrants, w.samples, Pinned(10, 3), nullptr);
  ASSERT_TRUE(halves.ok()) << halves.status();
  size_t best = 0;
  for (size_t e = 1; e < 3; ++e) {
    if (ScoresAbove(FirstRoundScore(halves->entries[e]), FirstRoundScore(halves->entries[best]))) best = e;
  }
  for (size_t e = 0; e < 3; ++e) {
    const RaceEntry& entry = race->entries[e];
    const bool behind = AboveBy(FirstRoundScore(halves->entries[best]), FirstRoundScore(halves->entries[e]),
                                kRaceCutErrors);
    EXPECT_EQ(entry.cut, behind) << e << ": " << race->text << " / " << halves->text;
    if (entry.cut) {
      EXPECT_EQ(entry.iterations, (std::vector<int64_t>{10})) << race->text;  // scored there, and out
      EXPECT_EQ(entry.accuracy[0], halves->entries[e].accuracy[0]) << race->text;
      EXPECT_NE(race->winner, e);
    } else {
      EXPECT_EQ(entry.iterations[0], 20) << race->text;  // went on to the round's end
      EXPECT_EQ(entry.went_on_from[0], 0) << race->text;
      // ...and its curve has a second point, at the half, for the start trial.
      EXPECT_EQ(entry.midway_iterations[0], 10) << race->text;
      EXPECT_EQ(entry.midway_accuracy[0], halves->entries[e].accuracy[0]) << race->text;
    }
  }
  ASSERT_TRUE(race->entries[1].cut) << race->text;  // the case this window makes
  EXPECT_NE(race->text.find("(cut)"), std::string::npos) << race->text;
  ASSERT_NE(race->winner_state, nullptr) << race->text;
  // With time to spare the same entrant runs its whole round, and the final sees the two best.
  auto spare = RacePlans(*w.model, w.entrants, w.samples, Pinned(20, 3), nullptr);
  ASSERT_TRUE(spare.ok()) << spare.status();
  for (const RaceEntry& e : spare->entries) {
    EXPECT_FALSE(e.cut);
    EXPECT_EQ(e.iterations[0], 20) << spare->text;
    EXPECT_EQ(e.midway_iterations[0], 0) << spare->text;  // scored at its end alone
    if (e.iterations.size() == 2) {  // a finalist: its final went on from its first round, scored there
      EXPECT_EQ(e.midway_iterations[1], 20) << spare->text;
      EXPECT_EQ(e.midway_accuracy[1], e.accuracy[0]) << spare->text;
    }
  }
}

TEST(PlanRace, ALeadProjectsLinearlyInLogIterations) {
  // 3 points ahead at 5 iterations, 1 at 10: 2 points lost per doubling, so at 40 (two doublings more) -3.
  EXPECT_NEAR(ProjectedLead(3.0, 5, 1.0, 10, 40), -3.0, 1e-9);
  EXPECT_NEAR(ProjectedLead(1.0, 100, 2.0, 200, 400), 3.0, 1e-9);  // a growing lead grows on
  EXPECT_NEAR(ProjectedLead(2.0, 5, 2.0, 10, 1000), 2.0, 1e-9);    // a steady one stays
  EXPECT_EQ(ProjectedLead(3.0, 5, 1.0, 10, 10), 1.0);              // no farther than measured
  EXPECT_EQ(ProjectedLead(3.0, 0, 1.0, 10, 40), 1.0);              // one point of the curve: its end
  EXPECT_EQ(ProjectedLead(3.0, 10, 1.0, 10, 40), 1.0);
}

TEST(PlanRace, AProjectedLeadsErrorGrowsWithHowFarItIsProjected) {
  // From 10 to 40 iterations is two doublings past the curve's one (5 to 10): r = 2, the end's lead weighs 3 and
  // the midway's 2.
  EXPECT_NEAR(ProjectedLeadError(1.0, 5, 10, 40), std::sqrt(13.0), 1e-9);
  EXPECT_NEAR(ProjectedLeadError(0.5, 5, 10, 40), 0.5 * std::sqrt(13.0), 1e-9);
  EXPECT_EQ(ProjectedLeadError(1.0, 5, 10, 10), 1.0);  // not projected: the measured lead's own
  EXPECT_EQ(ProjectedLeadError(1.0, 0, 10, 40), 1.0);
}

TEST(PlanRace, TheStartTrialSwitchesOnAProjectionBothWays) {
  EXPECT_TRUE(StartTrialSwitches(true, 0.5, 3.0));    // ahead at the end, its lead holding
  EXPECT_FALSE(StartTrialSwitches(true, -0.5, 3.0));  // ahead at the end, its lead projected gone
  EXPECT_TRUE(StartTrialSwitches(false, 4.0, 3.0));   // behind, and projected ahead beyond the projection's error
  EXPECT_FALSE(StartTrialSwitches(false, 2.0, 3.0));  // behind, projected ahead within the error
  EXPECT_FALSE(StartTrialSwitches(false, 4.0, 0.0));  // no error to judge by (no hits)
}

// The round runs the largest predicted peaks first, so a clear loser can run before the leader: its second half
// waits until every first run has been scored at half, and the leader's half, scored later, cuts it there.
TEST(PlanRace, AClearLoserThatRunsBeforeTheLeaderIsCutAgainstTheLeadersHalf) {
  const Window w = MakeWindow(240);
  // The first block alone twice, then everything (equal peaks: the order given).
  const std::vector<Plan> entrants = {w.entrants[1], w.entrants[1], w.entrants[2]};
  RaceOptions options = Pinned(20, 3);
  options.cut_clear_losers = true;
  auto race = RacePlans(*w.model, entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  auto halves = RacePlans(*w.model, entrants, w.samples, Pinned(10, 3), nullptr);
  ASSERT_TRUE(halves.ok()) << halves.status();
  const HeldOutScore leader = FirstRoundScore(halves->entries[2]);
  ASSERT_TRUE(AboveBy(leader, FirstRoundScore(halves->entries[0]), kRaceCutErrors)) << halves->text;
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_TRUE(race->entries[e].cut) << e << ": " << race->text;
    EXPECT_EQ(race->entries[e].iterations, (std::vector<int64_t>{10})) << race->text;
    EXPECT_EQ(race->entries[e].accuracy[0], halves->entries[e].accuracy[0]) << race->text;
  }
  EXPECT_FALSE(race->entries[2].cut);
  EXPECT_EQ(race->entries[2].iterations, (std::vector<int64_t>{20})) << race->text;
  EXPECT_EQ(race->entries[2].midway_iterations[0], 10) << race->text;
  EXPECT_EQ(race->winner, 2u) << race->text;
  ASSERT_NE(race->winner_state, nullptr) << race->text;
  EXPECT_EQ(race->winner_state->iterations, 20);
}

TEST(PlanRace, WhenItsTimeComesOutOfTrainingNoFinalIsRunForAClearLoser) {
  // The first block alone twice, then everything, each predicted at just under the budget: no first half's state
  // can wait beside the next run, so each is judged at half against the halves before it. The copy ties the first
  // at half (not cut), everything leads there (not cut); at the round's end the first block alone is far behind
  // everything, so the final would only spend the winner's time.
  const Window w = MakeWindow(240);
  std::vector<Plan> entrants = {w.entrants[1], w.entrants[1], w.entrants[2]};
  RaceOptions options = Pinned(20, 3);
  options.cut_clear_losers = true;
  for (Plan& p : entrants) p.memory_bytes = options.memory_budget - 1;
  auto race = RacePlans(*w.model, entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  EXPECT_EQ(race->winner, 2u) << race->text;
  ASSERT_TRUE(AboveBy(FirstRoundScore(race->entries[2]), FirstRoundScore(race->entries[0]), kRaceCutErrors))
      << race->text;
  for (const RaceEntry& e : race->entries) EXPECT_EQ(e.iterations, (std::vector<int64_t>{20})) << race->text;
  EXPECT_NE(race->text.find("no final"), std::string::npos) << race->text;
  ASSERT_NE(race->winner_state, nullptr) << race->text;
  EXPECT_EQ(race->winner_state->iterations, 20);
  // Without the cut the final runs.
  auto spare = RacePlans(*w.model, entrants, w.samples, Pinned(20, 3), nullptr);
  ASSERT_TRUE(spare.ok()) << spare.status();
  EXPECT_EQ(spare->entries[2].iterations, (std::vector<int64_t>{20, 40})) << spare->text;
}

TEST(PlanRace, TakesFromTrainingWhenAPlanAndTheRaceDoNotBothFitTheTimeLeft) {
  Plan fills = Timed(0.1), short_plan = Timed(0.1);
  fills.train_seconds = 80;       // its iterations fitted to the window's time
  short_plan.train_seconds = 16;  // the iteration grid's top, early
  EXPECT_TRUE(RaceTakesFromTraining({short_plan, fills}, 40, 90));
  EXPECT_FALSE(RaceTakesFromTraining({short_plan, short_plan}, 40, 90));
  EXPECT_FALSE(RaceTakesFromTraining({short_plan}, 74, 90));
  EXPECT_TRUE(RaceTakesFromTraining({short_plan}, 75, 90));
}

TEST(PlanRace, IterationsThatFitCountAStepAndItsShareOfTheEvaluationsApart) {
  // 100 s, 0.5 s a step, a 2 s evaluation every 20 iterations and one at the end: (100 - 2) / (0.5 + 0.1) = 163.
  EXPECT_EQ(IterationsThatFit(100, 0.5, 2.0, 20), 163);
  // The same race speed with its evaluations folded in (a 10-iteration run: 5 s + 2 evaluations = 0.9 s an
  // iteration) would have planned 111: the steps alone say more fit.
  EXPECT_GT(IterationsThatFit(100, 0.5, 2.0, 20), static_cast<int64_t>(100 / 0.9));
  EXPECT_EQ(IterationsThatFit(100, 0.5, 0.0, 20), 200);  // no evaluations measured: steps alone
  EXPECT_EQ(IterationsThatFit(1.5, 0.5, 2.0, 20), 0);    // not even the last evaluation fits
  EXPECT_EQ(IterationsThatFit(100, 0.0, 0.0, 20), 0);    // nothing measured: nothing is claimed
  EXPECT_EQ(IterationsThatFit(100, 0.5, 2.0, 0), IterationsThatFit(100, 0.5, 2.0, 1));  // eval_every floored at 1
}

// The window's training, its iterations cut to what the race's speed said fits, goes on to the plan's own while
// its run measures that time is left (here: minutes), and ends as any run does (keep-best, written back).
TEST(PlanRace, TheWindowsTrainingGoesOnTowardsThePlansIterationsWhileTimeIsLeft) {
  const Window w = MakeWindow(240);
  Plan plan = w.entrants[2];  // everything
  plan.iterations = 10;
  PlanTraining training;
  training.memory_budget = 64ull << 20;
  training.time_budget = std::chrono::minutes(10);
  training.batch = 32;
  training.seed = 3;
  auto topped_model = *CopyModel(*w.model);
  auto topped = TrainPlan(*topped_model, plan, w.samples, training, nullptr, nullptr, 60);
  ASSERT_TRUE(topped.ok()) << topped.status();
  EXPECT_EQ(topped->result.iterations, 60);
  EXPECT_EQ(topped->result.stop_reason, "iterations");
  EXPECT_EQ(topped->result.resumed_from, 0);
  EXPECT_EQ(topped->result.state, nullptr);  // nothing kept: the run has ended
  ASSERT_TRUE(topped->result.deployed);
  EXPECT_GT(topped->result.accuracy_after, topped->result.accuracy_before);
  ASSERT_FALSE(topped->trained.empty());
  for (const auto& [block, tensors] : topped->trained) {  // written into the model, as an unkept run's are
    for (const auto& [param, t] : tensors) EXPECT_TRUE(torch::equal(topped_model->GetBlock(block)->at(param), t));
  }
  auto plain_model = *CopyModel(*w.model);
  auto plain = TrainPlan(*plain_model, plan, w.samples, training, nullptr, nullptr, 10);  // nothing beyond the plan
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->result.iterations, 10);
}

TEST(PlanRace, NoRaceWithoutLabelsOrTimeOrRivals) {
  RaceOptions options;
  options.seconds = 600;
  options.memory_budget = 64ull << 20;
  options.batch = 32;
  const Window few = MakeWindow(30);  // under kMinLabeledSamples: label-free
  auto label_free = RacePlans(*few.model, few.entrants, few.samples, options, nullptr);
  ASSERT_TRUE(label_free.ok());
  EXPECT_FALSE(label_free->raced);
  EXPECT_EQ(label_free->winner, 0u);
  EXPECT_EQ(label_free->text, "no race (label-free)");
  const Window w = MakeWindow(240);
  auto alone = RacePlans(*w.model, {w.entrants[0]}, w.samples, options, nullptr);
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(alone->raced);
  options.seconds = 0.001;
  auto hurried = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(hurried.ok());
  EXPECT_FALSE(hurried->raced);
  EXPECT_EQ(hurried->text, "no race (too little time)");
}

TEST(PlanRace, TheFirstRoundRunsTheLargestPeakFirstSoThatTheOthersCanBeHeld) {
  // Entrant 2 is predicted at just under the budget (and trains nothing, so it loses): run after the others it would
  // push both of their runs out of memory; run first, both are held and the finalists go on from them.
  Window w = MakeWindow(240);
  RaceOptions options = Pinned(20, 3);
  w.entrants[0].memory_bytes = w.entrants[1].memory_bytes = 1 << 20;
  w.entrants[2].memory_bytes = options.memory_budget - 1;
  for (BlockDecision& d : w.entrants[2].blocks) d.form = BlockChoice::Frozen();
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  EXPECT_EQ(race->entries[2].iterations, (std::vector<int64_t>{0})) << race->text;
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(race->entries[e].went_on_from, (std::vector<int64_t>{0, 20})) << race->text;
  }
  EXPECT_NE(race->winner_state, nullptr);
}

TEST(PlanRace, RacesWithoutTheStartTrialsTimeRatherThanNotAtAll) {
  // Two entrants at 0.001 s: 2r·0.002 for the race, 2r·0.001 more for the trial's run; 0.05 s fit r = 8 → 5 with the
  // trial (too few), r = 12 → 10 without it.
  Window w = MakeWindow(240);
  w.entrants.resize(2);
  ASSERT_EQ(FirstRoundIterations(w.entrants, 0.05, true), 0);
  ASSERT_EQ(FirstRoundIterations(w.entrants, 0.05, false), 10);
  RaceOptions options;
  options.seconds = 0.05;
  options.memory_budget = 64ull << 20;
  options.batch = 32;
  options.reserve_start_trial = true;
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  EXPECT_TRUE(race->raced) << race->text;
}

TEST(PlanRace, LeavesOutTheSlowestAlternativesRatherThanNotRacing) {
  // The third entrant is predicted 100× slower: with it, not even 10 iterations each fit 2 s (0.203·r); without it the law's
  // plan and the second race (the final alone, 2r at 0.002 s: r = 100 of the law's 200 / 4 = 50 → 50).
  Window w = MakeWindow(240);
  w.entrants[2].seconds_per_iteration = 0.1;
  ASSERT_EQ(FirstRoundIterations(w.entrants, 2.0), 0);
  RaceOptions options;
  options.seconds = 2.0;
  options.memory_budget = 64ull << 20;
  options.batch = 32;
  auto race = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(race.ok()) << race.status();
  ASSERT_TRUE(race->raced) << race->text;
  EXPECT_TRUE(race->entries[2].accuracy.empty());
  EXPECT_EQ(race->entries[0].iterations.size(), 1u);
  EXPECT_EQ(race->entries[1].iterations.size(), 1u);
  EXPECT_NE(race->winner, 2u);
  EXPECT_NE(race->text.find("(too slow to race)"), std::string::npos) << race->text;

  // The largest last-k is the last alternative to stay out, even when it is the slowest: with 0.05 and 0.06 s per
  // iteration all three need 0.221·r s (r = 5 in 2 s: too few); without the first block alone 0.122·r (r = 15).
  w.entrants[1].seconds_per_iteration = 0.05;
  w.entrants[2].seconds_per_iteration = 0.06;
  w.entrants[2].note = kRaceLastKNote;
  options.seconds = 2.0;
  ASSERT_EQ(FirstRoundIterations(w.entrants, 2.0), 0);
  auto floor = RacePlans(*w.model, w.entrants, w.samples, options, nullptr);
  ASSERT_TRUE(floor.ok()) << floor.status();
  ASSERT_TRUE(floor->raced) << floor->text;
  EXPECT_TRUE(floor->entries[1].accuracy.empty()) << floor->text;
  EXPECT_FALSE(floor->entries[2].accuracy.empty()) << floor->text;
}

}  // namespace
}  // namespace bt
