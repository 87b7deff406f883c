#include "bench/setup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <thread>

#include "common/base/units.h"
#include "common/data/dataset.h"
#include "common/data/text_data.h"
#include "common/text/tokenizer.h"
#include "common/model/memory_meter.h"
#include "common/plan/window_plan.h"
#include "edge/intake/scenario_feeder.h"
#include "edge/window/window_probe.h"

namespace bt {

absl::StatusOr<BenchSetup> LoadBench(const ScoreboardOptions& o) {
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
  BenchSetup s;
  ASSIGN_OR_RETURN(s.scenario, LoadScenario(o.scenario_path));
  if (o.labeled_fraction >= 0) {
    if (o.labeled_fraction > 1) return absl::InvalidArgumentError("--labeled-fraction must be in [0, 1]");
    for (DomainSpec& d : s.scenario.domains) d.labeled_fraction = o.labeled_fraction;
  }
  ASSIGN_OR_RETURN(s.foundation, LoadModel(o.model_path));
  s.foundation->SetTrainingMode(false);
  if (s.scenario.text()) {
    // Text: the model directory's own tokenizer turns the domains' files into sequences; no image statistics.
    if (s.foundation->arch().llama() == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(o.scenario_path, " is a text scenario but ", o.model_path,
                                                     " is not a decoder"));
    }
    ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::Open(o.model_path + "/tokenizer.model"));
    ASSIGN_OR_RETURN(s.data, MaterializeTextScenario(s.scenario, *tokenizer));
  } else {
    ASSIGN_OR_RETURN(s.source, LoadOrComputeSourceStats(o.model_path, *s.foundation, o.dataset_dir));
    ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(o.dataset_dir, "test"));
    ASSIGN_OR_RETURN(s.data, MaterializeScenario(s.scenario, test));
  }
  if (s.data.windows.empty()) return absl::InvalidArgumentError(absl::StrCat(o.scenario_path, ": the scenario has no windows"));
  s.windows = o.max_windows > 0 ? std::min<size_t>(s.data.windows.size(), static_cast<size_t>(o.max_windows))
                                : s.data.windows.size();
  s.grid = IterationGrid(o.max_iterations);

  WindowBudget& budget = s.budget;
  budget.window = *window;
  budget.probe_runs = o.probe_runs;
  budget.race_iterations = o.race_iterations;
  MemoryMeter::Install();
  if (budget_bytes == 0) {
    // A percentage of full fine-tuning's predicted peak, on the foundation model's costs for the first window.
    const ImageDataset first = s.scenario.text() ? s.data.windows.front().stream
                                                 : ThroughBuffer(s.data.windows.front().stream, s.data.windows.front().labeled);
    WindowProbeOptions costs_only;
    costs_only.window = budget.window;
    costs_only.batch = budget.batch;
    costs_only.min_labeled = std::numeric_limits<int64_t>::max();
    ASSIGN_OR_RETURN(ProbeReport report, ProbeWindow(*s.foundation, ImageDataset{}, first.images, nullptr,
                                                     costs_only));
    ASSIGN_OR_RETURN(uint64_t full_bytes, FullFineTuningBytes(report));
    budget_bytes = static_cast<uint64_t>(budget_fraction * static_cast<double>(full_bytes));
    spdlog::info("memory budget: {} = {} of full fine-tuning's predicted peak {}", FormatBytes(budget_bytes),
                 o.memory_budget, FormatBytes(full_bytes));
  }
  budget.memory_budget = budget_bytes;
  return s;
}

WindowSamples BenchWindowSamples(const BenchSetup& setup, size_t w) {
  const DomainWindow& dw = setup.data.windows[w];
  if (setup.scenario.text()) return SplitWindowSamples(dw.stream, dw.labeled);  // token ids as they are
  const ImageDataset stream = ThroughBuffer(dw.stream, dw.labeled);
  return SplitWindowSamples(stream, stream.labels.ge(0));
}

}  // namespace bt
