#include "bench/oracle.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/baselines.h"
#include "bench/ranking.h"
#include "bench/report.h"
#include "bench/setup.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/units.h"
#include "common/plan/window_plan.h"
#include "common/train/trainer.h"
#include "edge/window/plan_source.h"
#include "edge/window/window_probe.h"
#include "edge/window/window_runner.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

using json = nlohmann::json;

struct Candidate {
  std::vector<std::string> labels;  // why it is a candidate: "planner #1", "last-3", "layer_2:train@0.50 alone", ...
  Plan plan;
  double predicted_gain = 0;        // the law's, over the probe slice's acc0
  double measured_accuracy = 0;     // on the domain's held-out set
  double measured_gain = 0;         // over the starting model on the same set
  bool deployed = false;            // keep-best found it better than the starting model on the window's slice
  int64_t iterations_run = 0;
  double train_seconds = 0;
};

struct OracleWindow {
  std::string domain;
  bool label_free = false;
  double before = 0;                // starting model on the held-out set
  double blocktrainer_after = 0;    // blocktrainer's own window (deadline enforced)
  std::string blocktrainer_plan = "-";
  int64_t blocktrainer_iterations = 0;
  double blocktrainer_predicted_seconds = 0, blocktrainer_train_seconds = 0;
  std::vector<Candidate> candidates;
  size_t chosen = 0;                // index into candidates: what blocktrainer trained (the race's winner)
  size_t law = 0;                   // the law's own plan ("planner #1")
  size_t best = 0;
  size_t chosen_rank = 0;           // by measured accuracy, 1 = best
  double regret_points = 0;
  double spearman = 0;
  double law_error_points = 0;      // predicted − measured gain of the chosen plan
  std::string diagnosis;
  std::string note;                 // when no candidate ran
};

std::string KeyOf(const Plan& plan) { return absl::StrCat(PlanText(plan), " x", plan.iterations); }

std::vector<size_t> OptionsOf(const Plan& plan) {
  std::vector<size_t> options;
  for (const BlockDecision& d : plan.blocks) options.push_back(d.option_index);
  return options;
}

size_t IndexOf(const BlockProfile& block, const BlockChoice& form) {
  for (size_t i = 0; i < block.options.size(); ++i) {
    if (block.options[i].form == form) return i;
  }
  return 0;
}

class CandidateSet {
 public:
  CandidateSet(const ProbeReport& report, const LawParams& law, WindowPlanRequest request)
      : report_(report), law_(law), request_(std::move(request)) {}

  // Adds `plan` under `label` (or the label to the same plan already there). Infeasible plans are skipped.
  void Add(const std::string& label, Plan plan) {
    if (!plan.feasible || plan.first_trainable < 0) return;
    const std::string key = KeyOf(plan);
    for (Candidate& c : candidates_) {
      if (KeyOf(c.plan) == key) {
        c.labels.push_back(label);
        return;
      }
    }
    Candidate c;
    c.labels.push_back(label);
    c.predicted_gain = plan.predicted_accuracy - report_.acc0;
    c.plan = std::move(plan);
    candidates_.push_back(std::move(c));
  }

  // `options` at the largest chunk that fits and the most iterations that fit the window, priced by the law.
  absl::Status AddOptions(const std::string& label, const std::vector<size_t>& options) {
    ASSIGN_OR_RETURN(Plan plan, FitWindowPlan(report_, law_, request_, options));
    Add(label, std::move(plan));
    return absl::OkStatus();
  }

  // A plan chosen on another report (the LoRA-costed one) or by a baseline, re-priced by this window's law.
  absl::Status AddPriced(const std::string& label, const ProbeReport& costs, const Plan& plan) {
    if (!plan.feasible || plan.first_trainable < 0) return absl::OkStatus();
    const int64_t divisor = plan.micro_batch > 0 ? std::max<int64_t>(1, costs.batch / plan.micro_batch) : 1;
    ASSIGN_OR_RETURN(Plan priced, EvaluatePlan(WindowRequest(costs, law_, request_, divisor), OptionsOf(plan),
                                               plan.iterations));
    priced.micro_batch = plan.micro_batch;
    priced.memory_budget = request_.memory_budget;
    Add(label, std::move(priced));
    return absl::OkStatus();
  }

