#include "edge/window/plan_race.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/plan/window_plan.h"
#include "edge/window/curve_probe.h"

namespace bt {

int64_t FirstRoundIterations(const std::vector<Plan>& entrants, double seconds, bool reserve_start_trial) {
  if (entrants.size() < 2 || !(seconds > 0)) return 0;
  // Round 1 runs every entrant for r, the final the two best on to 2r (r more each: they go on from their first
  // runs); with two entrants there is only the final, 2r each from the start.
  std::vector<double> per_iteration;
  for (const Plan& p : entrants) per_iteration.push_back(std::max(1e-6, p.seconds_per_iteration));
  std::sort(per_iteration.begin(), per_iteration.end(), std::greater<>());
  const bool two = entrants.size() == 2;
  const double first = two ? 0.0 : std::accumulate(per_iteration.begin(), per_iteration.end(), 0.0);
  const double final_round = (two ? 2.0 : 1.0) * (per_iteration[0] + per_iteration[1]);
  // The start trial after the race repeats a final-length run (2r from the start) of one finalist: the slowest, to
  // be sure it fits.
  const double trial = reserve_start_trial ? 2 * per_iteration[0] : 0.0;
  const double fit = seconds / (first + final_round + trial);
  // The final round runs half the law's plan: long enough for slow starters to show, short enough to leave the
  // winner its training.
  const int64_t half_plan = std::max<int64_t>(1, entrants.front().iterations) / 4;
  const int64_t r = std::min<int64_t>(half_plan, static_cast<int64_t>(fit + 1e-9)) / 5 * 5;
  return r >= kMinRaceIterations ? r : 0;
}

RunSpeed MeasuredSpeed(double train_seconds, double eval_seconds, int64_t evaluations, int64_t steps) {
  RunSpeed speed;
  if (steps > 0) speed.step_seconds = std::max(0.0, train_seconds - eval_seconds) / static_cast<double>(steps);
  if (evaluations > 0) speed.eval_seconds = eval_seconds / static_cast<double>(evaluations);
  return speed;
}

int64_t IterationsThatFit(double seconds, double step_seconds, double eval_seconds, int64_t eval_every) {
  const double per_iteration = step_seconds + eval_seconds / static_cast<double>(std::max<int64_t>(1, eval_every));
  if (!(per_iteration > 0) || !(seconds > eval_seconds)) return 0;
  return static_cast<int64_t>(std::min(1e9, (seconds - eval_seconds) / per_iteration));
}

double ProjectedLead(double lead_mid, int64_t mid, double lead_end, int64_t end, int64_t horizon) {
  if (mid <= 0 || end <= mid || horizon <= end) return lead_end;
  const double per_log = (lead_end - lead_mid) / std::log(static_cast<double>(end) / static_cast<double>(mid));
  return lead_end + per_log * std::log(static_cast<double>(horizon) / static_cast<double>(end));
}

double ProjectedLeadError(double error, int64_t mid, int64_t end, int64_t horizon) {
  if (mid <= 0 || end <= mid || horizon <= end) return error;
  const double r = std::log(static_cast<double>(horizon) / static_cast<double>(end)) /
                   std::log(static_cast<double>(end) / static_cast<double>(mid));
  return error * std::sqrt((1 + r) * (1 + r) + r * r);
}

bool StartTrialSwitches(bool clearly_above_at_end, double lead, double error) {
  return clearly_above_at_end ? lead > 0 : error > 0 && lead > error;
}

bool RaceTakesFromTraining(const std::vector<Plan>& entrants, double race_seconds, double train_seconds_left) {
  for (const Plan& p : entrants) {
    if (p.train_seconds + race_seconds > train_seconds_left) return true;
  }
  return false;
}

int64_t FinalIterations(int64_t first_round, double a, double b, double seconds_left, bool reserve_start_trial,
                        int64_t from_a, int64_t from_b) {
  const double per_iteration = a + b + (reserve_start_trial ? std::max(a, b) : 0.0);
  if (!(per_iteration > 0) || !(seconds_left > 0)) return 0;
  // n iterations in all cost a·(n − from_a) + b·(n − from_b), and the trial's run n·max(a, b) from the start.
  const double fit = (seconds_left + a * static_cast<double>(std::max<int64_t>(0, from_a)) +
                      b * static_cast<double>(std::max<int64_t>(0, from_b))) / per_iteration;
  const int64_t n = std::min<int64_t>(2 * first_round, static_cast<int64_t>(std::min(fit, 1e9) + 1e-9)) / 5 * 5;
  // A final no longer than the first round measures less than that round did: its leader stands.
  return n > first_round && n >= kMinRaceIterations ? n : 0;
}

double FinalSeconds(int64_t iterations, double a, double b, int64_t from_a, int64_t from_b) {
  return a * static_cast<double>(std::max<int64_t>(0, iterations - from_a)) +
         b * static_cast<double>(std::max<int64_t>(0, iterations - from_b));
}

bool FinalDecides(const std::vector<RaceEntry>& entries, const std::vector<size_t>& finalists,
                  int64_t first_round_iterations) {
  int64_t reached = -1;
  for (size_t e : finalists) {
    if (e >= entries.size() || entries[e].iterations.size() < 2) return false;
    const int64_t it = entries[e].iterations.back();
    if (it <= first_round_iterations || (reached >= 0 && it != reached)) return false;
    reached = it;
  }
  return reached > 0;
}

int StartTrialRound(const RaceEntry& entry, double seconds, bool pinned) {
  int longest = -1;
  for (size_t round = 0; round < entry.iterations.size(); ++round) {
    const int64_t iterations = entry.iterations[round];
    if (iterations <= 0) return -1;  // a run that failed: nothing to compare against
    const bool fits = pinned || static_cast<double>(iterations) * entry.run_seconds_per_iteration <= seconds;
    // The longest that fits (a later round on ties): a final the deadline cut short is shorter than its first round.
    if (fits && (longest < 0 || iterations >= entry.iterations[static_cast<size_t>(longest)])) {
      longest = static_cast<int>(round);
    }
  }
  return longest;
}

absl::StatusOr<RaceResult> RacePlans(const BlockModel& model, const std::vector<Plan>& entrants,
                                     const WindowSamples& samples, const RaceOptions& options,
                                     const CancelToken* cancel) {
  RaceResult race;
  if (entrants.empty()) return absl::InvalidArgumentError("race: no entrants");
  for (const Plan& p : entrants) {
    race.entries.emplace_back();
    race.entries.back().plan = PlanText(p);
  }
  const bool label_free = samples.labeled.size() < kMinLabeledSamples;
  // Who races: everyone, unless their first round does not fit the race's seconds — then the slowest alternatives
  // stay out (never the law's plan), since a race of fewer entrants still turns a wrong law into a measurement.
  std::vector<size_t> alive(entrants.size());
  std::iota(alive.begin(), alive.end(), 0);
  // The start trial's run is kept out of the race's seconds, unless that leaves no race at all: the race decides
  // what trains, the trial only where from, so the race goes first (the trial then runs if time is left).
  bool reserve = options.reserve_start_trial;
  auto first_round_of = [&](const std::vector<size_t>& who) {
    std::vector<Plan> subset;
    for (size_t e : who) subset.push_back(entrants[e]);
    return FirstRoundIterations(subset, options.seconds, reserve);
  };
  int64_t rounds_iterations = 0;
  if (!label_free && entrants.size() >= 2) {
    if (options.first_round > 0) {
      rounds_iterations = options.first_round;
    } else {
      // Out first: the slowest alternative that is not the largest last-k (the floor a window keeps).
      auto drop_order = [&](size_t a, size_t b) {
        const bool a_last_k = entrants[a].note == kRaceLastKNote, b_last_k = entrants[b].note == kRaceLastKNote;
        if (a_last_k != b_last_k) return a_last_k;  // last-k sorts lowest: dropped last
        return entrants[a].seconds_per_iteration < entrants[b].seconds_per_iteration;
      };
      for (int attempt = 0; attempt < 2 && rounds_iterations == 0; ++attempt) {
        if (attempt == 1) {
          if (!reserve) break;
          reserve = false;
          alive.resize(entrants.size());
          std::iota(alive.begin(), alive.end(), 0);
        }
        while ((rounds_iterations = first_round_of(alive)) == 0 && alive.size() > 2) {
          alive.erase(std::max_element(alive.begin() + 1, alive.end(), drop_order));
        }
      }
    }
  }
  if (rounds_iterations == 0) {
    race.text = label_free ? "no race (label-free)" : entrants.size() < 2 ? "no race (one plan)"
                                                                          : "no race (too little time)";
    return race;
  }
  auto now = [&] { return options.clock ? options.clock() : std::chrono::steady_clock::now(); };
  const auto start = now();
  const auto deadline = start + std::chrono::milliseconds(static_cast<int64_t>(1000 * options.seconds));
  // With two entrants there is only the final round.
  if (alive.size() <= 2) rounds_iterations *= 2;
  // Runs held to be continued: the two best of the round so far (ties: the earlier in `alive`), each only while the
  // held bytes and the next run's predicted peak fit the budget together (the lowest-ranked goes first). The final
  // continues a finalist's first-round run, the window the winner's last.
  struct Held {
    size_t entry;
    std::unique_ptr<RetrainState> state;
  };
  std::vector<Held> held;
  // What a run's earlier leg measured: the first half of a split first run (scored there), or nothing.
  struct Leg {
    double train_seconds = 0, eval_seconds = 0, wall_seconds = 0;
    int64_t evaluations = 0;
    int64_t midway_at = 0;  // a second point of the run's curve (RaceEntry::midway_iterations)
    double midway_accuracy = -1;
  };
  // First runs split at half (cut_clear_losers) whose second halves wait for the round's later halves: each is judged
  // at half against the best of them all, not only against those that ran before it (the round runs the largest
  // peaks first, and a clear loser that ran before the leader went on to its round's end).
  struct Half {
    size_t entry;
    std::unique_ptr<RetrainState> state;
    HeldOutScore score;  // at half
    Leg earlier;         // what the first half measured
  };
  std::vector<Half> halves;
  auto held_bytes = [&] {
    uint64_t bytes = 0;
    for (const Held& h : held) bytes += static_cast<uint64_t>(h.state->held_bytes);
    for (const Half& h : halves) bytes += static_cast<uint64_t>(h.state->held_bytes);
    return bytes;
  };
  auto rank = [&](size_t e) { return std::find(alive.begin(), alive.end(), e) - alive.begin(); };
  auto last_score = [&](size_t e) {
    return HeldOutScore{race.entries[e].accuracy.back(), race.entries[e].loss.back()};
  };
  auto ranks_above = [&](size_t a, size_t b) {
    return ScoresAbove(last_score(a), last_score(b)) ||
           (!ScoresAbove(last_score(b), last_score(a)) && rank(a) < rank(b));
  };
  auto sort_held = [&] {
    std::sort(held.begin(), held.end(), [&](const Held& a, const Held& b) { return ranks_above(a.entry, b.entry); });
  };
  // An entrant's peak as the race knows it: its own run's measured peak once it ran (memory is deterministic in the
  // plan), else its predicted peak. Which runs stay held beside the next (make_room) goes further: a prediction is
  // scaled by the largest measured / predicted ratio of the runs so far, since the planner's additive bound is
  // conservative (by up to ~40% on a decoder) and a leader let go on it trains again from the start; a run that
  // crosses the budget beside held runs goes again with none held (below). Halves wait on known peaks only: the
  // retry does not let them go.
  std::vector<uint64_t> measured_peak(entrants.size(), 0);
  double peak_ratio = 0;  // 0: no run measured yet
  auto known_peak = [&](size_t e) -> uint64_t {
    return measured_peak[e] > 0 ? measured_peak[e] : entrants[e].memory_bytes;
  };
  auto expected_peak = [&](size_t e) -> uint64_t {
    if (measured_peak[e] > 0 || peak_ratio <= 0) return known_peak(e);
    return static_cast<uint64_t>(static_cast<double>(entrants[e].memory_bytes) * peak_ratio);
  };
  auto measure_peak = [&](size_t e, const absl::StatusOr<RetrainResult>& trained) {
    if (!trained.ok() || trained->peak_bytes <= 0) return;  // peak_bytes: with a resumed state's held bytes
    const auto peak = static_cast<uint64_t>(trained->peak_bytes);
    measured_peak[e] = std::max(measured_peak[e], peak);
    if (entrants[e].memory_bytes > 0) {
      peak_ratio = std::max(peak_ratio, static_cast<double>(peak) / static_cast<double>(entrants[e].memory_bytes));
    }
  };
  // Entrant e's plan for a run of `iterations`, with the peak the race expects (what the engine refuses a plan on).
  auto race_plan = [&](size_t e, int64_t iterations) {
    Plan plan = entrants[e];
    plan.iterations = iterations;
    plan.memory_bytes = std::min(plan.memory_bytes, expected_peak(e));
    return plan;
  };
  auto make_room = [&](uint64_t next_peak) {
    while (!held.empty() && held_bytes() + next_peak > options.memory_budget) held.pop_back();
  };
  auto take = [&](size_t e) {
    std::unique_ptr<RetrainState> state;
    auto it = std::find_if(held.begin(), held.end(), [&](const Held& h) { return h.entry == e; });
    if (it != held.end()) {
      state = std::move(it->state);
      held.erase(it);
    }
    return state;
  };
  auto keep_only = [&](const std::vector<size_t>& who) {
    held.erase(std::remove_if(held.begin(), held.end(),
                              [&](const Held& h) { return std::find(who.begin(), who.end(), h.entry) == who.end(); }),
               held.end());
  };
  // Enters a run's score in its entry: where it stopped, where it went on from, the midway point of its curve.
  auto enter = [&](size_t e, int64_t iterations, int64_t went_on_from, int64_t midway_at, double midway_accuracy,
                   HeldOutScore& score) {
    RaceEntry& entry = race.entries[e];
    entry.iterations.push_back(iterations);
    entry.went_on_from.push_back(went_on_from);
    entry.midway_iterations.push_back(midway_at);
    entry.midway_accuracy.push_back(midway_accuracy);
    entry.accuracy.push_back(score.accuracy);
    entry.loss.push_back(score.loss);
    if (!score.hits.empty()) entry.outputs_per_sample = score.outputs_per_sample;
    entry.hits.push_back(std::move(score.hits));
  };
  // Enters the speed a run measured over its `ran` iterations (every leg of it together).
  auto enter_speed = [&](size_t e, double train_seconds, double eval_seconds, int64_t evaluations,
                         double wall_seconds, int64_t ran) {
    RaceEntry& entry = race.entries[e];
    entry.seconds_per_iteration = train_seconds / static_cast<double>(ran);
    const RunSpeed speed = MeasuredSpeed(train_seconds, eval_seconds, evaluations, ran);
    entry.step_seconds = speed.step_seconds;
    entry.eval_seconds = speed.eval_seconds;
    entry.run_seconds_per_iteration = wall_seconds / static_cast<double>(ran);
  };
  // Holds a finished run's state among the two best.
  auto hold = [&](size_t e, std::unique_ptr<RetrainState> state) {
    held.push_back({e, std::move(state)});
    sort_held();
    if (held.size() > 2) held.resize(2);
  };
  bool final_round = alive.size() <= 2;
  // The best score at half a first run so far (cut_clear_losers): what a later first run is judged against there.
  std::optional<HeldOutScore> best_at_half;
  bool final_skipped = false;
  // The first round's two best, best first, and the iterations that round compared them at, once a final follows.
  std::vector<size_t> first_round_order;
  int64_t first_round_iterations = 0;
  bool final_void = false;
  bool final_unfit = false;  // a pinned final that would not fit the time left: not run
  while (true) {
    // The first round runs the entrants that need the most memory first, while few runs are held; the final runs
    // the first round's leader last: its state is the one kept when only one fits.
    std::vector<size_t> order = alive;
    if (final_round) {
      std::reverse(order.begin(), order.end());
    } else {
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return entrants[a].memory_bytes > entrants[b].memory_bytes; });
    }
    // A run the deadline cut short caps the round's later runs at the iterations it reached, so that the round
    // compares its entrants at equal iterations (a later run's longer training would otherwise win it).
    int64_t round_cap = rounds_iterations;
    // Enters a run's outcome in its entry (scored as deployed) and holds its state among the two best.
    auto record = [&](size_t e, absl::StatusOr<RetrainResult>& trained, int64_t went_on_from, const Leg& earlier,
                      std::chrono::steady_clock::time_point leg_start) -> absl::Status {
      HeldOutScore score{-1, 0};  // a run that failed (memory) loses
      int64_t iterations = 0;
      if (trained.ok()) {
        score = ScoreAsDeployed(*trained);
        iterations = trained->iterations;
        if (trained->stop_reason == "deadline" && trained->iterations > 0 && trained->iterations < round_cap) {
          round_cap = trained->iterations;
        }
        const int64_t ran = trained->iterations - went_on_from;  // this run's own
        if (ran > 0) {
          enter_speed(e, earlier.train_seconds + trained->train_seconds, earlier.eval_seconds + trained->eval_seconds,
                      earlier.evaluations + trained->evaluations,
                      earlier.wall_seconds + std::chrono::duration<double>(now() - leg_start).count(), ran);
        }
      } else {
        if (absl::IsCancelled(trained.status())) return trained.status();
        spdlog::info("race: {} failed: {}", race.entries[e].plan, std::string(trained.status().message()));
        went_on_from = 0;
      }
      const bool scored = score.accuracy >= 0;
      enter(e, iterations, went_on_from, scored ? earlier.midway_at : 0, scored ? earlier.midway_accuracy : -1, score);
      if (trained.ok() && trained->state) hold(e, std::move(trained->state));
      return absl::OkStatus();
    };
    // A split first run's second half, from its first half's state, to the round's end.
    auto second_half = [&](size_t e, std::unique_ptr<RetrainState> first_half, Leg earlier,
                           std::chrono::milliseconds time_budget) -> absl::Status {
      const Plan plan = race_plan(e, round_cap);
      PlanTraining training;
      training.memory_budget = options.memory_budget - held_bytes();
      training.time_budget = time_budget;
      training.batch = options.batch;
      training.seed = options.seed;
      training.keep_state = true;
      training.clock = options.clock;
      const auto leg_start = now();
      auto trained = RunPlan(model, plan, samples, training, cancel, std::move(first_half));
      measure_peak(e, trained);
      return record(e, trained, 0, earlier, leg_start);
    };
    auto run_time_for = [&](size_t runs_left) {  // an equal share of the race's time left
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now());
      return std::max(std::chrono::milliseconds(1), left / static_cast<int64_t>(std::max<size_t>(1, runs_left)));
    };
    for (size_t k = 0; k < order.size(); ++k) {
      if (cancel && cancel->cancelled()) return absl::CancelledError("race cancelled");
      const size_t e = order[k];
      if (options.on_run) options.on_run(e, race.entries[e].iterations.size());
      std::unique_ptr<RetrainState> resume = take(e);  // its first-round run, in the final
      make_room(expected_peak(e));
      const auto run_start = now();
      // An entrant's first run, when clear losers are cut, stops at half its round to be scored there (a round the
      // deadline has shortened is not split: its halves would not be comparable).
      const int64_t half = round_cap / 2;
      const bool split = options.cut_clear_losers && race.entries[e].iterations.empty() && resume == nullptr &&
                         half >= 1 && round_cap == rounds_iterations;
      const Plan plan = race_plan(e, split ? half : round_cap);
      PlanTraining training;
      training.memory_budget = options.memory_budget - held_bytes();
      // A run's share of the time left: the runs still to come in this round, each second half waiting counted too.
      const std::chrono::milliseconds run_time = run_time_for(order.size() - k + halves.size());
      training.time_budget = run_time;
      training.batch = options.batch;
      training.seed = options.seed;
      training.keep_state = true;
      training.clock = options.clock;
      auto trained = RunPlan(model, plan, samples, training, cancel, std::move(resume));
      // Beside held runs, a prediction (scaled, above) under the run's real peak makes the engine's hard budget stop
      // it, and the race would lose the entrant for memory the budget has: it goes again with no finished run held
      // (their scores stand; a final then starts them again). Halves still waiting stay: held as fitting too.
      if (!trained.ok() && absl::IsResourceExhausted(trained.status()) && !held.empty()) {
        spdlog::info("race: {} crossed the budget beside {} held run(s) ({}); again with none held",
                     race.entries[e].plan, held.size(), std::string(trained.status().message()));
        held.clear();
        training.memory_budget = options.memory_budget - held_bytes();
        const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now() - run_start);
        training.time_budget = std::max(std::chrono::milliseconds(1), run_time - spent);
        trained = RunPlan(model, plan, samples, training, cancel);
      }
      measure_peak(e, trained);
      const int64_t went_on_from = trained.ok() ? trained->resumed_from : 0;
      Leg earlier;
      if (went_on_from > 0 && !race.entries[e].iterations.empty() && race.entries[e].iterations.back() == went_on_from) {
        earlier.midway_at = went_on_from;
        earlier.midway_accuracy = race.entries[e].accuracy.back();
      }
      if (split && trained.ok() && trained->iterations == half && trained->state) {
        HeldOutScore at_half = ScoreAsDeployed(*trained);
        if (best_at_half && AboveBy(*best_at_half, at_half, kRaceCutErrors)) {
          race.entries[e].cut = true;  // out: scored below at half, as the round is
          trained->state.reset();
        } else {
          if (!best_at_half || ScoresAbove(at_half, *best_at_half)) best_at_half = at_half;
          earlier.midway_at = half;
          earlier.midway_accuracy = at_half.accuracy;
          earlier.train_seconds = trained->train_seconds;
          earlier.eval_seconds = trained->eval_seconds;
          earlier.evaluations = trained->evaluations;
          earlier.wall_seconds = std::chrono::duration<double>(now() - run_start).count();
          std::unique_ptr<RetrainState> first_half = std::move(trained->state);
          // Its second half waits for the later first runs' halves (judged against them all) where its state, the
          // others held and the next run's predicted peak fit the budget together; else it runs now.
          const bool later = k + 1 < order.size();
          if (later && held_bytes() + static_cast<uint64_t>(first_half->held_bytes) +
                               known_peak(order[k + 1]) <= options.memory_budget) {
            halves.push_back({e, std::move(first_half), std::move(at_half), earlier});
            make_room(expected_peak(order[k + 1]));
            continue;
          }
          RETURN_IF_ERROR(second_half(e, std::move(first_half), earlier,
                                      std::max(std::chrono::milliseconds(1),
                                               run_time - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                              now() - run_start))));
          if (k + 1 < order.size()) make_room(expected_peak(order[k + 1]));
          continue;
        }
      }
      RETURN_IF_ERROR(record(e, trained, went_on_from, earlier, run_start));
      if (k + 1 < order.size()) make_room(expected_peak(order[k + 1]));
    }
    // The second halves that waited: a clear loser against the best half of the round is out where it stands (its
    // half is its score), the rest go on to the round's end.
    while (!halves.empty()) {
      if (cancel && cancel->cancelled()) return absl::CancelledError("race cancelled");
      Half h = std::move(halves.front());
      halves.erase(halves.begin());
      // A deadline that cut a later run short at or below the half leaves this half as its round's score.
      const bool cut = AboveBy(*best_at_half, h.score, kRaceCutErrors);
      if (cut || round_cap <= h.state->iterations) {
        race.entries[h.entry].cut = cut;
        const size_t e = h.entry;
        enter(e, h.state->iterations, 0, 0, -1, h.score);
        if (!cut) {  // its half is its round: its speed is that half's, and its run is held as a finished one
          enter_speed(e, h.earlier.train_seconds, h.earlier.eval_seconds, h.earlier.evaluations,
                      h.earlier.wall_seconds, std::max<int64_t>(1, h.state->iterations));
          hold(e, std::move(h.state));
        }
        continue;
      }
      make_room(expected_peak(h.entry));
      RETURN_IF_ERROR(second_half(h.entry, std::move(h.state), h.earlier, run_time_for(halves.size() + 1)));
    }
    // Clear losers are out; the rest best first (equal accuracy: the lower held-out loss); exact ties keep the
    // earlier entrant (the law's plan). The best at half is never cut, so one stays.
    alive.erase(std::remove_if(alive.begin(), alive.end(), [&](size_t e) { return race.entries[e].cut; }),
                alive.end());
    std::stable_sort(alive.begin(), alive.end(), [&](size_t a, size_t b) {
      return ScoresAbove({race.entries[a].accuracy.back(), race.entries[a].loss.back()},
                         {race.entries[b].accuracy.back(), race.entries[b].loss.back()});
    });
    if (final_round && !first_round_order.empty() && !FinalDecides(race.entries, alive, first_round_iterations)) {
      // The deadline cut a finalist's run short of the other's, or of the first round (a final that could not go
      // on from its first run starts again): unequal or shorter runs measure less than the first round did.
      race.winner = first_round_order.front();
      final_void = true;
      break;
    }
    if (final_round || alive.size() < 2 || now() >= deadline) {
      race.winner = alive.front();
      break;
    }
    alive.resize(2);
    first_round_order = alive;
    first_round_iterations = round_cap;
    auto scored = [&](size_t e) {
      return HeldOutScore{race.entries[e].accuracy.back(), race.entries[e].loss.back(), race.entries[e].hits.back(),
                          race.entries[e].outputs_per_sample};
    };
    if (options.cut_clear_losers && AboveBy(scored(alive[0]), scored(alive[1]), kRaceCutErrors)) {
      final_skipped = true;  // its second is a clear loser: the leader wins and its run goes on in the window
      race.winner = alive.front();
      break;
    }
    keep_only(alive);  // the final: the two best, twice as long when pinned, else as long as fits (equal for both)
    const double seconds_left = std::chrono::duration<double>(deadline - now()).count();
    auto measured = [&](size_t e) {  // its first round's run (the plan's prediction if that run failed)
      const double m = race.entries[e].run_seconds_per_iteration;
      return m > 0 ? m : entrants[e].seconds_per_iteration;
    };
    // What each finalist goes on from: the final runs alive[1] first, beside alive[0]'s held run if both fit.
    auto held_run = [&](size_t e) -> const RetrainState* {
      for (const Held& h : held) {
        if (h.entry == e) return h.state.get();
      }
      return nullptr;
    };
    const RetrainState* second = held_run(alive[1]);
    const RetrainState* first = held_run(alive[0]);
    const bool first_stays = first != nullptr && static_cast<uint64_t>(first->held_bytes) +
                                                         known_peak(alive[1]) <= options.memory_budget;
    const int64_t from_first = first_stays ? first->iterations : 0;
    const int64_t from_second = second != nullptr ? second->iterations : 0;
    if (options.first_round > 0) {
      rounds_iterations *= 2;
      // A pinned final that cannot finish in the race's time left at the speeds its finalists measured would be cut
      // short and not decide (FinalDecides): the first round's leader wins without it.
      if (FinalSeconds(rounds_iterations, measured(alive[0]), measured(alive[1]), from_first, from_second) >
          seconds_left) {
        race.winner = alive.front();
        final_unfit = true;
        break;
      }
    } else {
      rounds_iterations = FinalIterations(rounds_iterations, measured(alive[0]), measured(alive[1]), seconds_left,
                                          reserve, from_first, from_second);
      if (rounds_iterations == 0) {
        race.winner = alive.front();
        break;
      }
    }
    final_round = true;
  }
  race.winner_state = take(race.winner);
  held.clear();
  race.raced = true;
  race.seconds = std::chrono::duration<double>(now() - start).count();
  std::vector<std::string> parts;
  for (size_t e = 0; e < race.entries.size(); ++e) {
    std::vector<std::string> scores;
    for (size_t r = 0; r < race.entries[e].accuracy.size(); ++r) {
      scores.push_back(absl::StrFormat("%.1f%%@%d", 100 * race.entries[e].accuracy[r], race.entries[e].iterations[r]));
    }
    if (scores.empty()) scores.push_back("(too slow to race)");
    if (race.entries[e].cut) scores.back() += " (cut)";
    parts.push_back(absl::StrCat(e == race.winner ? "*" : "", race.entries[e].plan, " ", absl::StrJoin(scores, " ")));
  }
  race.text = absl::StrCat("race (", absl::StrFormat("%.1f s", race.seconds), "): ", absl::StrJoin(parts, " | "),
                           final_skipped ? "; no final (its second a clear loser)" : "",
                           final_void ? "; the final, cut short by the deadline, does not decide: the first round's "
                                        "leader stands"
                                      : "",
                           final_unfit ? "; no final (it does not fit the race's time left)" : "",
                           race.winner_state ? "" : " (the winner's run not held: it trains again)");
  spdlog::info("{}", race.text);
  return race;
}

}  // namespace bt
