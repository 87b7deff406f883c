#include "bench/scoreboard.h"
#include "bench/setup.h"
#include "bench/baselines.h"
#include "bench/report.h"
#include "bench/via_daemons.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/model/block_model.h"
#include "common/data/dataset.h"
#include "common/base/file_util.h"
#include "common/model/memory_meter.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "common/train/trainer.h"
#include "common/base/units.h"
#include "common/plan/window_plan.h"
#include "common/train/feature_stats.h"
#include "edge/intake/scenario_feeder.h"
#include "edge/window/window_probe.h"
#include "edge/window/plan_source.h"
#include "edge/window/start_choice.h"
#include "edge/window/version_zoo.h"
#include "edge/window/window_runner.h"
#include "nlohmann/json.hpp"

namespace bt {

const std::vector<std::string>& KnownMethods() {
  // blocktrainer-law: the law's plan without the race; blocktrainer-head: every window from the deployed model, no
  // version zoo (what each adds, measured in the same run).
  static const std::vector<std::string> methods = {"none",         "blocktrainer",     "blocktrainer-law",
                                                   "blocktrainer-head", "fixed-compressed", "fixed-compressed-lora",
                                                   "last-k",       "random",           "full"};
  return methods;
}

namespace {

struct MethodState {
  std::string name;
  std::unique_ptr<BlockModel> model;
  std::unique_ptr<PlanSource> source;  // null for "none"; blocktrainer: the planner in-process (its law carries over)
  std::vector<WindowRecord> windows;
  // The version zoo (blocktrainer): every version its windows deployed, by the scoreboard's own numbering
  // (0 = the foundation), with the model of each.
  bool zoo = false;
  uint64_t version = 0, next_version = 1;
  std::vector<ZooVersion> zoo_versions;
  std::map<uint64_t, std::unique_ptr<BlockModel>> zoo_models;
};

}  // namespace

absl::Status RunScoreboard(const ScoreboardOptions& o, const CancelToken* cancel, std::vector<MethodResult>* out) {
  for (const std::string& m : o.methods) {
    if (std::find(KnownMethods().begin(), KnownMethods().end(), m) == KnownMethods().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--methods: unknown method '", m, "' (known: ", absl::StrJoin(KnownMethods(), ", "), ")"));
    }
  }
  if (o.methods.empty()) return absl::InvalidArgumentError("--methods: no method given");
  if (o.via_daemons && std::find(o.methods.begin(), o.methods.end(), "blocktrainer") == o.methods.end()) {
    return absl::InvalidArgumentError("--via-daemons compares with the in-process run: add blocktrainer to --methods");
  }
  ASSIGN_OR_RETURN(BenchSetup setup, LoadBench(o));
  const ScenarioData& data = setup.data;
  const size_t windows = setup.windows;
  const WindowBudget& budget = setup.budget;
  const uint64_t budget_bytes = budget.memory_budget;
  const SourceStats* source = setup.source_or_null();
  const std::vector<int64_t>& grid = setup.grid;
  uint64_t blocktrainer_memory = 0;  // its plan's predicted peak in the current window: what `random` matches
  std::vector<MethodState> methods;
  for (const std::string& name : o.methods) {
    MethodState m;
    m.name = name;
    ASSIGN_OR_RETURN(m.model, LoadModel(o.model_path));
    if (name == "blocktrainer" || name == "blocktrainer-law" || name == "blocktrainer-head") {
      m.source = std::make_unique<LocalPlanner>(grid, /*race=*/name != "blocktrainer-law");
      m.zoo = name == "blocktrainer";
      if (m.zoo) {
        m.zoo_versions.push_back(ZooVersion{0, 0, "foundation", true, {}, {}});
        ASSIGN_OR_RETURN(m.zoo_models[0], CopyModel(*m.model));
      }
    } else if (name != "none") {
      ASSIGN_OR_RETURN(BaselinePlanSource::Kind kind, BaselineKind(name));
      m.source = std::make_unique<BaselinePlanSource>(kind, grid, o.seed, &blocktrainer_memory);
    }
    methods.push_back(std::move(m));
  }
  // blocktrainer runs first in each window: `random` matches the cost of its plan.
  std::stable_sort(methods.begin(), methods.end(),
                   [](const MethodState& a, const MethodState& b) { return a.name == "blocktrainer" && b.name != "blocktrainer"; });

  for (size_t w = 0; w < windows && !(cancel && cancel->cancelled()); ++w) {
    const DomainWindow& dw = data.windows[w];
    const ImageDataset& eval = data.eval[dw.domain_index];
    // Exactly what an edge's buffer gives back (8-bit images; bt-bench --via-daemons feeds the same stream).
    const WindowSamples samples = BenchWindowSamples(setup, w);
    const bool label_free = samples.labeled.size() < kMinLabeledSamples;
    blocktrainer_memory = 0;
    spdlog::info("window {}/{}: {} ({} samples, {} labeled{})", w + 1, windows, dw.domain, samples.all.size(),
                 samples.labeled.size(), label_free ? ", label-free mode" : "");
    for (MethodState& m : methods) {
      if (cancel && cancel->cancelled()) break;
      WindowRecord r;
      r.domain = dw.domain;
      r.label_free = label_free;
      const auto window_start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(EvalResult before, Evaluate(m.model.get(), eval));
      r.accuracy_before = r.accuracy_after = r.predicted_accuracy = before.accuracy();
      if (m.source == nullptr) {  // none
        m.windows.push_back(r);
        continue;
      }
      // The daemon's window, with this method's plan source.
      WindowInput input;
      input.id = absl::StrCat(m.name, "-", w + 1);
      const std::string input_id = input.id;
      ASSIGN_OR_RETURN(input.model, CopyModel(*m.model));
      input.samples = &samples;
      input.source = source;
      input.budget = budget;
      if (m.name == "full") input.budget.memory_budget = ~uint64_t{0} >> 1;  // full: no budget (a reference)
      input.seed = o.seed + w;
      input.opened = window_start;
      std::vector<double> signature;
      if (m.zoo) {
        signature = DriftSignature(samples.all.images);
        input.base_version = m.version;
        input.starts = StartCandidates(m.zoo_versions, m.version, signature,
                                       [&m](const ZooVersion& v) { return CopyModel(*m.zoo_models.at(v.version)); });
      }
      WindowHooks hooks;
      if (o.curves) {
        hooks.on_evaluation = [&](int64_t iteration, const HeldOutScore& slice, ComposedModel& model) {
          WindowRecord::Evaluation e;
          e.iteration = iteration;
          e.slice_accuracy = slice.accuracy;
          e.slice_loss = slice.loss;
          for (uint8_t h : slice.hits) e.slice_hits.push_back(h ? '1' : '0');
          // 8 images at a time: no more working memory than the window's own evaluations (its chunk is ≥ 8).
          e.set_accuracy = HeldOutScores(model, eval, 8).accuracy;
          r.curve.push_back(std::move(e));
        };
      }
      auto outcome = RunWindow(std::move(input), *m.source, cancel, hooks);
      if (!outcome.ok()) {
        r.note = std::string(outcome.status().message());
        spdlog::warn("{}: window {}: {}", m.name, w + 1, r.note);
        m.windows.push_back(r);
        continue;
      }
      const Plan& plan = outcome->planned.plan;
      if (m.name == "blocktrainer") blocktrainer_memory = plan.memory_bytes;
      r.probe_seconds = outcome->probe_seconds;
      r.plan = outcome->plan_text;
      r.race = outcome->race_text;
      r.start = outcome->start_text;
      if (outcome->start_version != m.version) {
        auto start = m.zoo_models.find(outcome->start_version);
        if (start != m.zoo_models.end()) {
          ASSIGN_OR_RETURN(EvalResult start_eval, Evaluate(start->second.get(), eval));
          r.start_accuracy = start_eval.accuracy();
        }
        r.plan = r.start_accuracy >= 0 ? absl::StrFormat("from v%d (%.1f%%): %s", outcome->start_version,
                                                         100 * r.start_accuracy, r.plan)
                                       : absl::StrCat("from v", outcome->start_version, ": ", r.plan);
      }
      if (!r.start.empty()) spdlog::info("{:>13}: {}", m.name, r.start);
      r.predicted_memory_bytes = plan.memory_bytes;
      r.predicted_train_seconds = plan.train_seconds;
      r.predicted_accuracy = plan.predicted_accuracy;  // on the probe slice's scale (acc0 from probes)
      if (!outcome->retrained) {
        r.note = outcome->outcome;
        if (outcome->deployed) {  // nothing trained, but a better start than the deployed model
          m.model = std::move(outcome->model);
          m.version = outcome->start_version;
          ASSIGN_OR_RETURN(EvalResult after, Evaluate(m.model.get(), eval));
          r.accuracy_after = after.accuracy();
        }
        m.windows.push_back(r);
        continue;
      }
      r.iterations = outcome->iterations;
      if (outcome->iterations > plan.iterations) {  // it went on past the plan: time per iteration is compared
        r.planned_iterations = plan.iterations;
        const int64_t from = outcome->continued_iterations;
        if (plan.iterations > from) {
          r.predicted_train_seconds *= static_cast<double>(outcome->iterations - from) /
                                       static_cast<double>(plan.iterations - from);
        }
      }
      r.slice_accuracy_after = outcome->accuracy_after;
      r.slice_outputs = outcome->slice_outputs;
      r.train_seconds = outcome->train_seconds;
      r.peak_memory_bytes = outcome->peak_bytes;
      r.note = outcome->stop_reason;
      if (outcome->deployed) {
        r.bytes_up = outcome->trained_bytes;
        m.model = std::move(outcome->model);
        if (m.zoo && outcome->trained.empty()) {
          m.version = outcome->start_version;  // the start, deployed as it is
        } else if (m.zoo) {
          const uint64_t version = m.next_version++;
          m.zoo_versions.push_back(ZooVersion{version, outcome->start_version, input_id, true, signature, {}});
          ASSIGN_OR_RETURN(m.zoo_models[version], CopyModel(*m.model));
          m.version = version;
        }
      } else {
        r.note += ", deployed model kept";
      }
      ASSIGN_OR_RETURN(EvalResult after, Evaluate(m.model.get(), eval));
      r.accuracy_after = after.accuracy();
      r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
      spdlog::info("{:>13}: {:.1f}% -> {:.1f}% (predicted {:.1f}%), {}, {} it, peak {} (pred. {})", m.name,
                   100 * r.accuracy_before, 100 * r.accuracy_after, 100 * r.predicted_accuracy, r.plan, r.iterations,
                   FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes)), FormatBytes(r.predicted_memory_bytes));
      m.windows.push_back(r);
    }
  }
  if (cancel && cancel->cancelled()) return absl::CancelledError("bt-bench interrupted; nothing written");

  // Results, in the order the methods were given.
  std::vector<MethodState> ordered;
  for (const std::string& name : o.methods) {
    for (MethodState& m : methods) {
      if (m.name == name && m.model) ordered.push_back(std::move(m));
    }
  }

  // The same scenario, seed, budget and window through bt-cloud and bt-edge.
  if (o.via_daemons) {
    DaemonRunOptions d;
    d.scenario_path = o.scenario_path;
    d.model_path = o.model_path;
    d.dataset_dir = o.dataset_dir;
    d.work_dir = (o.out_dir.empty() ? std::string("var/bench") : o.out_dir) + "/daemons";
    d.memory_budget = budget_bytes;
    d.window = budget.window;
    d.seed = o.seed;
    d.probe_runs = o.probe_runs;
    d.race_iterations = o.race_iterations;
    d.windows = windows;
    d.samples = 0;
    for (const DomainWindow& dw : data.windows) d.samples = std::max(d.samples, dw.stream.size());
    auto evaluate = [&](size_t w, BlockModel& model) -> absl::StatusOr<double> {
      ASSIGN_OR_RETURN(EvalResult result, Evaluate(&model, data.eval[data.windows[w].domain_index]));
      return result.accuracy();
    };
    ASSIGN_OR_RETURN(std::vector<DaemonWindowResult> daemon_windows, RunThroughDaemons(d, evaluate, cancel));
    MethodState daemons;
    daemons.name = "blocktrainer-daemons";
    for (const DaemonWindowResult& dw : daemon_windows) {
      WindowRecord r;
      r.domain = dw.domain;
      r.accuracy_before = dw.accuracy_before;
      r.accuracy_after = dw.accuracy_after;
      r.predicted_accuracy = dw.predicted_accuracy;
      r.peak_memory_bytes = dw.peak_memory_bytes;
      r.predicted_memory_bytes = dw.predicted_memory_bytes;
      r.train_seconds = dw.train_seconds;
      r.iterations = dw.iterations;
      r.bytes_down = dw.bytes_down;
      r.bytes_up = dw.bytes_up;
      r.plan = dw.plan;
      r.note = dw.outcome;
      r.wall_seconds = dw.window_seconds;
      r.slice_accuracy_after = dw.edge_accuracy_after;
      r.version = dw.version;
      daemons.windows.push_back(r);
    }
    ordered.push_back(std::move(daemons));
  }
  ReportInfo info;
  info.scenario = setup.scenario.name;
  info.model_path = o.model_path;
  info.budget_bytes = budget_bytes;
  info.budget_text = o.memory_budget;
  info.window = budget.window;
  info.seed = o.seed;
  info.labeled_fraction = o.labeled_fraction;
  info.probe_runs = o.probe_runs;
  info.race_iterations = o.race_iterations;
  info.via_daemons = o.via_daemons;
  std::vector<MethodResult> results;
  for (MethodState& m : ordered) results.push_back({m.name, std::move(m.windows)});
  RETURN_IF_ERROR(WriteReport(info, results, o.out_dir));
  if (out != nullptr) *out = std::move(results);
  return absl::OkStatus();
}

