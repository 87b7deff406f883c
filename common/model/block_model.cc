#include "common/model/block_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/base/file_util.h"
#include "common/format/safetensors.h"
#include "common/model/tensor_convert.h"

namespace bt {
namespace {

std::string ShapeText(c10::IntArrayRef shape) {
  std::string out;
  for (int64_t d : shape) absl::StrAppend(&out, out.empty() ? "" : "x", d);
  return "[" + out + "]";
}

}  // namespace

torch::Tensor OutputLoss(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing));
}

int64_t CountCorrect(const torch::Tensor& logits, const torch::Tensor& labels) {
  return logits.argmax(-1).eq(labels).sum().item<int64_t>();
}

absl::Status BlockModel::IndexParameters() {
  params_.clear();
  for (const auto& item : module().named_parameters(/*recurse=*/true)) params_[item.key()] = item.value();
  std::set<std::string> covered;
  for (const BlockSpec& block : layout_) {
    for (const ParamSpec& p : block.params) {
      auto it = params_.find(p.name);
      if (it == params_.end()) {
        return absl::InternalError(absl::StrCat("layout names '", p.name, "' which the module lacks"));
      }
      if (it->second.sizes().vec() != p.shape) {
        return absl::InternalError(absl::StrCat("parameter '", p.name, "' has shape ", ShapeText(it->second.sizes()),
                                                " but the layout says ", ShapeText(p.shape)));
      }
      if (!covered.insert(p.name).second) {
        return absl::InternalError(absl::StrCat("parameter '", p.name, "' is in two blocks"));
      }
    }
  }
  if (covered.size() != params_.size()) {
    for (const auto& [name, tensor] : params_) {
      if (!covered.count(name)) return absl::InternalError(absl::StrCat("parameter '", name, "' is in no block"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> BlockModel::BlockIndex(const std::string& block) const {
  for (size_t i = 0; i < layout_.size(); ++i) {
    if (layout_[i].name == block) return i;
  }
  std::string known;
  for (const BlockSpec& b : layout_) absl::StrAppend(&known, known.empty() ? "" : ", ", b.name);
  return absl::NotFoundError(absl::StrCat("no block '", block, "' (blocks: ", known, ")"));
}

absl::StatusOr<TensorMap> BlockModel::GetBlock(const std::string& block) const {
  ASSIGN_OR_RETURN(size_t index, BlockIndex(block));
  TensorMap out;
  torch::NoGradGuard no_grad;
  for (const ParamSpec& p : layout_[index].params) out[p.name] = params_.at(p.name).detach().clone();
  return out;
}

absl::Status BlockModel::SetBlock(const std::string& block, const TensorMap& tensors) {
  ASSIGN_OR_RETURN(size_t index, BlockIndex(block));
  const BlockSpec& spec = layout_[index];
  // Validate everything first so that an error leaves the model untouched.
  for (const ParamSpec& p : spec.params) {
    auto it = tensors.find(p.name);
    if (it == tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat("block '", block, "': missing parameter '", p.name, "'"));
    }
    const torch::Tensor& t = it->second;
    const torch::Tensor& target = params_.at(p.name);
    if (!t.defined() || t.sizes() != target.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat("block '", block, "': parameter '", p.name, "' has shape ",
                                                     t.defined() ? ShapeText(t.sizes()) : "<undefined>",
                                                     ", expected ", ShapeText(target.sizes())));
    }
    if (t.scalar_type() != target.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat("block '", block, "': parameter '", p.name, "' has dtype ",
                                                     c10::toString(t.scalar_type()), ", expected ",
                                                     c10::toString(target.scalar_type())));
    }
  }
  if (tensors.size() != spec.params.size()) {
    for (const auto& [name, t] : tensors) {
      bool known = false;
      for (const ParamSpec& p : spec.params) known = known || p.name == name;
      if (!known) {
        return absl::InvalidArgumentError(absl::StrCat("block '", block, "': '", name, "' is not one of its parameters"));
      }
    }
  }
  torch::NoGradGuard no_grad;
  for (const ParamSpec& p : spec.params) params_.at(p.name).copy_(tensors.at(p.name));
  return absl::OkStatus();
}

absl::Status BlockModel::SetTrainable(const std::string& block, bool trainable) {
  ASSIGN_OR_RETURN(size_t index, BlockIndex(block));
  for (const ParamSpec& p : layout_[index].params) params_.at(p.name).set_requires_grad(trainable);
  return absl::OkStatus();
}

void BlockModel::SetAllTrainable(bool trainable) {
  for (auto& [name, t] : params_) t.set_requires_grad(trainable);
}

bool BlockModel::IsTrainable(size_t block_index) const {
  for (const ParamSpec& p : layout_.at(block_index).params) {
    if (params_.at(p.name).requires_grad()) return true;
  }
  return false;
}

std::vector<torch::Tensor> BlockModel::TrainableParameters() const {
  std::vector<torch::Tensor> out;
  for (const BlockSpec& block : layout_) {
    for (const ParamSpec& p : block.params) {
      const torch::Tensor& t = params_.at(p.name);
      if (t.requires_grad()) out.push_back(t);
    }
  }
  return out;
}

int64_t BlockModel::ParameterCount() const {
  int64_t n = 0;
  for (const auto& [name, t] : params_) n += t.numel();
  return n;
}

torch::Tensor BlockModel::ForwardBlock(size_t index, const torch::Tensor& input) {
  if (index == 0) return ForwardEmbed(input);
  if (index + 1 < layout_.size()) return ForwardLayer(index - 1, input);
  return ForwardHead(input);
}

absl::StatusOr<std::unique_ptr<LayerForm>> BlockModel::MakeLayerForm(size_t index, const TensorMap& weights,
                                                                     const BlockChoice& choice,
                                                                     const LoraOptions& lora) const {
  if (!HasLayerForms(index) || (choice.kind != BlockChoice::Kind::kProxy && choice.kind != BlockChoice::Kind::kLora)) {
    return absl::InvalidArgumentError(absl::StrCat("block '", layout_.at(index).name, "' has no ", choice.Name(),
                                                   " form (", arch().family() == "vit" ? "encoder" : "decoder",
                                                   " layers only)"));
  }
  return CreateLayerForm(static_cast<int64_t>(index) - 1, weights, choice, lora);
}

torch::Tensor BlockModel::ForwardRange(torch::Tensor input, size_t begin, size_t end) {
  for (size_t i = begin; i < end && i < layout_.size(); ++i) input = ForwardBlock(i, input);
  return input;
}

absl::Status BlockModel::Save(const std::string& path) const {
  std::vector<torch::Tensor> keep_alive;
  std::vector<TensorView> views;
  for (const auto& [name, t] : params_) {
    keep_alive.push_back(t.detach().contiguous());
    ASSIGN_OR_RETURN(TensorView view, ViewOf(name, keep_alive.back()));
    views.push_back(std::move(view));
  }
  return WriteSafetensors(path, views, ArchitectureMetadata());
}

absl::StatusOr<BlockManifest> BlockModel::Manifest(const std::string& model_name) const {
  std::vector<torch::Tensor> keep_alive;
  std::vector<TensorView> views;
  keep_alive.reserve(params_.size());
  for (const auto& [name, t] : params_) {
    keep_alive.push_back(t.detach().contiguous());
    ASSIGN_OR_RETURN(TensorView view, ViewOf(name, keep_alive.back()));
    views.push_back(std::move(view));
  }
  return BuildManifest(model_name, layout_, views);
}

absl::Status LoadWeightsInto(const std::vector<TensorView>& tensors, BlockModel* model) {
  ASSIGN_OR_RETURN(auto grouped, GroupByBlock(model->layout(), tensors, /*half_precision=*/true));
  std::vector<TensorMap> blocks(grouped.size());
  for (size_t b = 0; b < grouped.size(); ++b) {
    for (const TensorView& view : grouped[b]) {
      ASSIGN_OR_RETURN(torch::Tensor t, ToTensor(view));
      blocks[b][view.name] = t.scalar_type() == torch::kFloat32 ? t : t.to(torch::kFloat32);  // computed in F32
    }
  }
  for (size_t b = 0; b < grouped.size(); ++b) {
    RETURN_IF_ERROR(model->SetBlock(model->layout()[b].name, blocks[b]));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlockModel>> CreateModel(const ModelArch& arch, uint64_t seed) {
  return arch.vit() ? CreateVitModel(*arch.vit(), seed) : CreateLlamaModel(*arch.llama(), seed);
}

absl::StatusOr<std::unique_ptr<BlockModel>> LoadModel(const std::string& path, const ArchitectureHints& hints) {
  ASSIGN_OR_RETURN(ModelFiles files, FindModelFiles(path));
  ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::Open(files.checkpoint));
  ASSIGN_OR_RETURN(ModelArch arch, ResolveArchitecture(files, checkpoint->tensors(), checkpoint->metadata(), hints));
  std::vector<TensorView> tensors = checkpoint->tensors();
  if (arch.llama() != nullptr && arch.llama()->tie_word_embeddings) {
    // Some writers store the tied LM head as well: accept it when it is the embedding, byte for byte.
    auto head = std::find_if(tensors.begin(), tensors.end(), [](const TensorView& t) { return t.name == "lm_head.weight"; });
    const TensorView* embed = checkpoint->Find("model.embed_tokens.weight");
    if (head != tensors.end()) {
      if (embed == nullptr || embed->size_bytes != head->size_bytes ||
          std::memcmp(embed->data, head->data, head->size_bytes) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(files.checkpoint, ": tie_word_embeddings is set but "
                                                       "lm_head.weight differs from model.embed_tokens.weight"));
      }
      tensors.erase(head);
    }
  }
  ASSIGN_OR_RETURN(auto model, CreateModel(arch, /*seed=*/0));
  RETURN_IF_ERROR(Annotate(LoadWeightsInto(tensors, model.get()), files.checkpoint));
  return model;
}

}  // namespace bt
