#include "edge/window_runner.h"

#include "common/block_probe.h"

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
  for (const BlockDecision& d : plan.blocks) {
    auto choice = ChoiceFromName(d.option);
    if (!choice.ok()) return Annotate(choice.status(), absl::StrCat("plan, block '", d.block, "'"));
    choices.push_back(*choice);
  }
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

}  // namespace bt