absl::Status RunSweep(const ScoreboardOptions& o, const std::vector<std::string>& budgets, const CancelToken* cancel) {
  if (budgets.size() < 2) return absl::InvalidArgumentError("--memory-budget: a sweep needs at least two budgets");
  if (std::find(o.methods.begin(), o.methods.end(), "none") == o.methods.end()) {
    return absl::InvalidArgumentError("a budget sweep reports gains over 'none': add none to --methods");
  }
  // gains[method][budget index], in points
  std::vector<std::string> names;
  std::vector<std::vector<double>> gains;
  for (size_t b = 0; b < budgets.size(); ++b) {
    ScoreboardOptions one = o;
    one.memory_budget = budgets[b];
    std::string dir_name = budgets[b];
    dir_name.erase(std::remove(dir_name.begin(), dir_name.end(), '%'), dir_name.end());
    if (!o.out_dir.empty()) one.out_dir = absl::StrCat(o.out_dir, "/", dir_name);
    spdlog::info("sweep: budget {} ({}/{})", budgets[b], b + 1, budgets.size());
    std::vector<MethodResult> results;
    RETURN_IF_ERROR(RunScoreboard(one, cancel, &results));
    double none = 0;
    for (const MethodResult& m : results) {
      if (m.name == "none") none = MeanAccuracyAfter(m);
    }
    for (const MethodResult& m : results) {
      auto it = std::find(names.begin(), names.end(), m.name);
      if (it == names.end()) {
        names.push_back(m.name);
        gains.emplace_back(budgets.size(), 0.0);
        it = names.end() - 1;
      }
      gains[static_cast<size_t>(it - names.begin())][b] = 100 * (MeanAccuracyAfter(m) - none);
    }
  }
  std::string md = absl::StrCat("# Budget sweep: ", o.scenario_path, "\n\nMean gain over none (points) per memory budget "
                                "(a share of full fine-tuning's predicted peak); each budget's windows in its own "
                                "folder.\n\n| method |");
  for (const std::string& b : budgets) absl::StrAppend(&md, " ", b, " |");
  md += "\n|---|";
  for (size_t b = 0; b < budgets.size(); ++b) md += "---|";
  md += "\n";
  nlohmann::ordered_json json;
  json["scenario"] = o.scenario_path;
  json["budgets"] = budgets;
  std::string data = "budget";
  for (const std::string& n : names) {
    if (n != "none") absl::StrAppend(&data, " \"", n, "\"");
  }
  data += "\n";
  for (size_t b = 0; b < budgets.size(); ++b) {
    absl::StrAppend(&data, std::strtod(budgets[b].c_str(), nullptr));
    for (size_t m = 0; m < names.size(); ++m) {
      if (names[m] != "none") absl::StrAppendFormat(&data, " %.3f", gains[m][b]);
    }
    data += "\n";
  }
  for (size_t m = 0; m < names.size(); ++m) {
    if (names[m] == "none") continue;
    absl::StrAppend(&md, "| ", names[m], " |");
    for (double g : gains[m]) absl::StrAppendFormat(&md, " %+.2f |", g);
    md += "\n";
    json["gain_points"][names[m]] = gains[m];
  }
  std::printf("%s", md.c_str());
  if (o.out_dir.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/sweep.md", md));
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/sweep.json", json.dump(2) + "\n"));
  RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/sweep.dat", data));
  const int columns = static_cast<int>(names.size()) - 1;
  RETURN_IF_ERROR(RenderPng(o.out_dir, "sweep",
                            absl::StrFormat("set title 'Gain over none vs memory budget: %s'\nset xlabel 'memory budget "
                                            "(%% of full fine-tuning)'\nset ylabel 'mean gain (points)'\nset grid\n"
                                            "set key outside right\nplot for [i=2:%d] '%s/sweep.dat' using 1:i with "
                                            "linespoints lw 2 title columnheader(i)\n",
                                            o.scenario_path, columns + 1, o.out_dir)));
  spdlog::info("wrote {}/sweep.md, sweep.json, sweep.png", o.out_dir);
  return absl::OkStatus();
}

}  // namespace bt
