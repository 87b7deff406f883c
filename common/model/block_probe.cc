#include "common/model/block_probe.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/model/memory_meter.h"

namespace bt {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t Bytes(const std::vector<torch::Tensor>& tensors) {
  uint64_t total = 0;
  for (const torch::Tensor& t : tensors) total += static_cast<uint64_t>(t.numel()) * t.element_size();
  return total;
}

// `name` with every run of digits as '#': the layers of one stack share it ("model.layers.#.mlp.up_proj.weight").
std::string WithoutIndices(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c >= '0' && c <= '9') {
      if (out.empty() || out.back() != '#') out.push_back('#');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void AppendShape(std::string& out, at::IntArrayRef shape) {
  out.push_back('[');
  for (int64_t d : shape) absl::StrAppend(&out, d, ",");
  out.push_back(']');
}

// What a block's costs depend on: its kind (its name and its parameters' names up to their indices, their shapes),
// its input's shape and dtype, and where it stands (the first block's input carries no gradient; the last block has
// no block after it).
std::string BlockSignature(const BlockSpec& spec, const torch::Tensor& input, bool first, bool last) {
  std::string out = WithoutIndices(spec.name);
  for (const ParamSpec& p : spec.params) {
    absl::StrAppend(&out, " ", WithoutIndices(p.name));
    AppendShape(out, p.shape);
  }
  absl::StrAppend(&out, " in ", std::string(c10::toString(input.scalar_type())));
  AppendShape(out, input.sizes());
  absl::StrAppend(&out, first ? " first" : "", last ? " last" : "");
  return out;
}

}  // namespace

absl::StatusOr<std::vector<BlockProfile>> ProbeBlockCosts(const BlockModel& model, const torch::Tensor& inputs,
                                                          const CostProbeOptions& options) {
  MemoryMeter& meter = MemoryMeter::Install();
  const size_t n = model.num_blocks();
  std::vector<BlockProfile> profiles(n);
  try {
    // Inputs of every block, computed once without gradients.
    std::vector<torch::Tensor> block_inputs{inputs};
    ASSIGN_OR_RETURN(auto reference, CreateModel(model.arch(), 0));
    for (size_t k = 0; k < n; ++k) {
      ASSIGN_OR_RETURN(TensorMap weights, model.GetBlock(model.layout()[k].name));
      RETURN_IF_ERROR(reference->SetBlock(model.layout()[k].name, weights));
    }
    reference->SetAllTrainable(false);
    {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k + 1 < n; ++k) block_inputs.push_back(reference->ForwardRange(block_inputs.back(), k, k + 1));
    }

    // Blocks with one signature (the layers of a stack) cost the same in each form: the first of them is measured,
    // the others take its numbers. Keyed by signature (and by signature, form and the form's tensor shapes).
    std::map<std::string, const BlockProfile*> measured_blocks;
    std::map<std::string, BlockOption> measured_options;
    for (size_t k = 0; k < n; ++k) {
      BlockProfile& profile = profiles[k];
      profile.name = model.layout()[k].name;
      std::vector<torch::Tensor> block_params;
      for (const ParamSpec& p : model.layout()[k].params) block_params.push_back(model.parameters().at(p.name));
      profile.parameters = 0;
      for (const torch::Tensor& t : block_params) profile.parameters += t.numel();
      profile.prefix_bytes = Bytes(block_params);
      const std::string signature = BlockSignature(model.layout()[k], block_inputs[k], k == 0, k + 1 == n);
      const auto same_block = options.share_equal_blocks ? measured_blocks.find(signature) : measured_blocks.end();
      std::vector<double> times;
      if (same_block != measured_blocks.end()) {
        profile.prefix_seconds = same_block->second->prefix_seconds;
        profile.prefix_transient_bytes = same_block->second->prefix_transient_bytes;
      }
      for (int r = 0; same_block == measured_blocks.end() && r <= options.repeats; ++r) {  // the first run warms up and is not timed
        torch::NoGradGuard no_grad;
        const int64_t before = meter.current_bytes();
        meter.ResetPeak();
        auto start = std::chrono::steady_clock::now();
        torch::Tensor y = reference->ForwardRange(block_inputs[k], k, k + 1);
        if (r > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        // Working memory of a no-grad block: its input and output are both alive, plus its temporaries.
        const int64_t input_bytes = block_inputs[k].numel() * block_inputs[k].element_size();
        profile.prefix_transient_bytes = static_cast<uint64_t>(std::max<int64_t>(0, meter.peak_bytes() - before + input_bytes));
      }
      if (same_block == measured_blocks.end()) profile.prefix_seconds = Median(times);

      std::vector<BlockChoice> choices = {{BlockChoice::Kind::kFrozen, 0}, {BlockChoice::Kind::kTrain, 0}};
      if (model.HasLayerForms(k)) {
        for (double s : options.sparsities) choices.push_back({BlockChoice::Kind::kProxy, s});
        for (double s : options.lora_sparsities) choices.push_back({BlockChoice::Kind::kLora, s});
      }
      for (const BlockChoice& choice : choices) {
        // A one-block composed model: this block in the given form, fed its real input.
        std::vector<BlockChoice> single(n);
        single[k] = choice;
        ASSIGN_OR_RETURN(auto composed, ComposedModel::Create(model, single));
        std::vector<torch::Tensor> trainable = composed->TrainableParameters();
        int64_t trainable_count = 0;
        for (const torch::Tensor& t : trainable) trainable_count += t.numel();
        const bool reshaped = choice.kind == BlockChoice::Kind::kProxy || choice.kind == BlockChoice::Kind::kLora;
        const uint64_t weight_bytes = reshaped ? Bytes(composed->BlockTensors(k)) : profile.prefix_bytes;

        std::string key = absl::StrCat(signature, " as ", choice.Name());
        for (const torch::Tensor& t : composed->BlockTensors(k)) AppendShape(key, t.sizes());
        auto same = options.share_equal_blocks ? measured_options.find(key) : measured_options.end();
        if (same != measured_options.end()) {
          if (choice.kind == BlockChoice::Kind::kFrozen) {
            profile.options.insert(profile.options.begin(), same->second);
          } else {
            profile.options.push_back(same->second);
          }
          continue;
        }

        BlockOption option;
        option.form = choice;
        option.trainable = choice.kind != BlockChoice::Kind::kFrozen;
        option.share = static_cast<double>(trainable_count) / static_cast<double>(profile.parameters);
        int64_t activation = 0;
        times.clear();
        int64_t transient = 0;
        for (int r = 0; r <= options.repeats; ++r) {  // the first run warms up and is not timed
          // In the backward path the block's input carries gradient (except for the very first block).
          torch::Tensor x = block_inputs[k].detach().clone();
          if (k > 0) x.requires_grad_(true);
          torch::Tensor upstream = torch::ones_like(block_inputs[std::min(k + 1, n - 1)]);
          const int64_t before = meter.current_bytes();
          meter.ResetPeak();
          auto start = std::chrono::steady_clock::now();
          torch::Tensor y = composed->ForwardBlockForProbe(x, k);
          activation = meter.current_bytes() - before;  // the output and everything saved for backward
          if (y.requires_grad()) y.backward(k + 1 < n ? upstream : torch::ones_like(y));
          if (r > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          transient = std::max<int64_t>(transient, meter.peak_bytes() - before - activation);
        }
        option.transient_bytes = static_cast<uint64_t>(transient);
        option.activation_bytes = static_cast<uint64_t>(std::max<int64_t>(0, activation));
        option.seconds = Median(times);
        option.memory_bytes = weight_bytes + static_cast<uint64_t>(std::max<int64_t>(0, activation));
        if (option.trainable) {
          option.memory_bytes +=
              static_cast<uint64_t>(options.training_copies * static_cast<double>(Bytes(trainable)));
        }
        measured_options.emplace(key, option);
        if (choice.kind == BlockChoice::Kind::kFrozen) {
          profile.options.insert(profile.options.begin(), option);
        } else {
          profile.options.push_back(option);
        }
      }
      measured_blocks.emplace(signature, &profile);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cost probe failed: ", e.what_without_backtrace()));
  }
  return profiles;
}

}  // namespace bt
