#include "edge/retrain_engine.h"

#include <spdlog/spdlog.h>

#include "common/memory_meter.h"
#include "edge/curve_probe.h"
#include "common/units.h"

namespace bt {

absl::StatusOr<RetrainResult> RetrainWindow(const BlockModel& deployed, const VitConfig& config,
                                            const std::vector<BlockChoice>& plan, const ImageDataset& labeled,
                                            const RetrainOptions& o, const CancelToken* cancel, SteadyClock clock) {
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  if (o.predicted_peak_bytes > o.memory_budget) {
    return absl::FailedPreconditionError(absl::StrCat("plan refused: predicted peak ", FormatBytes(o.predicted_peak_bytes),
                                                      " exceeds the memory budget ", FormatBytes(o.memory_budget)));
  }
  if (o.batch < 1 || o.max_iterations < 1 || o.eval_every < 1) {
    return absl::InvalidArgumentError("batch, max_iterations and eval_every must be positive");
  }
  const int64_t holdout = static_cast<int64_t>(static_cast<double>(labeled.size()) * o.holdout_fraction);
  if (holdout < 1 || labeled.size() - holdout < 1) {
    return absl::FailedPreconditionError(absl::StrCat("too few labeled samples (", labeled.size(),
                                                      ") for a training set and a held-out slice"));
  }
  const auto start = clock();
  const auto deadline = start + o.time_budget;
  MemoryMeter& meter = MemoryMeter::Install();
  const int64_t baseline = meter.current_bytes();
  meter.ResetPeak();

  RetrainResult result;
  try {
    // A fixed split: the most recent samples are held out, the rest train.
    ImageDataset train = labeled.Slice(0, labeled.size() - holdout);
    ImageDataset held_out = labeled.Slice(labeled.size() - holdout, labeled.size());
    ASSIGN_OR_RETURN(auto model, ComposedModel::Create(deployed, config, plan));
    if (model->first_trainable() < 0) return absl::InvalidArgumentError("the plan trains no block");
    result.accuracy_before = HeldOutAccuracy(*model, held_out);  // before training it is the deployed model
    result.accuracy_after = result.accuracy_before;
    std::vector<torch::Tensor> best = model->SnapshotTrainable();
    torch::optim::AdamW optimizer(model->TrainableParameters(),
                                  torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
    torch::manual_seed(o.seed);
    std::chrono::steady_clock::duration eval_cost{0};
    result.stop_reason = "iterations";
    for (int64_t it = 1; it <= o.max_iterations; ++it) {
      if (cancel != nullptr && cancel->cancelled()) {
        result.stop_reason = "cancelled";
        break;
      }
      // Reserve one evaluation's time so the final decision still fits in the window.
      if (clock() + eval_cost >= deadline) {
        result.stop_reason = "deadline";
        break;
      }
      TrainStep(*model, optimizer, train, o.batch);
      result.iterations = it;
      if (meter.peak_bytes() - baseline > static_cast<int64_t>(o.memory_budget)) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "retraining stopped at iteration ", it, ": measured peak ", FormatBytes(meter.peak_bytes() - baseline),
            " crossed the memory budget ", FormatBytes(o.memory_budget), "; the deployed model stays"));
      }
      if (it % o.eval_every == 0 || it == o.max_iterations) {
        const auto eval_start = clock();
        const double accuracy = HeldOutAccuracy(*model, held_out);
        eval_cost = clock() - eval_start;
        if (accuracy > result.accuracy_after) {
          result.accuracy_after = accuracy;
          result.best_iteration = it;
          best = model->SnapshotTrainable();
        }
      }
    }
    result.train_seconds = std::chrono::duration<double>(clock() - start).count();
    result.peak_bytes = meter.peak_bytes() - baseline;
    // Keep-best, and never worse than what is deployed.
    if (result.best_iteration > 0 && result.accuracy_after > result.accuracy_before) {
      model->RestoreTrainable(best);
      result.deployed = true;
      result.model = std::move(model);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("retraining failed: ", e.what_without_backtrace()));
  }
  spdlog::info("retrain: {} iterations ({}), held-out accuracy {:.1f}% -> {:.1f}%, peak {}, {}",
               result.iterations, result.stop_reason, 100 * result.accuracy_before, 100 * result.accuracy_after,
               FormatBytes(static_cast<uint64_t>(std::max<int64_t>(0, result.peak_bytes))),
               result.deployed ? "deployed" : "deployed model kept");
  return result;
}

}  // namespace bt
