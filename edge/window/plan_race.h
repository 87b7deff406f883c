// The race a window runs before it commits to a plan (successive halving): the law's plan and its alternatives
// (RaceAlternatives in common/plan/window_plan.h) each train r iterations from the same start on the window's
// labeled samples, are scored on the held-out slice as they would be deployed (proxies written back; no gain when
// keep-best would keep the deployed model; at equal accuracy the lower held-out loss ranks first), the two best
// go on to 2r (the final: half the law's plan, so that a plan that starts slowly but goes further can show it; fewer,
// equal for both, when 2r does not fit the time left at their speeds measured in the first round; none when no more
// than r fit), and the measured leader is the plan the window trains. A run the deadline cuts short caps the later
// runs of its round at the iterations it reached: a round compares its entrants at equal iterations. Its measured time per iteration tells the
// window how many iterations it can still finish. The law is fitted from short curves and misranks plans
// (bt-bench --oracle); the race costs at most kRaceShare of the training time and turns a wrong law into a lost
// share of it, not a lost window. A race followed by a start trial (RunWindow) keeps time for the trial's run.
// Where the race's time comes out of the winner's training (RaceTakesFromTraining: plans that fill the window, as
// a decoder's do), a losing run costs the winner iterations, so clear losers are cut (RaceOptions::cut_clear_losers):
// each first run is scored at half its round and stops there when it is more than kRaceCutErrors paired standard
// errors below the best of the round's halves (the second halves wait until every first run has been scored at half,
// where the memory budget holds their states beside the next run; one that cannot wait is judged against the halves
// before it); and no final runs for a second that far behind the first. With time to spare nothing is cut: a slow
// starter keeps its round and the final.
//
// First-round iterations come from the entrants' predicted time per iteration and the race's seconds, at most a
// quarter of the law's plan; fewer than kMinRaceIterations fit: the slowest alternatives stay out (never the law's
// plan, and the largest last-k last of all), and when even two do not fit, no race — the law's plan. Every run is
// also bounded by the time left for the race. Label-free windows do not race (there is no accuracy to compare).
//
// No run starts again where it could go on (successive halving proper): a finalist continues its first-round run to
// the final's iterations, and the winner's last run is kept (RaceResult::winner_state) for the window's training to
// continue. A run's state is held beside the next run only when the held bytes and that run's predicted peak fit the
// memory budget together (the next run's budget is what the held states leave; the lowest-ranked is let go first),
// so the race never holds more than the budget. The first round runs the entrants with the largest predicted peak
// first (while little is held), the final the first round's leader last, so that when only one state fits it is
// the likely winner's. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/cancel.h"
#include "common/base/status.h"
#include "common/model/block_model.h"
#include "common/plan/planner.h"
#include "edge/window/retrain_engine.h"
#include "edge/window/window_runner.h"

