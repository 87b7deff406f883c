#include "edge/window/window_runner.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <thread>

#include "common/model/block_probe.h"
#include "absl/strings/str_format.h"
#include "common/model/tensor_convert.h"
#include "common/train/trainer.h"
#include "edge/window/curve_probe.h"
#include "edge/window/plan_race.h"
#include "edge/window/window_probe.h"

namespace bt {

WindowSamples SplitWindowSamples(const ImageDataset& stream, const torch::Tensor& labeled_mask) {
  WindowSamples out;
  out.all = stream;
  torch::Tensor index = labeled_mask.nonzero().squeeze(1);
  out.labeled = ImageDataset{stream.images.index_select(0, index), stream.labels.index_select(0, index)};
  return out;
}

absl::StatusOr<std::vector<BlockChoice>> ChoicesFromPlan(const Plan& plan) {
  std::vector<BlockChoice> choices;
  for (const BlockDecision& d : plan.blocks) choices.push_back(d.form);
  return choices;
}

double TrainSecondsLeft(const WindowBudget& budget, double spent_seconds) {
  const double window = std::chrono::duration<double>(budget.window).count();
  return std::max(0.0, window * (1.0 - budget.reserve_share) - spent_seconds);
}

absl::StatusOr<uint64_t> ApplyTrainedBlocks(BlockModel& deployed, const std::map<std::string, TensorMap>& trained) {
  // Validate every block first so that a bad one leaves the model untouched.
  uint64_t bytes = 0;
  for (const auto& [name, tensors] : trained) {
    ASSIGN_OR_RETURN(TensorMap current, deployed.GetBlock(name));
    if (current.size() != tensors.size()) {
      return absl::InvalidArgumentError(absl::StrCat("block '", name, "': ", tensors.size(), " tensors, expected ",
                                                     current.size()));
    }
    for (const auto& [param, value] : tensors) {
      auto it = current.find(param);
      if (it == current.end() || !it->second.sizes().equals(value.sizes()) || it->second.dtype() != value.dtype()) {
        return absl::InvalidArgumentError(absl::StrCat("block '", name, "': tensor '", param, "' does not match"));
      }
      if (!torch::isfinite(value).all().item<bool>()) {
        return absl::InvalidArgumentError(absl::StrCat("block '", name, "': tensor '", param, "' is not finite"));
      }
      bytes += static_cast<uint64_t>(value.numel() * value.element_size());
    }
  }
  for (const auto& [name, tensors] : trained) RETURN_IF_ERROR(deployed.SetBlock(name, tensors));
  return bytes;
}

absl::StatusOr<std::unique_ptr<BlockModel>> CopyModel(const BlockModel& model) {
  ASSIGN_OR_RETURN(auto copy, CreateModel(model.arch(), 0));
  std::vector<TensorView> views;
  std::vector<torch::Tensor> keep;
  keep.reserve(model.parameters().size());
  for (const auto& [name, t] : model.parameters()) {
    keep.push_back(t.detach().contiguous());
    ASSIGN_OR_RETURN(TensorView v, ViewOf(name, keep.back()));
    views.push_back(v);
  }
  RETURN_IF_ERROR(LoadWeightsInto(views, copy.get()));
  copy->SetTrainingMode(false);
  return copy;
}

absl::StatusOr<RetrainResult> RunPlan(const BlockModel& model, const Plan& plan, const WindowSamples& samples,
                                      const PlanTraining& options, const CancelToken* cancel,
                                      std::unique_ptr<RetrainState> resume) {
  ASSIGN_OR_RETURN(std::vector<BlockChoice> choices, ChoicesFromPlan(plan));
  RetrainOptions retrain;
  retrain.memory_budget = options.memory_budget;
  retrain.predicted_peak_bytes = plan.memory_bytes;
  retrain.time_budget = options.time_budget;
  retrain.max_iterations = std::max<int64_t>(1, plan.iterations);
  retrain.batch = options.batch;
  retrain.micro_batch = plan.micro_batch;
  retrain.seed = options.seed;
  retrain.label_free = options.label_free;
  retrain.keep_state = options.keep_state;
  retrain.on_evaluation = options.on_evaluation;
  if (options.on_iteration) {
    retrain.on_iteration = [&](int64_t it) { options.on_iteration(it, retrain.max_iterations); };
  }
  return RetrainWindow(model, choices, options.label_free ? samples.all : samples.labeled, retrain, cancel,
                       options.clock, std::move(resume));
}

namespace {

// RunPlan, going on past plan.iterations (TrainPlan's `up_to`) while the time budget holds at least an evaluation's
// worth of iterations more at the speed this run measured, then ended as a run that keeps no state would end.
absl::StatusOr<RetrainResult> RunPlanUpTo(const BlockModel& model, const Plan& plan, int64_t up_to,
                                          const WindowSamples& samples, const PlanTraining& options,
                                          const CancelToken* cancel, std::unique_ptr<RetrainState> resume) {
  const auto now = [&] { return options.clock ? options.clock() : std::chrono::steady_clock::now(); };
  const auto started = now();
  auto left = [&] {
    return std::chrono::duration<double>(options.time_budget).count() -
           std::chrono::duration<double>(now() - started).count();
  };
  auto ms = [](double seconds) {
    return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(1000 * seconds)));
  };
  PlanTraining going = options;
  going.keep_state = true;
  Plan p = plan;
  ASSIGN_OR_RETURN(RetrainResult r, RunPlan(model, p, samples, going, cancel, std::move(resume)));
  const int64_t resumed_from = r.resumed_from;
  double train_seconds = r.train_seconds;
  int64_t peak_bytes = r.peak_bytes;  // every leg's peak counts as the run's own (each leg measures from its start)
  const int64_t every = RetrainOptions{}.eval_every;
  while (r.stop_reason == "iterations" && r.state && p.iterations < up_to) {
    const int64_t ran = r.iterations - r.resumed_from;
    if (ran <= 0) break;
    const RunSpeed speed = MeasuredSpeed(r.train_seconds, r.eval_seconds, r.evaluations, ran);
    const double seconds = left();
    const int64_t more = std::min(up_to - p.iterations,
                                  IterationsThatFit(seconds, speed.step_seconds, speed.eval_seconds, every));
    if (more < std::min(every, up_to - p.iterations)) break;  // not worth the evaluation that ends it
    spdlog::info("train: {} iterations more fit the {:.1f} s left at {:.3f} s per step measured in this run ({} "
                 "planned, {} at most)",
                 more, seconds, speed.step_seconds, plan.iterations, up_to);
    p.iterations += more;
    going.time_budget = ms(seconds);
    ASSIGN_OR_RETURN(r, RunPlan(model, p, samples, going, cancel, std::move(r.state)));
    train_seconds += r.train_seconds;
    peak_bytes = std::max(peak_bytes, r.peak_bytes);
  }
  if (!r.state) return r;  // nothing kept to end (a failed resume returns an error above)
  // No iterations more: keep-best's checkpoint, written back, judged against the model, as an unkept run ends.
  PlanTraining last = options;
  last.keep_state = false;
  last.time_budget = ms(left());
  p.iterations = r.iterations;
  ASSIGN_OR_RETURN(RetrainResult ended, RunPlan(model, p, samples, last, cancel, std::move(r.state)));
  ended.resumed_from = resumed_from;
  ended.train_seconds += train_seconds;
  ended.peak_bytes = std::max(ended.peak_bytes, peak_bytes);
  ended.stop_reason = r.stop_reason;
  return ended;
}

}  // namespace

