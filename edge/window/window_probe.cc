#include "edge/window/window_probe.h"

#include <spdlog/spdlog.h>

namespace bt {

uint64_t OutputBytes(const BlockModel& model, const torch::Tensor& raw_batch) {
  return static_cast<uint64_t>(2 * 4 * raw_batch.size(0) * model.OutputsPerSample(raw_batch));
}

uint64_t FixedPlanBytes(const BlockModel& model, const torch::Tensor& raw_batch) {
  // The prepared batch as F32 (images) or as it is (ids), and the logits with their gradient.
  const int64_t input = raw_batch.numel() * std::max<int64_t>(4, raw_batch.element_size());
  return static_cast<uint64_t>(input) + OutputBytes(model, raw_batch);
}

absl::StatusOr<ProbeReport> ProbeWindow(BlockModel& deployed, const ImageDataset& labeled,
                                        const torch::Tensor& images, const SourceStats* source,
                                        const WindowProbeOptions& o,
                                        std::function<std::chrono::steady_clock::time_point()> clock) {
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  if (!(o.probe_share > 0 && o.probe_share < 1)) return absl::InvalidArgumentError("probe share must be in (0, 1)");
  if (o.batch < 1) return absl::InvalidArgumentError("probe batch must be positive");
  const auto start = clock();
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(o.window * o.probe_share);
  ProbeReport report;
  report.batch = o.batch;
  report.labeled_samples = labeled.size();
  report.unlabeled_samples = images.defined() ? images.size(0) - labeled.size() : 0;
  deployed.SetTrainingMode(false);
  if (source != nullptr && images.defined() && images.size(0) > 0) {
    ASSIGN_OR_RETURN(report.drift, ComputeDriftStats(deployed, images, *source));
  }

  // Costs do not depend on the values: a batch of recent samples (or noise) at the training batch size.
  torch::Tensor inputs = images.defined() && images.size(0) >= o.batch ? images.slice(0, 0, o.batch)
                                                                        : deployed.RandomInput(o.batch);
  ASSIGN_OR_RETURN(report.costs, ProbeBlockCosts(deployed, deployed.PrepareInput(inputs), o.costs));
  report.fixed_bytes = FixedPlanBytes(deployed, inputs) + MaxTransientBytes(report.costs);
  report.output_bytes = OutputBytes(deployed, inputs);

  if (labeled.size() >= o.min_labeled) {
    CurveProbeOptions curves = o.curves;
    curves.batch = o.batch;
    curves.costs = report.costs;
    curves.time_budget = std::max(std::chrono::milliseconds(0),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(budget - (clock() - start)));
    ASSIGN_OR_RETURN(CurveProbeResult r, ProbeRetrainingCurves(deployed, labeled, curves, clock));
    report.acc0 = r.acc0;
    report.points = std::move(r.points);
    report.curve_runs = r.runs;
    report.budget_exhausted = r.budget_exhausted;
  } else {
    report.acc0 = report.drift.estimated_accuracy;  // label-free estimate
  }
  report.seconds = std::chrono::duration<double>(clock() - start).count();
  spdlog::info("probe: {:.1f} s of a {:.1f} s budget, acc0 {:.1f}%{}, {} curve runs{}, drift μ {:.2f} Σ {:.2f}",
               report.seconds, std::chrono::duration<double>(budget).count(), 100 * report.acc0,
               labeled.size() >= o.min_labeled ? "" : " (label-free estimate)", report.curve_runs,
               report.budget_exhausted ? " (budget reached)" : "", report.drift.mean_shift,
               report.drift.covariance_shift);
  return report;
}

}  // namespace bt