  std::vector<Candidate>& candidates() { return candidates_; }

 private:
  const ProbeReport& report_;
  const LawParams& law_;
  WindowPlanRequest request_;
  std::vector<Candidate> candidates_;
};

absl::Status AddCandidates(const ProbeReport& report, const ProbeReport& lora_costs, const LawParams& law,
                           const WindowPlanRequest& request, const Plan& chosen, const OracleOptions& o,
                           uint64_t seed, CandidateSet* set) {
  set->Add("chosen", chosen);
  ASSIGN_OR_RETURN(std::vector<Plan> top, TopWindowPlans(report, law, request, o.top));
  for (size_t k = 0; k < top.size(); ++k) set->Add(absl::StrCat("planner #", k + 1), top[k]);
  const size_t n = report.costs.size();
  for (size_t k = 1; k <= n; ++k) {
    std::vector<size_t> options(n, 0);
    for (size_t i = n - k; i < n; ++i) options[i] = IndexOf(report.costs[i], BlockChoice::Train());
    RETURN_IF_ERROR(set->AddOptions(absl::StrCat("last-", k), options));
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t f = 1; f < report.costs[i].options.size(); ++f) {
      if (!report.costs[i].options[f].trainable) continue;
      std::vector<size_t> options(n, 0);
      options[i] = f;
      RETURN_IF_ERROR(set->AddOptions(
          absl::StrCat(report.costs[i].name, ":", report.costs[i].options[f].name(), " alone"), options));
    }
  }
  PlanQuery query;
  query.memory_budget = request.memory_budget;
  query.train_seconds = request.train_seconds;
  for (auto [kind, label, costs] : {std::make_tuple(BaselinePlanSource::Kind::kFixedCompressed, "fixed-compressed", &report),
                                    std::make_tuple(BaselinePlanSource::Kind::kFixedCompressedLora,
                                                    "fixed-compressed-lora", &lora_costs)}) {
    BaselinePlanSource baseline(kind, request.iteration_grid, seed);
    query.report = costs;
    auto planned = baseline.PlanWindow(query);
    if (planned.ok()) RETURN_IF_ERROR(set->AddPriced(label, *costs, planned->plan));
  }
  std::mt19937 rng(static_cast<uint32_t>(seed));
  size_t drawn = 0;
  for (int attempt = 0; attempt < 5000 && drawn < o.random; ++attempt) {
    std::vector<size_t> options(n, 0);
    bool trains = false;
    for (size_t i = 0; i < n; ++i) {
      options[i] = std::uniform_int_distribution<size_t>(0, report.costs[i].options.size() - 1)(rng);
      trains |= report.costs[i].options[options[i]].trainable;
    }
    if (!trains) continue;
    ASSIGN_OR_RETURN(Plan plan, FitWindowPlan(report, law, request, options));
    if (!plan.feasible || plan.train_seconds > request.train_seconds * (1 + 1e-9)) continue;
    set->Add(absl::StrCat("random ", ++drawn), std::move(plan));
  }
  return absl::OkStatus();
}

// The block terms w_k·f_k^γ of the law's X for a plan: which blocks the law credits.
std::string LawTerms(const LawParams& law, const ProbeReport& report, const Plan& plan) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < plan.blocks.size() && i < report.costs.size(); ++i) {
    const BlockDecision& d = plan.blocks[i];
    if (!d.in_backward_path || !d.form.trains()) continue;
    const double share = report.costs[i].options[d.option_index].share;
    parts.push_back(absl::StrFormat("%s %.3f", d.block, law.BlockGain(i, share)));
  }
  return absl::StrJoin(parts, ", ");
}

