#include "common/model/composed_model.h"

#include <optional>

#include "absl/strings/str_format.h"

namespace bt {

absl::StatusOr<std::unique_ptr<ComposedModel>> ComposedModel::Create(const BlockModel& base,
                                                                     const std::vector<BlockChoice>& choices,
                                                                     const ComposeOptions& options) {
  if (choices.size() != base.num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat(choices.size(), " choices for ", base.num_blocks(), " blocks"));
  }
  std::unique_ptr<ComposedModel> out(new ComposedModel());
  out->forms_.resize(choices.size());
  out->quantized_.assign(choices.size(), {});
  out->choices_ = choices;
  try {
    ASSIGN_OR_RETURN(out->model_, CreateModel(base.arch(), 0));
    out->model_->SetAllTrainable(false);
    for (size_t k = 0; k < choices.size(); ++k) {
      const std::string& name = base.layout()[k].name;
      ASSIGN_OR_RETURN(TensorMap weights, base.GetBlock(name));
      const BlockChoice& choice = choices[k];
      if (choice.kind != BlockChoice::Kind::kFrozen && out->first_trainable_ < 0) {
        out->first_trainable_ = static_cast<int64_t>(k);
      }
      if (choice.kind == BlockChoice::Kind::kProxy || choice.kind == BlockChoice::Kind::kLora) {
        ASSIGN_OR_RETURN(out->forms_[k], base.MakeLayerForm(k, weights, choice, options.lora));
        // The form replaces the block: release the full layer's weights in the copy.
        for (const ParamSpec& p : base.layout()[k].params) out->model_->parameters().at(p.name).set_data(torch::empty({0}));
      } else {
        RETURN_IF_ERROR(out->model_->SetBlock(name, weights));
        RETURN_IF_ERROR(out->model_->SetTrainable(name, choice.kind == BlockChoice::Kind::kTrain));
      }
    }
    if (options.int8_prefix) {
      const size_t prefix = out->first_trainable_ < 0 ? choices.size() : static_cast<size_t>(out->first_trainable_);
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < prefix; ++k) {
        for (const ParamSpec& p : base.layout()[k].params) {
          torch::Tensor target = out->model_->parameters().at(p.name);
          if (target.dim() < 2) continue;  // biases, norms, embeddings' vectors stay F32 (they are tiny)
          torch::Tensor rows = target.reshape({target.size(0), -1});
          torch::Tensor scales = rows.abs().amax(1).clamp_min(1e-12) / 127.0;
          torch::Tensor values = torch::round(rows / scales.unsqueeze(1)).clamp(-127, 127).to(torch::kInt8);
          out->quantized_[k].push_back({target, values.reshape(target.sizes()), scales});
          target.set_data(torch::empty({0}));
        }
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("composing the model failed: ", e.what_without_backtrace()));
  }
  return out;
}

torch::Tensor ComposedModel::Forward(const torch::Tensor& inputs, torch::Tensor* features) {
  torch::Tensor x = inputs;
  const size_t n = model_->num_blocks();
  for (size_t k = 0; k < n; ++k) {
    // Blocks before the first trainable one keep no activations.
    std::optional<torch::NoGradGuard> no_grad;
    if (first_trainable_ < 0 || static_cast<int64_t>(k) < first_trainable_) no_grad.emplace();
    // int8 blocks get F32 weights for the duration of their own forward pass only.
    for (QuantizedTensor& q : quantized_[k]) {
      q.target.set_data((q.values.to(torch::kFloat32).reshape({q.values.size(0), -1}) * q.scales.unsqueeze(1))
                            .reshape(q.values.sizes()));
    }
    if (features != nullptr && k + 1 == n) *features = model_->HeadFeatures(x);
    x = forms_[k] ? forms_[k]->Forward(x) : model_->ForwardRange(x, k, k + 1);
    for (QuantizedTensor& q : quantized_[k]) q.target.set_data(torch::empty({0}));
  }
  return x;
}

absl::StatusOr<std::map<std::string, TensorMap>> ComposedModel::TrainedBlocks(const BlockModel& base) const {
  std::map<std::string, TensorMap> out;
  try {
    for (size_t k = 0; k < choices_.size(); ++k) {
      const std::string& name = base.layout()[k].name;
      if (choices_[k].kind == BlockChoice::Kind::kTrain) {
        ASSIGN_OR_RETURN(out[name], model_->GetBlock(name));
      } else if (forms_[k]) {
        ASSIGN_OR_RETURN(TensorMap full, base.GetBlock(name));
        ASSIGN_OR_RETURN(out[name], forms_[k]->WriteBack(full));
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("exporting trained blocks failed: ", e.what_without_backtrace()));
  }
  return out;
}

torch::Tensor ComposedModel::ForwardBlockForProbe(const torch::Tensor& input, size_t k) {
  return forms_[k] ? forms_[k]->Forward(input) : model_->ForwardRange(input, k, k + 1);
}

std::vector<torch::Tensor> ComposedModel::TrainableParameters() const {
  std::vector<torch::Tensor> out = model_->TrainableParameters();
  for (const auto& form : forms_) {
    if (!form) continue;
    const std::vector<torch::Tensor> params = form->TrainableParameters();
    out.insert(out.end(), params.begin(), params.end());
  }
  return out;
}

std::vector<torch::Tensor> ComposedModel::BlockTensors(size_t k) const {
  if (!forms_[k]) {
    std::vector<torch::Tensor> out;
    for (const ParamSpec& p : model_->layout()[k].params) out.push_back(model_->parameters().at(p.name));
    return out;
  }
  return forms_[k]->Tensors();
}

int64_t ComposedModel::TrainableCount(size_t k) const {
  int64_t n = 0;
  if (forms_[k]) {
    for (const torch::Tensor& t : forms_[k]->TrainableParameters()) n += t.numel();
  } else if (choices_[k].kind == BlockChoice::Kind::kTrain) {
    for (const ParamSpec& p : model_->layout()[k].params) n += model_->parameters().at(p.name).numel();
  }
  return n;
}

std::vector<torch::Tensor> ComposedModel::SnapshotTrainable() const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& t : TrainableParameters()) out.push_back(t.detach().clone());
  return out;
}

void ComposedModel::RestoreTrainable(const std::vector<torch::Tensor>& snapshot) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = TrainableParameters();
  for (size_t i = 0; i < params.size() && i < snapshot.size(); ++i) params[i].copy_(snapshot[i]);
}

}  // namespace bt