absl::StatusOr<TrainedPlan> TrainPlan(BlockModel& model, const Plan& plan, const WindowSamples& samples,
                                      const PlanTraining& options, const CancelToken* cancel,
                                      std::unique_ptr<RetrainState> resume, int64_t up_to) {
  TrainedPlan out;
  if (up_to > plan.iterations && !options.keep_state) {
    ASSIGN_OR_RETURN(out.result, RunPlanUpTo(model, plan, up_to, samples, options, cancel, std::move(resume)));
  } else {
    ASSIGN_OR_RETURN(out.result, RunPlan(model, plan, samples, options, cancel, std::move(resume)));
  }
  if (!out.result.deployed || !out.result.model) return out;
  ASSIGN_OR_RETURN(out.trained, out.result.model->TrainedBlocks(model));
  ASSIGN_OR_RETURN(out.trained_bytes, ApplyTrainedBlocks(model, out.trained));
  model.SetTrainingMode(false);
  return out;
}

int ChooseIntraOpThreads(BlockModel& model, const torch::Tensor& images) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (cores == 1 || images.size(0) == 0) {
    torch::set_num_threads(cores);
    return cores;
  }
  const torch::Tensor batch = images.slice(0, 0, std::min<int64_t>(64, images.size(0)));
  auto seconds_with = [&](int threads) {
    torch::set_num_threads(threads);
    double best = 1e300;
    for (int rep = 0; rep < 2; ++rep) {  // the first also warms up; the faster of two counts
      const auto start = std::chrono::steady_clock::now();
      const torch::Tensor x = model.PrepareInput(batch);
      if (x.is_floating_point()) {
        model.Forward(x.detach().clone().requires_grad_(true)).sum().backward();
      } else {  // token ids carry no gradient: from the embedding's output on
        torch::Tensor h = model.ForwardRange(x, 0, 1).detach().requires_grad_(true);
        model.ForwardRange(h, 1, model.num_blocks()).sum().backward();
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  };
  const double all = seconds_with(cores);
  const double one = seconds_with(1);
  const int chosen = one < all ? 1 : cores;
  torch::set_num_threads(chosen);
  for (const auto& [name, p] : model.parameters()) {
    if (p.grad().defined()) p.mutable_grad().reset();
  }
  if (chosen != cores) {
    spdlog::info("window: {} intra-op thread (a forward and backward took {:.0f} ms with {} threads, {:.0f} ms with "
                 "one: {})", chosen, 1000 * all, cores, 1000 * one,
                 one < 0.7 * all ? "another process holds a core" : "too little work per step to split it");
  }
  return chosen;
}

namespace {

// The start the accuracy before training ranked second: the window's model when another version ranked first,
// else the best other candidate. The start trial (below) may still prefer it.
struct RunnerUp {
  std::unique_ptr<BlockModel> model;
  uint64_t version = 0;
};

constexpr int64_t kStartScoreBatch = 500;  // images (or sequences) per forward when scoring starts, as Evaluate's

// A start candidate's score on the window's labeled samples, with per-sample hits (so that a switch needs evidence).
absl::StatusOr<HeldOutScore> ScoreStart(const BlockModel& model, const ImageDataset& labeled) {
  ASSIGN_OR_RETURN(auto frozen, ComposedModel::Create(model, std::vector<BlockChoice>(model.layout().size())));
  return HeldOutScores(*frozen, labeled, kStartScoreBatch);
}

// Scores the window's model and its start candidates on the labeled samples that train (not the held-out slice: it
// judges what follows — the probes' curves, the race, keep-best — and a start chosen as the best of four on it
// would read high there; on week-recurring the zoo's starts read 8–15 points above the domain's held-out set before
// training, and in 4 of 10 windows no checkpoint then beat that reading). The window starts from the best other
// candidate (accuracy; ties: the lower loss) only when it is ClearlyAbove the window's model — more than one paired
// standard error above it, the rule keep-best uses: on a night window's 110 labeled images a version 3 points
// higher is one image in 30, which the next window's samples do not repeat. The start becomes in.model and
// in.base_version; `runner_up` is the best of the rest (the window's model when another start was taken). A
// candidate that fails to load is skipped with a warning.
absl::Status ChooseStart(WindowInput& in, WindowOutcome& out, RunnerUp& runner_up) {
  out.start_version = in.base_version;
  if (in.starts.empty()) return absl::OkStatus();
  if (out.label_free) {
    out.start_text = absl::StrCat("start: v", in.base_version, " (deployed; a label-free window cannot score ",
                                  in.starts.size(), " other versions)");
    return absl::OkStatus();
  }
  const ImageDataset& all_labeled = in.samples->labeled;
  const int64_t held_out = HeldOutCount(all_labeled.size(), RetrainOptions{}.holdout_fraction);
  const bool split = held_out >= 1 && held_out < all_labeled.size();
  const ImageDataset labeled = split ? all_labeled.Slice(0, all_labeled.size() - held_out) : all_labeled;
  ASSIGN_OR_RETURN(const HeldOutScore deployed, ScoreStart(*in.model, labeled));
  std::string scores = absl::StrFormat("deployed v%d %.1f%%", in.base_version, 100 * deployed.accuracy);
  struct Scored {
    std::unique_ptr<BlockModel> model;
    uint64_t version = 0;
    HeldOutScore score{-1, 0};
  };
  Scored best, second;  // the two best other candidates
  for (const StartCandidate& c : in.starts) {
    auto candidate = c.load();
    if (!candidate.ok()) {
      spdlog::warn("window {}: start candidate {} not loaded: {}", in.id, c.label, std::string(candidate.status().message()));
      continue;
    }
    ASSIGN_OR_RETURN(HeldOutScore score, ScoreStart(**candidate, labeled));
    absl::StrAppendFormat(&scores, ", %s %.1f%%", c.label, 100 * score.accuracy);
    Scored scored{std::move(*candidate), c.version, std::move(score)};
    if (!best.model || ScoresAbove(scored.score, best.score)) {
      second = std::move(best);
      best = std::move(scored);
    } else if (!second.model || ScoresAbove(scored.score, second.score)) {
      second = std::move(scored);
    }
  }
  const bool switched = best.model && ClearlyAbove(best.score, deployed);
  const std::string within = !switched && best.model && ScoresAbove(best.score, deployed)
                                 ? absl::StrFormat("; v%d not clearly above", best.version)
                                 : "";
  if (switched) {
    const bool deployed_second = !second.model || !ScoresAbove(second.score, deployed);
    runner_up = deployed_second ? RunnerUp{std::move(in.model), in.base_version}
                                : RunnerUp{std::move(second.model), second.version};
    in.model = std::move(best.model);
    in.base_version = best.version;
  } else if (best.model) {
    runner_up = {std::move(best.model), best.version};
  }
  in.model->SetTrainingMode(false);
  if (runner_up.model) runner_up.model->SetTrainingMode(false);
  out.start_version = in.base_version;
  out.start_text = absl::StrFormat("start: v%d (%s; on %d labeled training samples%s)", in.base_version, scores,
                                   labeled.size(), within);
  return absl::OkStatus();
}

// Plans that train the same blocks in the same forms (whatever their chunk size or iterations).
bool SameForms(const Plan& a, const Plan& b) {
  if (a.blocks.size() != b.blocks.size()) return false;
  for (size_t k = 0; k < a.blocks.size(); ++k) {
    const bool trains = a.blocks[k].form.trains();
    if (trains != b.blocks[k].form.trains() || (trains && a.blocks[k].option() != b.blocks[k].option())) return false;
  }
  return true;
}

// The start trial, after the race: accuracy before training says which version is closest to the window's data,
// not which one retrains best on it (a version adapted to another domain can score lower and retrain higher, or the
// reverse). The race's winner trains from the runner-up start for as many iterations as one of its race rounds ran
// (StartTrialRound: its longest, of those that fit the trial's seconds unless the race is pinned),
// with the same seed and samples, scored as the race scores it; when that beats the winner's race score, the window
// asks its plan source for a plan from the runner-up (the same probe report: normally the same plans) and, if the
// winner's forms are among them, switches start and plan. The trial is exploration, as the race is: it takes what
// the race left unspent of its seconds (`race_unspent`), or kStartTrialShare of the training time left when that is
// more (pinned races: always run, bounded by the race's share). Returns true when the start changed.
absl::StatusOr<bool> StartTrial(WindowInput& in, const RaceResult& race, const Plan& winner, double race_unspent,
                                PlanSource& source, const PlanQuery& query, RunnerUp& runner_up, WindowOutcome& out,
                                std::unique_ptr<RetrainState>& continued, const CancelToken* cancel) {
  if (!runner_up.model || out.label_free || !race.raced) return false;
  const RaceEntry& entry = race.entries[race.winner];
  if (entry.iterations.empty() || entry.iterations.back() <= 0) return false;
  const WindowBudget& budget = in.budget;
  const double left = TrainSecondsLeft(
      budget, std::chrono::duration<double>(std::chrono::steady_clock::now() - in.opened).count());
  const int round = StartTrialRound(entry, std::max(kStartTrialShare * left, race_unspent), budget.race_iterations > 0);
  if (round < 0) {
    absl::StrAppend(&out.start_text, "; no start trial (too little time)");
    return false;
  }
  const auto at = static_cast<size_t>(round);
  const int64_t iterations = entry.iterations[at];
  // Where the winner's run was also scored before its end, the trial's is scored there too: two points of each
  // curve, so that a start that only learns faster early (its lead closing) does not take the window.
  const int64_t midway = at < entry.midway_iterations.size() && entry.midway_accuracy[at] >= 0
                             ? entry.midway_iterations[at]
                             : 0;
  const bool two_points = midway > 0 && midway < iterations;
  Plan plan = winner;
  plan.iterations = two_points ? midway : iterations;
  // The race's run is held through the trial only when both fit the memory budget together.
  if (continued && static_cast<uint64_t>(continued->held_bytes) + plan.memory_bytes > budget.memory_budget) {
    continued.reset();
  }
  PlanTraining training;
  training.memory_budget = budget.memory_budget - (continued ? static_cast<uint64_t>(continued->held_bytes) : 0);
  training.time_budget = std::chrono::milliseconds(static_cast<int64_t>(1000 * kRaceShare * left / 2));
  training.batch = budget.batch;
  training.seed = in.seed;
  training.keep_state = true;
  const auto started = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(RetrainResult r, RunPlan(*runner_up.model, plan, *in.samples, training, cancel));
  double other_midway = -1;
  if (two_points && r.iterations == midway && r.state) {
    other_midway = ScoreAsDeployed(r).accuracy;
    plan.iterations = iterations;
    training.time_budget = std::max(std::chrono::milliseconds(1),
                                    training.time_budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                               std::chrono::steady_clock::now() - started));
    std::unique_ptr<RetrainState> first_leg = std::move(r.state);
    ASSIGN_OR_RETURN(r, RunPlan(*runner_up.model, plan, *in.samples, training, cancel, std::move(first_leg)));
  }
  const HeldOutScore other = ScoreAsDeployed(r);
  const HeldOutScore chosen{entry.accuracy[at], entry.loss[at],
                            at < entry.hits.size() ? entry.hits[at] : std::vector<uint8_t>{}, entry.outputs_per_sample};
  // A run the deadline cut short compares unequal iterations: the start stays. So it does unless the runner-up is
  // clearly above (ClearlyAbove: on a 23-image slice one image is 4 points), and, where both curves have two
  // points, the projection decides (StartTrialSwitches).
  const bool equal = r.iterations == iterations;
  bool better = equal && ClearlyAbove(other, chosen);
  absl::StrAppendFormat(&out.start_text, "; trial (the race's winner, %d iterations, %.1f s): v%d %.1f%% (loss %.3f), "
                        "v%d %.1f%% (loss %.3f)", iterations,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                        in.base_version, 100 * chosen.accuracy, chosen.loss, runner_up.version, 100 * other.accuracy,
                        other.loss);
  if (other_midway >= 0 && equal) {
    const double lead = ProjectedLead(100 * (other_midway - entry.midway_accuracy[at]), midway,
                                      100 * (other.accuracy - chosen.accuracy), iterations, winner.iterations);
    const double error = ProjectedLeadError(100 * PairedError(other, chosen), midway, iterations, winner.iterations);
    absl::StrAppendFormat(&out.start_text, ", at %d v%d %.1f%% and v%d %.1f%%: v%d's lead at %d iterations %+.1f "
                          "points (±%.1f)", midway, in.base_version, 100 * entry.midway_accuracy[at],
                          runner_up.version, 100 * other_midway, runner_up.version, winner.iterations, lead, error);
    better = StartTrialSwitches(better, lead, error);
  }
  if (!better) {
    absl::StrAppendFormat(&out.start_text, " → v%d", in.base_version);
    return false;
  }
  PlanQuery again = query;
  again.base_version = runner_up.version;
  // The cloud may have gone away since the plan came: the window then goes on from the start it has (it needs the
  // cloud again only to push, and the outbox waits for that), rather than failing after the race.
  absl::StatusOr<PlannedWindow> asked = source.PlanWindow(again);
  if (!asked.ok()) {
    spdlog::warn("window {}: no plan for v{} ({}); the window goes on from v{}", in.id, runner_up.version,
                 std::string(asked.status().message()), in.base_version);
    absl::StrAppendFormat(&out.start_text, " → v%d (no plan for v%d: %s)", in.base_version, runner_up.version,
                          asked.status().message());
    return false;
  }
  PlannedWindow replanned = *std::move(asked);
  std::vector<Plan> offered = {replanned.plan};
  offered.insert(offered.end(), replanned.alternatives.begin(), replanned.alternatives.end());
  auto match = std::find_if(offered.begin(), offered.end(), [&](const Plan& p) { return SameForms(p, winner); });
  if (match == offered.end() || !match->feasible) {
    absl::StrAppendFormat(&out.start_text, " → v%d (the plan for v%d offers no %s)", in.base_version,
                          runner_up.version, PlanText(winner));
    return false;
  }
  replanned.plan = *match;
  replanned.alternatives.clear();
  continued = std::move(r.state);  // the trial's run goes on (it trained the same forms from the new start)
  out.planned = std::move(replanned);
  std::swap(in.model, runner_up.model);
  std::swap(in.base_version, runner_up.version);
  out.start_version = in.base_version;
  absl::StrAppendFormat(&out.start_text, " → v%d (planned again from it)", in.base_version);
  return true;
}

// A window that started from another version than the deployed one but trained nothing better still deploys that
// start: it scored above the deployed model on the window's labeled samples. No blocks were retrained (`trained`
// stays empty); the push names the start as the base.
void DeployStartIfOther(WindowInput& in, uint64_t deployed_version, WindowOutcome& out) {
  if (in.base_version == deployed_version || in.model == nullptr) return;
  out.outcome = absl::StrCat("deployed the start v", in.base_version, " as it is (", out.outcome, ")");
  out.model = std::move(in.model);
  out.deployed = true;
}

}  // namespace