void Judge(const LawParams& law, const ProbeReport& report, size_t top, OracleWindow* w) {
  std::vector<double> predicted, measured;
  for (const Candidate& c : w->candidates) {
    predicted.push_back(c.predicted_gain);
    measured.push_back(c.measured_accuracy);
  }
  w->best = static_cast<size_t>(std::max_element(measured.begin(), measured.end()) - measured.begin());
  for (size_t k = 0; k < w->candidates.size(); ++k) {
    const auto& labels = w->candidates[k].labels;
    if (std::find(labels.begin(), labels.end(), "planner #1") != labels.end()) w->law = k;
  }
  const Candidate& chosen = w->candidates[w->chosen];
  const Candidate& best = w->candidates[w->best];
  w->chosen_rank = RankOf(chosen.measured_accuracy, measured);
  w->regret_points = 100 * (best.measured_accuracy - chosen.measured_accuracy);
  w->spearman = SpearmanCorrelation(predicted, measured);
  w->law_error_points = 100 * (chosen.predicted_gain - chosen.measured_gain);
  if (w->regret_points <= 0.5) {
    w->diagnosis = absl::StrFormat("the chosen plan is the best candidate or within 0.5 points of it (law error on it "
                                   "%+.1f points)", w->law_error_points);
    return;
  }
  const size_t winner_predicted_rank = RankOf(best.predicted_gain, predicted);
  const bool in_top = std::any_of(best.labels.begin(), best.labels.end(),
                                  [](const std::string& l) { return l.rfind("planner #", 0) == 0; });
  w->diagnosis = absl::StrFormat(
      "the law mispredicted: the winner (%s, %s) was predicted %+.1f and reached %+.1f points (law rank %zu of %zu%s); "
      "the chosen plan was predicted %+.1f and reached %+.1f. Law terms, chosen: %s; winner: %s",
      absl::StrJoin(best.labels, " = "), PlanText(best.plan), 100 * best.predicted_gain, 100 * best.measured_gain,
      winner_predicted_rank, w->candidates.size(), in_top ? ", inside the planner's top" :
                                                          absl::StrCat(", outside the planner's top ", top).c_str(),
      100 * chosen.predicted_gain, 100 * chosen.measured_gain, LawTerms(law, report, chosen.plan),
      LawTerms(law, report, best.plan));
}

json ToJson(const OracleWindow& w) {
  json j;
  j["domain"] = w.domain;
  j["label_free"] = w.label_free;
  j["accuracy_before"] = w.before;
  j["blocktrainer"] = {{"plan", w.blocktrainer_plan}, {"accuracy_after", w.blocktrainer_after},
                       {"iterations", w.blocktrainer_iterations},
                       {"predicted_train_seconds", w.blocktrainer_predicted_seconds},
                       {"train_seconds", w.blocktrainer_train_seconds}};
  if (!w.note.empty()) j["note"] = w.note;
  if (w.candidates.empty()) return j;
  j["chosen_rank"] = w.chosen_rank;
  j["regret_points"] = w.regret_points;
  j["spearman"] = w.spearman;
  j["law_error_points"] = w.law_error_points;
  j["diagnosis"] = w.diagnosis;
  j["chosen"] = w.chosen;
  j["law_plan"] = w.law;
  j["law_plan_gain_points"] = 100 * w.candidates[w.law].measured_gain;
  j["best"] = w.best;
  json cs = json::array();
  for (const Candidate& c : w.candidates) {
    cs.push_back({{"labels", c.labels}, {"plan", PlanText(c.plan)}, {"iterations", c.plan.iterations},
                  {"predicted_accuracy", c.plan.predicted_accuracy}, {"predicted_gain", c.predicted_gain},
                  {"predicted_memory_bytes", c.plan.memory_bytes}, {"predicted_train_seconds", c.plan.train_seconds},
                  {"measured_accuracy", c.measured_accuracy}, {"measured_gain", c.measured_gain},
                  {"deployed", c.deployed}, {"iterations_run", c.iterations_run}, {"train_seconds", c.train_seconds}});
  }
  j["candidates"] = cs;
  return j;
}