namespace bt {

struct RaceOptions {
  double seconds = 0;         // for the whole race
  int64_t first_round = 0;    // iterations per entrant in the first round; 0: FirstRoundIterations(entrants, seconds)
  uint64_t memory_budget = 0;
  int64_t batch = 64;
  uint64_t seed = 1;
  // A start trial follows the race (RunWindow: another start is a candidate): the first round and the final leave time
  // for one more run of the slower finalist (FinalIterations), unless then not even two entrants fit — the race
  // comes first.
  bool reserve_start_trial = false;
  // The race's time comes out of the winner's training (RaceTakesFromTraining): every entrant's first run stops at
  // half its round to be scored there, and one more than kRaceCutErrors paired standard errors behind the best
  // score at that point (of every first run's half, where their states can be held until all have run; else of
  // those before it) is cut (out of the race; RaceEntry::cut); the final is not run when its second is that far
  // behind the first. Without it (time to spare) every entrant runs its round, as a slow starter may need.
  bool cut_clear_losers = false;
  SteadyClock clock;  // null: std::chrono::steady_clock (tests inject one)
  std::function<void(size_t entrant, size_t round)> on_run;  // before each run (round 0: the first)
};

struct RaceEntry {
  std::string plan;           // PlanText
  std::vector<int64_t> iterations;  // per round it ran
  std::vector<double> accuracy;     // held-out slice, as it would be deployed, per round
  std::vector<double> loss;         // its mean cross-entropy there (breaks accuracy ties), per round
  std::vector<std::vector<uint8_t>> hits;  // per round: per scored output of the slice (empty for a failed run)
  int64_t outputs_per_sample = 1;          // of those hits (HeldOutScore)
  std::vector<int64_t> went_on_from;  // per round: the iterations of its earlier run it continued (0: from the start)
  // Per round: where its run was also scored before its end — at half a first run split to cut clear losers, or
  // where a run that went on from an earlier round began (that round's score) — and the accuracy there; 0 and -1
  // when the run was scored at its end alone. Two points of one run's curve: the start trial compares slopes too.
  std::vector<int64_t> midway_iterations;
  std::vector<double> midway_accuracy;
  bool cut = false;           // stopped at half its first round, a clear loser there (cut_clear_losers)
  double seconds_per_iteration = 0; // measured in its last run (training and its evaluations)
  double run_seconds_per_iteration = 0;  // the whole of its last run (the model's copy and every evaluation too)
  double step_seconds = 0;    // a training step alone in its last run (its evaluations taken out)
  double eval_seconds = 0;    // one held-out evaluation in its last run
};

struct RaceResult {
  bool raced = false;         // false: one entrant, label-free, or too little time (winner = 0)
  size_t winner = 0;          // index into the entrants (0 = the law's plan)
  std::vector<RaceEntry> entries;
  // The winner's last run, to continue (RetrainWindow's `resume`) rather than train again from the start; null when
  // it could not be held (memory: another run's peak beside it would cross the budget).
  std::unique_ptr<RetrainState> winner_state;
  double seconds = 0;
  std::string text;           // one line for logs and the scoreboard
};

// The iterations each entrant runs in the first round: `seconds` over the predicted cost of both rounds (every
// entrant for r, then the two slowest r more each, as finalists going on from their first runs; with only two
// entrants 2r each, one round; and with `reserve_start_trial` one more 2r run of the slowest, from the start), at most a quarter of the law's plan (entrants[0].iterations), rounded down to a multiple of 5; 0 when
// fewer than kMinRaceIterations fit.
int64_t FirstRoundIterations(const std::vector<Plan>& entrants, double seconds, bool reserve_start_trial = false);

// The final's iterations per finalist in a race that is not pinned: twice the first round's, or as many as fit
// `seconds_left` at the finalists' speeds measured in the first round (`a`, `b`: seconds per iteration of a whole
// run), so that both finish and are compared at equal iterations (a deadline would cut the second short); with
// `reserve_start_trial` the time of one more run of the slower finalist is kept for the start trial. Rounded down to
// a multiple of 5; 0 when no more than the first round's iterations fit, or fewer than kMinRaceIterations (no final:
// the first round's leader wins, and the trial repeats its first round).
// `from_a` / `from_b`: the iterations a finalist goes on from (its first-round run held; 0: it starts again), which
// the final does not pay for again.
int64_t FinalIterations(int64_t first_round, double a, double b, double seconds_left, bool reserve_start_trial,
                        int64_t from_a = 0, int64_t from_b = 0);

// The round of `entry` that the start trial after the race repeats (RunWindow): its longest round (a later one on
// ties) — of those whose iterations fit `seconds` at the speed of its last whole run, unless the race was pinned;
// -1 when none fits, it never ran, or a run of it failed.
int StartTrialRound(const RaceEntry& entry, double seconds, bool pinned);

// The seconds a final of `iterations` per finalist costs at `a` and `b` seconds per iteration (whole runs), each
// finalist going on from the iterations its held run had (`from_a`, `from_b`; 0: it starts again). A pinned race
// runs no final that this puts beyond the race's time left.
double FinalSeconds(int64_t iterations, double a, double b, int64_t from_a, int64_t from_b);

// Whether the final decides the race between `finalists` (indices into `entries`): each ran a final that reached
// the same iterations, more than the first round's `first_round_iterations`. A deadline that cut one final run short
// of the other's, or a final that started again (its first run not held) and was cut at or below the first round,
// measures less than the first round did: the first round's leader stands (a slow machine's pinned race: a final
// of 7 iterations from the start against one of 12 decided a window that the first round had called the other way).
bool FinalDecides(const std::vector<RaceEntry>& entries, const std::vector<size_t>& finalists,
                  int64_t first_round_iterations);

// A training step's and a held-out evaluation's seconds, measured apart in a run (or in runs that went on from one
// another) that took `train_seconds` for `steps` steps of its own, `eval_seconds` of them in `evaluations`
// evaluations. Zero where nothing was measured.
struct RunSpeed {
  double step_seconds = 0;
  double eval_seconds = 0;
};
RunSpeed MeasuredSpeed(double train_seconds, double eval_seconds, int64_t evaluations, int64_t steps);

// The iterations a run can add in `seconds` at `step_seconds` per training step, with a held-out evaluation of
// `eval_seconds` every `eval_every` iterations and one at its end (RetrainWindow's schedule); 0 when not one fits.
// A race's runs are short, so their evaluations weigh more per iteration than they will in the window's training:
// a speed taken with them (seconds_per_iteration) leaves the window's end idle.
int64_t IterationsThatFit(double seconds, double step_seconds, double eval_seconds, int64_t eval_every);

// The lead (points of accuracy) of one start over another after `horizon` iterations of the same plan, from its
// leads after `mid` and `end` iterations (0 < mid < end), extrapolated linearly in log-iterations, the shape
// retraining curves take: a lead that closes between mid and end closes further as both train on, and a start
// that learns faster early can end lower (text: the foundation 0.8 points above the deployed version after 10
// iterations of man pages, 7.8 below it after 76). `lead_end` when `horizon` <= `end`.
double ProjectedLead(double lead_mid, int64_t mid, double lead_end, int64_t end, int64_t horizon);

// The standard error of that projection, from the error of one measured lead (`error`, taken for both: the lead at
// `mid` is measured on the same slice): the projection weighs the end's lead by 1 + r and the midway's by r, with
// r = ln(horizon / end) / ln(end / mid), and the two are counted as independent (an upper bound: they share the
// slice and the start). `error` when `horizon` <= `end` or there is no midway point.
double ProjectedLeadError(double error, int64_t mid, int64_t end, int64_t horizon);

// Whether the start trial switches to the runner-up start when both curves have two points: the runner-up's lead
// at the plan's iterations is `lead` ± `error` (ProjectedLead, ProjectedLeadError; points). One clearly above at
// the trial's end switches unless its lead projects to nothing; one that is not switches when its lead projects
// above the projection's own error. The start the window chose first was only the better before training (text,
// man pages: the foundation 0.6 points above the deployed version before training and 1.2 ahead after 10
// iterations, then 43.2–46.6% on the domain's held-out files after 56–66 iterations, where the deployed version
// reached 48.9% after 75), so a trial that measured where two curves go decides both ways.
bool StartTrialSwitches(bool clearly_above_at_end, double lead, double error);

// Whether a race of `race_seconds` takes from the training of the plan that wins it: some entrant's planned training
// (Plan::train_seconds, its iterations as the window's time fitted them) and the race do not both fit the
// `train_seconds_left`. A window whose plans stop at the iteration grid's top has time to spare for exploration; one
// whose plans fill the window pays for every losing run with the winner's iterations.
bool RaceTakesFromTraining(const std::vector<Plan>& entrants, double race_seconds, double train_seconds_left);

// `entrants[0]` is the law's plan. `model` is not changed.
absl::StatusOr<RaceResult> RacePlans(const BlockModel& model, const std::vector<Plan>& entrants,
                                     const WindowSamples& samples, const RaceOptions& options,
                                     const CancelToken* cancel);

}  // namespace bt
