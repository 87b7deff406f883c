#include "bench/scoreboard.h"
#include "bench/via_daemons.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/block_model.h"
#include "common/dataset.h"
#include "common/file_util.h"
#include "common/memory_meter.h"
#include "common/scenario.h"
#include "common/scenario_data.h"
#include "common/trainer.h"
#include "common/units.h"
#include "common/window_plan.h"
#include "common/feature_stats.h"
#include "edge/scenario_feeder.h"
#include "edge/window_probe.h"
#include "edge/window_runner.h"
#include "nlohmann/json.hpp"

namespace bt {

const std::vector<std::string>& KnownMethods() {
  static const std::vector<std::string> methods = {"none",   "blocktrainer", "fixed-compressed", "fixed-compressed-lora",
                                                   "last-k", "random",       "full"};
  return methods;
}

namespace {

struct WindowRecord {
  std::string domain;
  double accuracy_before = 0, accuracy_after = 0, predicted_accuracy = 0;
  int64_t peak_memory_bytes = 0;
  uint64_t predicted_memory_bytes = 0;
  double train_seconds = 0, predicted_train_seconds = 0, probe_seconds = 0;
  int64_t iterations = 0;
  uint64_t bytes_down = 0, bytes_up = 0;
  std::string plan = "-";
  std::string note;
  bool label_free = false;
  double wall_seconds = 0;  // the whole window: probes, planning, (pulls,) training, evaluation
  // Through the daemons only.
  double edge_accuracy_after = -1;  // the edge's own held-out slice
  uint64_t version = 0;             // the cloud's version after the window
};

struct MethodState {
  std::string name;
  std::unique_ptr<BlockModel> model;
  bool has_law = false;
  LawParams law;  // blocktrainer: the edge's previous fit (the cloud keeps it per edge)
  std::vector<WindowRecord> windows;
};

std::string PlanText(const Plan& plan) {
  std::vector<std::string> parts;
  for (const BlockDecision& d : plan.blocks) {
    if (d.option != "frozen") parts.push_back(absl::StrCat(d.block, ":", d.option));
  }
  std::string text = parts.empty() ? "all frozen" : absl::StrJoin(parts, " ");
  if (plan.micro_batch > 0) absl::StrAppend(&text, " (chunks of ", plan.micro_batch, ")");
  return text;
}

size_t OptionIndex(const BlockProfile& block, const std::string& name) {
  for (size_t i = 0; i < block.options.size(); ++i) {
    if (block.options[i].name == name) return i;
  }
  return 0;
}

// The largest q on the grid whose predicted time fits the window (at least the smallest grid value).
int64_t IterationsThatFit(const std::vector<int64_t>& grid, double seconds_per_iteration, double train_seconds) {
  int64_t best = grid.front();
  for (int64_t q : grid) {
    if (static_cast<double>(q) * seconds_per_iteration <= train_seconds) best = std::max(best, q);
  }
  return best;
}

// The baselines choose blocks their own way; each returns option indices per block.
std::vector<size_t> AllTrain(const std::vector<BlockProfile>& costs) {
  std::vector<size_t> options;
  for (const BlockProfile& b : costs) options.push_back(OptionIndex(b, "train"));
  return options;
}

// Last k blocks fully trainable, the largest k that fits the budget.
absl::StatusOr<Plan> LastK(const PlanRequest& request, int64_t q) {
  const size_t n = request.blocks.size();
  Plan best;
  for (size_t k = 1; k <= n; ++k) {
    std::vector<size_t> options(n, 0);
    for (size_t i = n - k; i < n; ++i) options[i] = OptionIndex(request.blocks[i], "train");
    ASSIGN_OR_RETURN(Plan plan, EvaluatePlan(request, options, q));
    if (!plan.feasible) break;
    best = plan;
  }
  return best;
}

// Today's practice: every block in one compressed form, all trainable — encoder layers as train@s proxies at the
// smallest sparsity s that fits the budget (the stem and head have no proxy form and train fully). Infeasible when
// even the most compressed model does not fit. With `lora`, the encoder layers' (compressed) weights stay frozen
// and LoRA adapters on them train instead (forms lora@s; the probes must have measured them).
absl::StatusOr<Plan> FixedCompressed(const PlanRequest& request, int64_t q, bool lora) {
  std::vector<std::string> sparsities;
  for (const BlockOption& o : request.blocks[1].options) {
    if (lora ? (o.name == "lora" || o.name.rfind("lora@", 0) == 0) : o.name.rfind("train@", 0) == 0) {
      sparsities.push_back(o.name);
    }
  }
  if (sparsities.empty()) return absl::InternalError("the cost probes measured no compressed forms");
  std::sort(sparsities.begin(), sparsities.end());  // "lora@0.25" < "lora@0.50" < ...: least compressed first
  Plan last;
  for (const std::string& form : sparsities) {
    std::vector<size_t> options;
    for (const BlockProfile& b : request.blocks) {
      const size_t proxy = OptionIndex(b, form);
      options.push_back(proxy != 0 ? proxy : OptionIndex(b, "train"));
    }
    ASSIGN_OR_RETURN(last, EvaluatePlan(request, options, q));
    if (last.feasible) return last;
  }
  last.note = "even the most compressed model does not fit the memory budget";
  return last;
}

// A random plan whose predicted memory is within [0.8, 1] × `target` bytes (the blocktrainer plan's), drawn
// uniformly among such plans by rejection; falls back to the closest one seen.
absl::StatusOr<Plan> RandomOfSameCost(const PlanRequest& request, uint64_t target, int64_t q, std::mt19937& rng) {
  const size_t n = request.blocks.size();
  Plan closest;
  double closest_gap = 1e300;
  for (int attempt = 0; attempt < 20000; ++attempt) {
    std::vector<size_t> options(n);
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      options[i] = std::uniform_int_distribution<size_t>(0, request.blocks[i].options.size() - 1)(rng);
      any |= options[i] != 0;
    }
    if (!any) continue;
    ASSIGN_OR_RETURN(Plan plan, EvaluatePlan(request, options, q));
    if (!plan.feasible) continue;
    const double ratio = static_cast<double>(plan.memory_bytes) / static_cast<double>(std::max<uint64_t>(1, target));
    if (ratio >= 0.8 && ratio <= 1.0) return plan;
    if (std::abs(ratio - 0.9) < closest_gap) {
      closest_gap = std::abs(ratio - 0.9);
      closest = plan;
    }
  }
  return closest;
}

// Renders accuracy per window per method with gnuplot (gnuplot-nox); the data and script stay next to the PNG.
absl::Status Plot(const std::string& dir, const std::vector<MethodState>& methods, const std::string& title) {
  std::string data = "window";
  for (const MethodState& m : methods) absl::StrAppend(&data, " \"", m.name, "\"");
  data += "\n";
  for (size_t w = 0; w < methods.front().windows.size(); ++w) {
    absl::StrAppend(&data, "\"", w + 1, ":", methods.front().windows[w].domain, "\"");
    for (const MethodState& m : methods) absl::StrAppendFormat(&data, " %.2f", 100 * m.windows[w].accuracy_after);
    data += "\n";
  }
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/accuracy.dat", data));
  std::string script = absl::StrFormat(
      "set terminal pngcairo size 1000,520 noenhanced\nset output '%s/accuracy.png.tmp'\n"
      "set title 'Accuracy after each window: %s'\nset ylabel 'held-out accuracy (%%)'\nset yrange [0:100]\n"
      "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
      "set boxwidth 0.9\nset grid ytics\nset key outside right\nset xtics rotate by -20\n"
      "plot for [i=2:%d] '%s/accuracy.dat' using i:xtic(1) title columnheader(i)\n",
      dir, title, static_cast<int>(methods.size()) + 1, dir);
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/accuracy.gp", script));
  const std::string command = absl::StrCat("gnuplot '", dir, "/accuracy.gp' 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot failed or is missing (install gnuplot-nox); ran: ", command));
  }
  std::filesystem::rename(dir + "/accuracy.png.tmp", dir + "/accuracy.png");
  return absl::OkStatus();
}