absl::StatusOr<WindowOutcome> RunWindow(WindowInput in, PlanSource& source, const CancelToken* cancel,
                                        const WindowHooks& hooks) {
  if (in.model == nullptr || in.samples == nullptr) return absl::InvalidArgumentError("window: no model or samples");
  auto state = [&](WindowStage stage, double progress) {
    if (hooks.on_state) hooks.on_state(stage, progress);
  };
  const WindowBudget& budget = in.budget;
  const WindowSamples& samples = *in.samples;
  WindowOutcome out;
  out.label_free = samples.labeled.size() < kMinLabeledSamples;
  const uint64_t deployed_version = in.base_version;
  RunnerUp runner_up;
  RETURN_IF_ERROR(ChooseStart(in, out, runner_up));
  if (budget.threads > 0) torch::set_num_threads(budget.threads);
  out.threads = budget.threads > 0 ? budget.threads : ChooseIntraOpThreads(*in.model, samples.all.images);
  const ProbeNeeds needs = source.needs();

  // Probe: drift statistics, block costs, and (for plan sources that use them) retraining curves.
  state(WindowStage::kProbing, 0.0);
  WindowProbeOptions probe;
  probe.window = budget.window;
  probe.probe_share = budget.probe_share;
  probe.batch = budget.batch;
  probe.min_labeled = needs.curves ? kMinLabeledSamples : std::numeric_limits<int64_t>::max();
  probe.curves.seed = in.seed;
  probe.curves.pinned_runs = budget.probe_runs;
  if (needs.lora_forms) probe.costs.lora_sparsities = probe.costs.sparsities;
  const auto probe_start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(out.report, ProbeWindow(*in.model, samples.labeled, samples.all.images, in.source, probe));
  out.probe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - probe_start).count();

  // Plan.
  state(WindowStage::kPlanning, 0.10);
  PlanQuery query;
  query.report = &out.report;
  query.memory_budget = budget.memory_budget;
  query.train_seconds =
      TrainSecondsLeft(budget, std::chrono::duration<double>(std::chrono::steady_clock::now() - in.opened).count());
  for (const BlockSpec& b : in.model->layout()) query.block_names.push_back(b.name);
  query.window_id = in.id;
  query.base_version = in.base_version;
  query.serving_version = deployed_version;
  ASSIGN_OR_RETURN(out.planned, source.PlanWindow(query));
  out.plan_text = PlanText(out.planned.plan);
  if (hooks.on_planned) hooks.on_planned(out);
  if (!out.planned.plan.feasible || out.planned.plan.first_trainable < 0) {
    const std::string& note = out.planned.plan.note;
    out.outcome = absl::StrCat("nothing to train: ", note.empty() ? "nothing trainable fits the budget" : note);
    DeployStartIfOther(in, deployed_version, out);
    return out;
  }

  // Fetch what the edge does not hold (normally nothing: it holds its branch).
  state(WindowStage::kPulling, 0.12);
  ASSIGN_OR_RETURN(out.bytes_down, source.FetchBlocks(out.planned));

  // Race the law's plan against its alternatives; the measured leader trains, going on from its race run.
  std::unique_ptr<RetrainState> continued;
  int64_t up_to = 0;  // how far the training may go on (the plan's iterations when the race's speed cut them)
  if (!out.planned.alternatives.empty()) {
    state(WindowStage::kRacing, 0.13);
    std::vector<Plan> entrants = {out.planned.plan};
    entrants.insert(entrants.end(), out.planned.alternatives.begin(), out.planned.alternatives.end());
    RaceOptions race;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - in.opened).count(); };
    race.seconds = budget.race_share * TrainSecondsLeft(budget, elapsed());
    race.first_round = budget.race_iterations;
    race.memory_budget = budget.memory_budget;
    race.batch = budget.batch;
    race.seed = in.seed;
    race.reserve_start_trial = runner_up.model != nullptr && !out.label_free;
    race.cut_clear_losers = RaceTakesFromTraining(entrants, race.seconds, TrainSecondsLeft(budget, elapsed()));
    ASSIGN_OR_RETURN(RaceResult result, RacePlans(*in.model, entrants, samples, race, cancel));
    out.race_text = result.text;
    out.race_winner = result.winner;
    if (result.winner != 0) {
      out.planned.plan = entrants[result.winner];
      out.plan_text = PlanText(out.planned.plan);
    }
    continued = std::move(result.winner_state);
    ASSIGN_OR_RETURN(const bool switched, StartTrial(in, result, entrants[result.winner],
                                                     std::max(0.0, race.seconds - result.seconds), source, query,
                                                     runner_up, out, continued, cancel));
    if (switched) {
      ASSIGN_OR_RETURN(const uint64_t more, source.FetchBlocks(out.planned));
      out.bytes_down += more;
      out.plan_text = PlanText(out.planned.plan);
    }
    runner_up.model.reset();
    if (continued && continued->deployed != in.model.get()) continued.reset();
    const int64_t done = continued ? continued->iterations : 0;
    // The winner's measured speed says how many iterations the window can still finish: no plan it cannot finish.
    // Its steps and its evaluations are measured apart: in a short race run the evaluations weigh more per
    // iteration than in the window's training (one every eval_every), and a speed taken with them left the end of
    // text windows idle (62 iterations planned at 1.14 s where a step took 0.86 s).
    const RaceEntry& measured = result.entries[result.winner];
    const double per_iteration = measured.seconds_per_iteration;
    if (result.raced && per_iteration > 0) {
      Plan& p = out.planned.plan;
      const double seconds = TrainSecondsLeft(budget, elapsed());
      const int64_t can = measured.step_seconds > 0
                              ? IterationsThatFit(seconds, measured.step_seconds, measured.eval_seconds,
                                                  RetrainOptions{}.eval_every)
                              : static_cast<int64_t>(seconds / per_iteration);
      if (done + can < p.iterations) {
        spdlog::info("window {}: {} iterations fit the time left at the race's measured {:.3f} s per step and "
                     "{:.2f} s per evaluation, not {}", in.id, std::max<int64_t>(1, can), measured.step_seconds,
                     measured.eval_seconds, p.iterations - done);
        up_to = p.iterations;
        p.iterations = done + std::max<int64_t>(1, can);
      }
      p.seconds_per_iteration = per_iteration;
      p.train_seconds = per_iteration * static_cast<double>(std::max<int64_t>(0, p.iterations - done));
    }
    if (done > 0) absl::StrAppend(&out.race_text, "; the winner goes on from its run's ", done, " iterations");
  }
  const Plan& plan = out.planned.plan;
  // The plan's iterations were fitted to the window at predicted speeds (the probes', or the race's): a run that
  // reaches them with time left goes on towards the iteration grid's top while its own speed says more fit, rather
  // than leave the window's end idle (text, 2-minute windows: 75–85 iterations planned, 20 s of the window unused).
  up_to = std::max(up_to, plan.max_iterations);

  // Retrain under the budget, until the window's end less the reserve.
  state(WindowStage::kTraining, 0.15);
  PlanTraining training;
  training.memory_budget = budget.memory_budget;
  const double window_seconds = std::chrono::duration<double>(budget.window).count();
  const double left = std::chrono::duration<double>(in.opened + budget.window - std::chrono::steady_clock::now()).count();
  training.time_budget = std::chrono::milliseconds(
      static_cast<int64_t>(1000 * std::max(0.0, left - budget.reserve_share * window_seconds)));
  training.batch = budget.batch;
  training.seed = in.seed;
  training.label_free = out.label_free;
  training.on_evaluation = hooks.on_evaluation;
  // Progress never goes back: a top-up leg counts its iterations against a larger total than the leg before it.
  double trained_share = 0;
  training.on_iteration = [&](int64_t it, int64_t of) {
    trained_share = std::max(trained_share, static_cast<double>(it) / static_cast<double>(std::max<int64_t>(1, of)));
    state(WindowStage::kTraining, 0.15 + 0.8 * std::min(1.0, trained_share));
  };
  ASSIGN_OR_RETURN(TrainedPlan trained, TrainPlan(*in.model, plan, samples, training, cancel, std::move(continued),
                                                            up_to));
  const RetrainResult& result = trained.result;
  out.retrained = true;
  out.continued_iterations = result.resumed_from;
  out.accuracy_before = result.accuracy_before;
  out.accuracy_after = result.deployed ? result.accuracy_after : result.accuracy_before;
  out.slice_outputs = static_cast<int64_t>(result.hits_before.size());
  out.iterations = result.iterations;
  out.peak_bytes = result.peak_bytes;
  out.train_seconds = result.train_seconds;
  out.stop_reason = result.stop_reason;
  if (!result.deployed) {
    out.outcome = absl::StrCat("kept the deployed model (", result.stop_reason, ")");
    DeployStartIfOther(in, deployed_version, out);
    return out;
  }
  out.trained = std::move(trained.trained);
  out.trained_bytes = trained.trained_bytes;
  out.model = std::move(in.model);
  out.deployed = true;
  out.outcome = "deployed";
  return out;
}

}  // namespace bt