absl::Status WriteOracle(const ScoreboardOptions& o, const OracleOptions& oo, const BenchSetup& setup,
                         const std::vector<OracleWindow>& windows, double seconds) {
  double regret = 0, spearman = 0, law_error = 0, chosen_gain = 0, law_gain = 0, best_gain = 0, bt_gain = 0;
  size_t judged = 0;
  std::string md = absl::StrFormat(
      "# Oracle: %s at %s (%s), window %s, seed %d, probe runs %s\n\n"
      "Per window, candidates retrained from blocktrainer's starting model for their planned iterations (deadline not "
      "enforced) and measured on the domain's held-out set. Gains in points over the starting model.\n\n"
      "Chosen = what blocktrainer trained (the race's winner); law's plan = the law's own top plan.\n\n"
      "| window | before | blocktrainer (deadline) | chosen plan | chosen gain | law's plan gain | best candidate | "
      "best gain | rank | regret | Spearman | law error on chosen |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      setup.scenario.name, o.memory_budget, FormatBytes(setup.budget.memory_budget), o.window, o.seed,
      o.probe_runs > 0 ? absl::StrCat(o.probe_runs) : "as fit in 10% of the window");
  for (size_t i = 0; i < windows.size(); ++i) {
    const OracleWindow& w = windows[i];
    if (w.candidates.empty()) {
      absl::StrAppendFormat(&md, "| %zu:%s | %.1f | %.1f (%s) | %s | | | | | | | | |\n", i + 1, w.domain, 100 * w.before,
                            100 * w.blocktrainer_after, w.blocktrainer_plan, w.note);
      continue;
    }
    const Candidate& c = w.candidates[w.chosen];
    const Candidate& b = w.candidates[w.best];
    absl::StrAppendFormat(&md, "| %zu:%s | %.1f | %.1f (%+.1f) | %s x%d | %+.1f | %+.1f | %s x%d (%s) | %+.1f | %zu/%zu | %.1f | %.2f | %+.1f |\n",
                          i + 1, w.domain, 100 * w.before, 100 * w.blocktrainer_after,
                          100 * (w.blocktrainer_after - w.before), PlanText(c.plan), c.plan.iterations,
                          100 * c.measured_gain, 100 * w.candidates[w.law].measured_gain, PlanText(b.plan), b.plan.iterations, absl::StrJoin(b.labels, ", "),
                          100 * b.measured_gain, w.chosen_rank, w.candidates.size(), w.regret_points, w.spearman,
                          w.law_error_points);
    regret += w.regret_points;
    spearman += w.spearman;
    law_error += std::abs(w.law_error_points);
    chosen_gain += c.measured_gain;
    law_gain += w.candidates[w.law].measured_gain;
    best_gain += b.measured_gain;
    bt_gain += w.blocktrainer_after - w.before;
    ++judged;
  }
  json summary;
  if (judged > 0) {
    const double n = static_cast<double>(judged);
    summary = {{"windows_judged", judged},
               {"mean_regret_points", regret / n},
               {"mean_spearman", spearman / n},
               {"mean_abs_law_error_points", law_error / n},
               {"mean_chosen_gain_points", 100 * chosen_gain / n},
               {"mean_law_plan_gain_points", 100 * law_gain / n},
               {"mean_best_gain_points", 100 * best_gain / n},
               {"mean_blocktrainer_gain_points", 100 * bt_gain / n},
               {"chosen_over_best", best_gain > 0 ? chosen_gain / best_gain : 0.0}};
    absl::StrAppendFormat(&md,
                          "\n**Means over %zu windows:** regret %.2f points, Spearman %.2f, |law error| on the chosen "
                          "plan %.1f points; chosen plan %+.2f points (the law's own plan %+.2f) vs the best "
                          "candidate's %+.2f (%.0f%%); blocktrainer's own deadline-bound windows %+.2f.\n",
                          judged, regret / n, spearman / n, law_error / n, 100 * chosen_gain / n, 100 * law_gain / n,
                          100 * best_gain / n, best_gain > 0 ? 100 * chosen_gain / best_gain : 0.0, 100 * bt_gain / n);
  }
  md += "\n## Diagnoses\n\n";
  for (size_t i = 0; i < windows.size(); ++i) {
    if (!windows[i].diagnosis.empty()) absl::StrAppendFormat(&md, "- %zu:%s — %s\n", i + 1, windows[i].domain, windows[i].diagnosis);
  }
  absl::StrAppendFormat(&md, "\nCandidates per window: the planner's top %zu, every feasible last-k, every block alone "
                             "in each of its forms, fixed-compressed(-lora), %zu random feasible plans (deduplicated). "
                             "Run time %s.\n", oo.top, oo.random,
                        FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(1000 * seconds))));
  std::printf("%s", md.c_str());
  if (o.out_dir.empty()) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(o.out_dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", o.out_dir, ": ", error.message()));
  json out;
  out["scenario"] = setup.scenario.name;
  out["model"] = o.model_path;
  out["memory_budget"] = o.memory_budget;
  out["memory_budget_bytes"] = setup.budget.memory_budget;
  out["window"] = o.window;
  out["seed"] = o.seed;
  out["probe_runs"] = o.probe_runs;
  out["top"] = oo.top;
  out["random"] = oo.random;
  out["run_seconds"] = seconds;
  out["summary"] = summary;
  json ws = json::array();
  for (const OracleWindow& w : windows) ws.push_back(ToJson(w));
  out["windows"] = ws;
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/results.json", out.dump(2) + "\n"));
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/results.md", md));
  // Scatter: predicted vs measured gain, one colour per window, the chosen plans as large marks.
  std::string data, chosen_data;
  for (size_t i = 0; i < windows.size(); ++i) {
    for (size_t k = 0; k < windows[i].candidates.size(); ++k) {
      const Candidate& c = windows[i].candidates[k];
      absl::StrAppendFormat(k == windows[i].chosen ? &chosen_data : &data, "%zu %.3f %.3f\n", i + 1,
                            100 * c.predicted_gain, 100 * c.measured_gain);
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/oracle.dat", data));
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/oracle-chosen.dat", chosen_data.empty() ? "0 0 0\n" : chosen_data));
  const std::string plot = absl::StrFormat(
      "set title 'Oracle, %s at %s: predicted vs measured gain per candidate (large marks: the chosen plans)'\n"
      "set xlabel 'law-predicted gain (points)'\nset ylabel 'measured gain on held-out set (points)'\nset grid\n"
      "set key outside right\nset palette maxcolors %zu\n"
      "plot x title 'predicted = measured' with lines dashtype 2 lc rgb 'gray', "
      "'%s/oracle.dat' using 2:3:1 with points pt 7 ps 0.8 palette title 'candidates (colour: window)', "
      "'%s/oracle-chosen.dat' using 2:3:1 with points pt 9 ps 2.5 palette title 'chosen'\n",
      setup.scenario.name, o.memory_budget, std::max<size_t>(2, windows.size()), o.out_dir, o.out_dir);
  RETURN_IF_ERROR(RenderPng(o.out_dir, "oracle", plot));
  spdlog::info("wrote {}/results.json, results.md, oracle.png", o.out_dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunOracle(const ScoreboardOptions& o, const OracleOptions& oo, const CancelToken* cancel) {
  const auto started = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(BenchSetup setup, LoadBench(o));
  ASSIGN_OR_RETURN(std::unique_ptr<BlockModel> model, CopyModel(*setup.foundation));
  LocalPlanner planner(setup.grid);
  std::vector<OracleWindow> windows;
  for (size_t w = 0; w < setup.windows; ++w) {
    if (cancel && cancel->cancelled()) return absl::CancelledError("bt-bench --oracle interrupted; nothing written");
    const DomainWindow& dw = setup.data.windows[w];
    const ImageDataset& eval = setup.data.eval[dw.domain_index];
    const WindowSamples samples = BenchWindowSamples(setup, w);
    OracleWindow ow;
    ow.domain = dw.domain;
    ow.label_free = samples.labeled.size() < kMinLabeledSamples;
    ASSIGN_OR_RETURN(EvalResult before, Evaluate(model.get(), eval));
    ow.before = ow.blocktrainer_after = before.accuracy();
    spdlog::info("oracle window {}/{}: {} ({} samples, {} labeled): blocktrainer's window", w + 1, setup.windows,
                 dw.domain, samples.all.size(), samples.labeled.size());

    // Blocktrainer's own window, exactly as the scoreboard runs it.
    WindowInput input;
    input.id = absl::StrCat("oracle-", w + 1);
    ASSIGN_OR_RETURN(input.model, CopyModel(*model));
    input.samples = &samples;
    input.source = setup.source_or_null();
    input.budget = setup.budget;
    input.seed = o.seed + w;
    ASSIGN_OR_RETURN(WindowOutcome outcome, RunWindow(std::move(input), planner, cancel));
    const Plan chosen = outcome.planned.plan;
    ow.blocktrainer_plan = outcome.plan_text;
    ow.blocktrainer_iterations = outcome.iterations;
    ow.blocktrainer_predicted_seconds = chosen.train_seconds;
    ow.blocktrainer_train_seconds = outcome.train_seconds;
    std::unique_ptr<BlockModel> next;
    if (outcome.deployed) {
      ASSIGN_OR_RETURN(EvalResult after, Evaluate(outcome.model.get(), eval));
      ow.blocktrainer_after = after.accuracy();
      next = std::move(outcome.model);
    }
    if (!chosen.feasible || chosen.first_trainable < 0 || planner.law() == nullptr) {
      ow.note = outcome.outcome;
      windows.push_back(std::move(ow));
      if (next) model = std::move(next);
      continue;
    }

    // The candidates, priced by the law the planner fitted in this window.
    const LawParams law = *planner.law();
    WindowPlanRequest request;
    request.memory_budget = setup.budget.memory_budget;
    request.train_seconds = chosen.window_seconds;
    request.iteration_grid = setup.grid;
    WindowProbeOptions lora_probe;
    lora_probe.window = setup.budget.window;
    lora_probe.batch = setup.budget.batch;
    lora_probe.min_labeled = std::numeric_limits<int64_t>::max();  // costs only
    lora_probe.costs.lora_sparsities = lora_probe.costs.sparsities;
    ASSIGN_OR_RETURN(ProbeReport lora_costs,
                     ProbeWindow(*model, ImageDataset{}, samples.all.images, nullptr, lora_probe));
    lora_costs.acc0 = outcome.report.acc0;
    CandidateSet set(outcome.report, law, request);
    RETURN_IF_ERROR(AddCandidates(outcome.report, lora_costs, law, request, chosen, oo, o.seed + w, &set));
    ow.candidates = std::move(set.candidates());
    ow.chosen = 0;  // "chosen" is added first

    ProgressReporter progress(absl::StrCat("oracle window ", w + 1, "/", setup.windows), 
                              static_cast<int64_t>(ow.candidates.size()), "plans", std::chrono::milliseconds(0));
    for (size_t k = 0; k < ow.candidates.size(); ++k) {
      if (cancel && cancel->cancelled()) return absl::CancelledError("bt-bench --oracle interrupted; nothing written");
      Candidate& c = ow.candidates[k];
      ASSIGN_OR_RETURN(std::unique_ptr<BlockModel> copy, CopyModel(*model));
      PlanTraining training;
      training.memory_budget = setup.budget.memory_budget;
      training.time_budget = std::chrono::hours(1);  // the plan's iterations, not the clock, end the run
      training.batch = setup.budget.batch;
      training.seed = o.seed + w;
      training.label_free = ow.label_free;
      auto trained = TrainPlan(*copy, c.plan, samples, training, cancel);
      if (!trained.ok()) {
        spdlog::warn("oracle: {} ({}): {}", absl::StrJoin(c.labels, ", "), PlanText(c.plan), std::string(trained.status().message()));
        c.measured_accuracy = ow.before;
      } else {
        c.deployed = trained->result.deployed;
        c.iterations_run = trained->result.iterations;
        c.train_seconds = trained->result.train_seconds;
        ASSIGN_OR_RETURN(EvalResult after, Evaluate(copy.get(), eval));
        c.measured_accuracy = after.accuracy();  // the starting model when keep-best kept it
      }
      c.measured_gain = c.measured_accuracy - ow.before;
      progress.Update(static_cast<int64_t>(k + 1),
                      absl::StrFormat("%s: %s x%d predicted %+.1f, measured %+.1f points", absl::StrJoin(c.labels, ", "),
                                      PlanText(c.plan), c.plan.iterations, 100 * c.predicted_gain, 100 * c.measured_gain));
    }
    Judge(law, outcome.report, oo.top, &ow);
    spdlog::info("oracle window {}: chosen rank {}/{}, regret {:.1f} points, Spearman {:.2f}; {}", w + 1,
                 ow.chosen_rank, ow.candidates.size(), ow.regret_points, ow.spearman, ow.diagnosis);
    windows.push_back(std::move(ow));
    if (next) model = std::move(next);  // the trajectory is blocktrainer's
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return WriteOracle(o, oo, setup, windows, seconds);
}

}  // namespace bt