double MeanAfter(const MethodState& m) {
  double sum = 0;
  for (const WindowRecord& w : m.windows) sum += w.accuracy_after;
  return m.windows.empty() ? 0 : sum / static_cast<double>(m.windows.size());
}

// Per-window comparison of blocktrainer in-process and through the daemons, with the tolerance the two must meet:
// the same plan, and accuracy after each window within kWindowTolerance (the mean within kMeanTolerance). Both see
// the same 8-bit samples and seeds, but need not be identical: probe timings differ from run to run (and with them
// measured costs, curve counts and iteration counts), and the daemon's window is wall-clock bound.
constexpr double kWindowTolerance = 0.03, kMeanTolerance = 0.02;

std::string DaemonComparison(const std::vector<MethodState>& methods) {
  const MethodState* in_process = nullptr;
  const MethodState* daemons = nullptr;
  for (const MethodState& m : methods) {
    if (m.name == "blocktrainer") in_process = &m;
    if (m.name == "blocktrainer-daemons") daemons = &m;
  }
  if (in_process == nullptr || daemons == nullptr) return "";
  std::string md = absl::StrFormat(
      "\n## blocktrainer in-process vs through the daemons\n\nTolerance: the same plan, accuracy after each window "
      "within %.0f points, the mean within %.0f points. Daemons: the cloud's version after the window, exported and "
      "evaluated on the same held-out set; bytes are what went over gRPC; wall: from asking for the window to its "
      "result.\n\n| window | domain | after in-process | after daemons | difference | same plan | iterations | "
      "down | up | train s | wall s in-process / daemons |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
      "| --- |\n",
      100 * kWindowTolerance, 100 * kMeanTolerance);
  bool within = true;
  int same_plans = 0;
  const size_t n = std::min(in_process->windows.size(), daemons->windows.size());
  for (size_t w = 0; w < n; ++w) {
    const WindowRecord& a = in_process->windows[w];
    const WindowRecord& b = daemons->windows[w];
    const double diff = b.accuracy_after - a.accuracy_after;
    const bool same_plan = a.plan == b.plan;
    same_plans += same_plan;
    within &= std::abs(diff) <= kWindowTolerance && same_plan;
    md += absl::StrFormat("| %d | %s | %.1f%% | %.1f%% | %+.1f pt | %s | %d / %d | %s | %s | %.1f / %.1f | %.1f / %.1f |\n",
                          w + 1, b.domain, 100 * a.accuracy_after, 100 * b.accuracy_after, 100 * diff,
                          same_plan ? "yes" : "no: " + b.plan, a.iterations, b.iterations, FormatBytes(b.bytes_down),
                          FormatBytes(b.bytes_up), a.train_seconds, b.train_seconds, a.wall_seconds, b.wall_seconds);
  }
  const double mean_diff = MeanAfter(*daemons) - MeanAfter(*in_process);
  within &= std::abs(mean_diff) <= kMeanTolerance;
  md += absl::StrFormat("\nMean accuracy: in-process %.2f%%, daemons %.2f%% (%+.2f pt); %d of %zu plans the same; %s.\n",
                        100 * MeanAfter(*in_process), 100 * MeanAfter(*daemons), 100 * mean_diff, same_plans, n,
                        within ? "within tolerance" : "NOT within tolerance");
  return md;
}

}  // namespace

absl::Status RunScoreboard(const ScoreboardOptions& o, const CancelToken* cancel) {
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
  auto window = ParseDuration(o.window);
  if (!window.ok()) return Annotate(window.status(), "--window");
  double budget_fraction = 0;
  uint64_t budget_bytes = 0;
  if (!o.memory_budget.empty() && o.memory_budget.back() == '%') {
    char* end = nullptr;
    budget_fraction = std::strtod(o.memory_budget.c_str(), &end) / 100.0;
    if (end != o.memory_budget.c_str() + o.memory_budget.size() - 1 || !(budget_fraction > 0 && budget_fraction <= 10)) {
      return absl::InvalidArgumentError(absl::StrCat("--memory-budget: '", o.memory_budget,
                                                     "' is not a size or a percentage like 35%"));
    }
  } else {
    auto size = ParseSize(o.memory_budget);
    if (!size.ok()) return Annotate(size.status(), "--memory-budget");
    budget_bytes = *size;
  }
  if (o.max_iterations < 25) return absl::InvalidArgumentError("--max-iterations must be at least 25");

  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(o.scenario_path));
  if (o.labeled_fraction >= 0) {
    if (o.labeled_fraction > 1) return absl::InvalidArgumentError("--labeled-fraction must be in [0, 1]");
    for (DomainSpec& d : scenario.domains) d.labeled_fraction = o.labeled_fraction;
  }
  ASSIGN_OR_RETURN(auto foundation, LoadModel(o.model_path));
  ASSIGN_OR_RETURN(VitConfig config, VitConfig::FromMetadata(foundation->ArchitectureMetadata()));
  foundation->SetTrainingMode(false);
  ASSIGN_OR_RETURN(SourceStats source, LoadOrComputeSourceStats(o.model_path, *foundation, o.dataset_dir));
  ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(o.dataset_dir, "test"));
  ASSIGN_OR_RETURN(ScenarioData data, MaterializeScenario(scenario, test));
  const size_t windows = o.max_windows > 0 ? std::min<size_t>(data.windows.size(), static_cast<size_t>(o.max_windows))
                                           : data.windows.size();

  std::vector<MethodState> methods;
  for (const std::string& name : o.methods) {
    MethodState m;
    m.name = name;
    ASSIGN_OR_RETURN(m.model, LoadModel(o.model_path));
    methods.push_back(std::move(m));
  }
  // blocktrainer runs first in each window: `random` matches the cost of its plan.
  std::stable_sort(methods.begin(), methods.end(),
                   [](const MethodState& a, const MethodState& b) { return a.name == "blocktrainer" && b.name != "blocktrainer"; });

  WindowBudget budget;
  budget.window = *window;
  std::vector<int64_t> grid;
  for (int64_t q : {25, 50, 100, 150, 200, 300, 400, 600, 800}) {
    if (q <= o.max_iterations) grid.push_back(q);
  }
  std::mt19937 rng(static_cast<uint32_t>(o.seed));
  MemoryMeter::Install();

  for (size_t w = 0; w < windows && !(cancel && cancel->cancelled()); ++w) {
    const DomainWindow& dw = data.windows[w];
    const ImageDataset& eval = data.eval[dw.domain_index];
    // Exactly what an edge's buffer gives back (8-bit images; bt-bench --via-daemons feeds the same stream).
    const ImageDataset stream = ThroughBuffer(dw.stream, dw.labeled);
    const WindowSamples samples = SplitWindowSamples(stream, stream.labels.ge(0));
    const bool label_free = samples.labeled.size() < 50;
    uint64_t blocktrainer_memory = 0;
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
      if (m.name == "none") {
        m.windows.push_back(r);
        continue;
      }
      // Every method pays the cost probes (it needs them to know what fits); only blocktrainer probes curves.
      WindowProbeOptions probe_options;
      probe_options.window = budget.window;
      probe_options.probe_share = budget.probe_share;
      probe_options.batch = budget.batch;
      probe_options.curves.seed = o.seed + w;
      if (m.name != "blocktrainer") probe_options.min_labeled = std::numeric_limits<int64_t>::max();
      // The same compressed forms as fixed-compressed, with LoRA adapters on them (DESIGN: "the same plus LoRA").
      if (m.name == "fixed-compressed-lora") probe_options.costs.lora_sparsities = probe_options.costs.sparsities;
      const auto probe_start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(ProbeReport report,
                       ProbeWindow(*m.model, config, samples.labeled, samples.all.images, &source, probe_options));
      r.probe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - probe_start).count();
      PlanRequest request;
      request.blocks = report.costs;
      request.fixed_bytes = report.fixed_bytes;
      request.iteration_grid = grid;
      request.window_seconds = TrainSecondsLeft(budget, r.probe_seconds);
      if (budget_bytes == 0) {
        // A percentage of full fine-tuning's predicted peak on the first window's costs.
        request.memory_budget = ~uint64_t{0} >> 1;
        request.law = GenericPrior(report.costs.size(), 0.5);
        ASSIGN_OR_RETURN(Plan full, EvaluatePlan(request, AllTrain(report.costs), grid.front()));
        budget_bytes = static_cast<uint64_t>(budget_fraction * static_cast<double>(full.memory_bytes));
        spdlog::info("memory budget: {} = {} of full fine-tuning's predicted peak {}", FormatBytes(budget_bytes),
                     o.memory_budget, FormatBytes(full.memory_bytes));
      }
      request.memory_budget = m.name == "full" ? ~uint64_t{0} >> 1 : budget_bytes;  // full: no budget (reference)
      request.law = m.has_law ? m.law : GenericPrior(report.costs.size(), report.acc0);
      request.law.acc0 = report.acc0;

      Plan plan;
      if (m.name == "blocktrainer") {
        WindowPlanRequest plan_request;
        plan_request.memory_budget = request.memory_budget;
        plan_request.train_seconds = request.window_seconds;
        plan_request.iteration_grid = grid;
        ASSIGN_OR_RETURN(WindowPlan wp, PlanFromProbes(report, m.has_law ? &m.law : nullptr, plan_request));
        m.law = wp.law;
        m.has_law = true;
        plan = wp.plan;
        blocktrainer_memory = plan.memory_bytes;
      } else {
        // Baselines get the planner's memory knob too: the batch in accumulated chunks. Each takes the largest
        // chunk with which its own choice is best (full: the whole batch; it has no budget).
        auto with_divisor = [&](int64_t divisor) {
          PlanRequest scaled = RequestForMicroBatch(report, divisor);
          scaled.law = request.law;
          // The same 10% headroom for scaled (chunked) costs as the planner keeps.
          scaled.memory_budget = divisor == 1 ? request.memory_budget : request.memory_budget / 10 * 9;
          scaled.window_seconds = request.window_seconds;
          scaled.iteration_grid = grid;
          return scaled;
        };
        const std::vector<int64_t> divisors = m.name == "full" ? std::vector<int64_t>{1}
                                                                : std::vector<int64_t>{1, 2, 4, 8};
        int64_t chosen = 1;
        auto trained_blocks = [](const Plan& p) {
          int n = 0;
          for (const BlockDecision& d : p.blocks) n += d.option != "frozen";
          return n;
        };
        for (int64_t divisor : divisors) {
          if (divisor > budget.batch) continue;
          PlanRequest scaled = with_divisor(divisor);
          Plan candidate;
          if (m.name == "full") {
            ASSIGN_OR_RETURN(candidate, EvaluatePlan(scaled, AllTrain(report.costs), grid.front()));
          } else if (m.name == "fixed-compressed" || m.name == "fixed-compressed-lora") {
            ASSIGN_OR_RETURN(candidate, FixedCompressed(scaled, grid.front(), m.name == "fixed-compressed-lora"));
          } else if (m.name == "last-k") {
            ASSIGN_OR_RETURN(candidate, LastK(scaled, grid.front()));
          } else if (m.name == "random") {
            const uint64_t target = blocktrainer_memory > 0 ? blocktrainer_memory : budget_bytes;
            ASSIGN_OR_RETURN(candidate, RandomOfSameCost(scaled, target, grid.front(), rng));
          }
          // fixed-compressed: the least compressed model that fits; last-k: the most blocks; random: the first fit.
          bool better = plan.blocks.empty() || (candidate.feasible && !plan.feasible);
          if (!better && candidate.feasible && plan.feasible) {
            if (m.name == "last-k") better = trained_blocks(candidate) > trained_blocks(plan);
            if (m.name.rfind("fixed-compressed", 0) == 0) better = candidate.blocks[1].option < plan.blocks[1].option;
          }
          if (better) {
            plan = candidate;
            chosen = divisor;
          }
        }
        std::vector<size_t> options;
        for (const BlockDecision& d : plan.blocks) options.push_back(d.option_index);
        if (!options.empty() && plan.feasible) {
          const std::string note = plan.note;
          PlanRequest scaled = with_divisor(chosen);
          ASSIGN_OR_RETURN(plan, EvaluatePlan(scaled, options,
                                              IterationsThatFit(grid, plan.seconds_per_iteration,
                                                                request.window_seconds)));
          plan.note = note;
        }
        plan.micro_batch = chosen == 1 ? 0 : budget.batch / chosen;
      }
      r.plan = PlanText(plan);
      r.predicted_memory_bytes = plan.memory_bytes;
      r.predicted_train_seconds = plan.train_seconds;
      r.predicted_accuracy = plan.predicted_accuracy;  // on the probe slice's scale (acc0 from probes)
      if (!plan.feasible || plan.first_trainable < 0) {
        r.note = plan.note.empty() ? "nothing trainable fits the budget" : plan.note;
        m.windows.push_back(r);
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<BlockChoice> choices, ChoicesFromPlan(plan));
      RetrainOptions retrain;
      retrain.memory_budget = request.memory_budget;
      retrain.predicted_peak_bytes = plan.memory_bytes;
      retrain.time_budget = std::chrono::milliseconds(static_cast<int64_t>(
          1000 * (std::chrono::duration<double>(budget.window).count() - r.probe_seconds)));
      retrain.max_iterations = plan.iterations;
      retrain.batch = budget.batch;
      retrain.micro_batch = plan.micro_batch;
      retrain.seed = o.seed + w;
      retrain.label_free = label_free;
      auto result = RetrainWindow(*m.model, config, choices, label_free ? samples.all : samples.labeled, retrain, cancel);
      if (!result.ok()) {
        r.note = std::string(result.status().message());
        spdlog::warn("{}: window {}: {}", m.name, w + 1, r.note);
        m.windows.push_back(r);
        continue;
      }
      r.iterations = result->iterations;
      r.train_seconds = result->train_seconds;
      r.peak_memory_bytes = result->peak_bytes;
      r.note = result->stop_reason;
      if (result->deployed) {
        ASSIGN_OR_RETURN(auto trained, result->model->TrainedBlocks(*m.model, config));
        ASSIGN_OR_RETURN(r.bytes_up, ApplyTrainedBlocks(*m.model, trained));
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
    d.windows = windows;
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
      r.edge_accuracy_after = dw.edge_accuracy_after;
      r.version = dw.version;
      daemons.windows.push_back(r);
    }
    ordered.push_back(std::move(daemons));
  }
  nlohmann::ordered_json out;
  out["scenario"] = scenario.name;
  out["model"] = o.model_path;
  out["budget"] = {{"memory_bytes", budget_bytes},
                   {"window_seconds", std::chrono::duration<double>(budget.window).count()}};
  out["seed"] = o.seed;
  if (o.labeled_fraction >= 0) out["labeled_fraction"] = o.labeled_fraction;
  out["methods"] = nlohmann::ordered_json::array();
  std::string md = absl::StrFormat("# bt-bench: %s\n\nModel `%s`, memory budget %s (%s), window %s, seed %llu.\n\n",
                                   scenario.name, o.model_path, FormatBytes(budget_bytes), o.memory_budget,
                                   FormatDuration(budget.window), static_cast<unsigned long long>(o.seed));
  if (o.labeled_fraction >= 0) md += absl::StrFormat("Labeled fraction of every domain: %.2f.\n\n", o.labeled_fraction);
  md += "| method | mean accuracy | gain over none |\n| --- | --- | --- |\n";
  double none_mean = -1;
  for (const MethodState& m : ordered) {
    if (m.name == "none") none_mean = MeanAfter(m);
  }
  for (const MethodState& m : ordered) {
    nlohmann::ordered_json jm = {{"name", m.name}, {"mean_accuracy", MeanAfter(m)}};
    jm["windows"] = nlohmann::ordered_json::array();
    for (const WindowRecord& r : m.windows) {
      jm["windows"].push_back({{"domain", r.domain},
                               {"accuracy_before", r.accuracy_before},
                               {"accuracy_after", r.accuracy_after},
                               {"predicted_accuracy", r.predicted_accuracy},
                               {"peak_memory_bytes", r.peak_memory_bytes},
                               {"predicted_memory_bytes", r.predicted_memory_bytes},
                               {"train_seconds", r.train_seconds},
                               {"predicted_train_seconds", r.predicted_train_seconds},
                               {"probe_seconds", r.probe_seconds},
                               {"iterations", r.iterations},
                               {"bytes_down", r.bytes_down},
                               {"bytes_up", r.bytes_up},
                               {"plan", r.plan},
                               {"label_free", r.label_free},
                               {"wall_seconds", r.wall_seconds},
                               {"note", r.note}});
      if (r.edge_accuracy_after >= 0) {
        jm["windows"].back()["edge_accuracy_after"] = r.edge_accuracy_after;
        jm["windows"].back()["version"] = r.version;
      }
    }
    out["methods"].push_back(jm);
    md += absl::StrFormat("| %s | %.2f%% | %s |\n", m.name, 100 * MeanAfter(m),
                          none_mean < 0 ? "-" : absl::StrFormat("%+.2f pt", 100 * (MeanAfter(m) - none_mean)));
  }
  md += "\n| method | window | domain | before | after | predicted | peak memory | predicted memory | train s | "
        "predicted s | iterations | up | plan |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
        "--- | --- |\n";
  for (const MethodState& m : ordered) {
    for (size_t w = 0; w < m.windows.size(); ++w) {
      const WindowRecord& r = m.windows[w];
      md += absl::StrFormat("| %s | %d | %s | %.1f%% | %.1f%% | %.1f%% | %s | %s | %.1f | %.1f | %d | %s | %s |\n",
                            m.name, w + 1, r.domain, 100 * r.accuracy_before, 100 * r.accuracy_after,
                            100 * r.predicted_accuracy, FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes)),
                            FormatBytes(r.predicted_memory_bytes), r.train_seconds, r.predicted_train_seconds,
                            r.iterations, FormatBytes(r.bytes_up), r.plan);
    }
  }
  if (o.via_daemons) md += DaemonComparison(ordered);
  md += "\nbefore/after: accuracy on the domain's held-out samples; predicted: the law's prediction on the probe "
        "slice; peak memory: measured by the counting allocator during retraining; up: bytes of retrained blocks.\n";
  std::printf("%s", md.c_str());
  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec) return absl::InternalError(absl::StrCat(o.out_dir, ": ", ec.message()));
    RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/results.json", out.dump(2) + "\n"));
    RETURN_IF_ERROR(WriteFileAtomically(o.out_dir + "/results.md", md));
    RETURN_IF_ERROR(Plot(o.out_dir, ordered, scenario.name));
    spdlog::info("wrote {}/results.json, results.md, accuracy.png", o.out_dir);
  }
  return absl::OkStatus();
}

}  // namespace bt
