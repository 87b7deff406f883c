#include "common/format/model_arch.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "common/base/file_util.h"

namespace bt {

std::string ModelArch::family() const { return vit() ? "vit" : "llama"; }

std::vector<BlockSpec> ModelArch::Layout() const {
  return vit() ? VitBlockLayout(*vit()) : LlamaBlockLayout(*llama());
}

int64_t ModelArch::ParameterCount() const { return vit() ? vit()->ParameterCount() : llama()->ParameterCount(); }

int64_t ModelArch::num_layers() const { return vit() ? vit()->num_layers : llama()->num_hidden_layers; }

Metadata ModelArch::ToMetadata() const { return vit() ? vit()->ToMetadata() : llama()->ToMetadata(); }

absl::StatusOr<ModelArch> ModelArch::FromMetadata(const Metadata& metadata) {
  auto arch = metadata.find("bt.arch");
  if (arch == metadata.end()) {
    return absl::InvalidArgumentError("checkpoint metadata has no 'bt.arch' (not written by BlockTrainer?)");
  }
  if (arch->second == "vit") {
    ASSIGN_OR_RETURN(VitConfig vit, VitConfig::FromMetadata(metadata));
    return ModelArch(vit);
  }
  if (arch->second == "llama") {
    ASSIGN_OR_RETURN(LlamaConfig llama, LlamaConfig::FromMetadata(metadata));
    return ModelArch(llama);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported architecture '", arch->second, "' in 'bt.arch' (known: vit, llama)"));
}

}  // namespace bt

namespace bt {
namespace {

const TensorView* FindTensor(const std::vector<TensorView>& tensors, const std::string& name) {
  for (const TensorView& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<const TensorView*> Need(const std::vector<TensorView>& tensors, const std::string& name, size_t rank,
                                       const std::string& source) {
  const TensorView* t = FindTensor(tensors, name);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no BlockTrainer metadata and no tensor '", name,
                                                   "': not a torchvision-style ViT (a decoder comes as a directory "
                                                   "with config.json)"));
  }
  if (t->shape.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", name, "' has ", t->shape.size(),
                                                   " dimensions, expected ", rank));
  }
  return t;
}

// A torchvision VisionTransformer's architecture from its tensors; num_heads from the hints.
absl::StatusOr<VitConfig> InferVit(const std::vector<TensorView>& tensors, const ArchitectureHints& hints,
                                   const std::string& source) {
  VitConfig c;
  ASSIGN_OR_RETURN(const TensorView* conv, Need(tensors, "conv_proj.weight", 4, source));
  if (conv->shape[2] != conv->shape[3]) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": conv_proj.weight has non-square patches"));
  }
  c.hidden_dim = conv->shape[0];
  c.channels = conv->shape[1];
  c.patch_size = conv->shape[2];
  ASSIGN_OR_RETURN(const TensorView* pos, Need(tensors, "encoder.pos_embedding", 3, source));
  const int64_t patches = pos->shape[1] - 1;
  const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(0, patches)))));
  if (patches < 1 || grid * grid != patches) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": encoder.pos_embedding has ", pos->shape[1],
                                                   " positions, not a square grid of patches plus the class token"));
  }
  c.image_size = grid * c.patch_size;
  c.num_layers = 0;
  while (FindTensor(tensors, absl::StrCat("encoder.layers.encoder_layer_", c.num_layers, ".ln_1.weight"))) ++c.num_layers;
  if (c.num_layers == 0) return absl::InvalidArgumentError(absl::StrCat(source, ": no encoder layers"));
  ASSIGN_OR_RETURN(const TensorView* fc1, Need(tensors, "encoder.layers.encoder_layer_0.mlp.0.weight", 2, source));
  c.mlp_dim = fc1->shape[0];
  ASSIGN_OR_RETURN(const TensorView* head, Need(tensors, "heads.head.weight", 2, source));
  c.num_classes = head->shape[0];
  if (!hints.vit) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no BlockTrainer metadata; the number of attention "
                                                   "heads shapes no tensor, so it must come from the config "
                                                   "(model.architecture.num_heads)"));
  }
  c.num_heads = hints.vit->num_heads;
  return c;  // preprocessing: BlockTrainer's default until the caller finds better
}

// image_mean / image_std of an HF preprocessor_config.json, when there is one beside the checkpoint.
absl::Status ReadPreprocessorConfig(const std::string& checkpoint, VitConfig* c) {
  const std::string path = (std::filesystem::path(checkpoint).parent_path() / "preprocessor_config.json").string();
  if (!std::filesystem::exists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  for (auto [key, out] : {std::pair{"image_mean", &c->image_mean}, std::pair{"image_std", &c->image_std}}) {
    if (!json.contains(key)) continue;
    std::vector<double> values;
    const nlohmann::json& v = json[key];
    if (v.is_number()) values.push_back(v.get<double>());
    if (v.is_array()) {
      for (const auto& x : v) {
        if (!x.is_number()) return absl::InvalidArgumentError(absl::StrCat(path, ": '", key, "' holds a non-number"));
        values.push_back(x.get<double>());
      }
    }
    if (values.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": '", key, "' is not a number or a list of numbers"));
    *out = values;
  }
  return absl::OkStatus();
}

}  // namespace

void ModelArch::SetPreprocessing(const std::vector<double>& mean, const std::vector<double>& std) {
  if (auto* v = std::get_if<VitConfig>(&config_)) {
    if (!mean.empty()) v->image_mean = mean;
    if (!std.empty()) v->image_std = std;
  }
}

absl::StatusOr<ModelFiles> FindModelFiles(const std::string& path) {
  ModelFiles files;
  if (!std::filesystem::is_directory(path)) {
    files.checkpoint = path;
    return files;
  }
  files.config_json = path + "/config.json";
  if (!std::filesystem::exists(files.config_json)) {
    return absl::NotFoundError(absl::StrCat(path, ": a model directory needs a config.json"));
  }
  files.checkpoint = path + "/model.safetensors";
  if (!std::filesystem::exists(files.checkpoint)) files.checkpoint = path + "/model.safetensors.index.json";
  if (!std::filesystem::exists(files.checkpoint)) {
    return absl::NotFoundError(absl::StrCat(path, ": neither model.safetensors nor model.safetensors.index.json"));
  }
  return files;
}

absl::StatusOr<ModelArch> ResolveArchitecture(const ModelFiles& files, const std::vector<TensorView>& tensors,
                                              const Metadata& metadata, const ArchitectureHints& hints) {
  if (!files.config_json.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(files.config_json));
    ASSIGN_OR_RETURN(LlamaConfig config, LlamaConfig::FromConfigJson(text, files.config_json));
    return ModelArch(config);
  }
  std::optional<ModelArch> arch;
  if (metadata.count("bt.arch")) {
    auto parsed = ModelArch::FromMetadata(metadata);
    if (!parsed.ok()) return Annotate(parsed.status(), files.checkpoint);
    arch = *parsed;
  } else {
    ASSIGN_OR_RETURN(VitConfig vit, InferVit(tensors, hints, files.checkpoint));
    arch = ModelArch(vit);
  }
  if (arch->vit() != nullptr) {
    VitConfig vit = *arch->vit();
    RETURN_IF_ERROR(ReadPreprocessorConfig(files.checkpoint, &vit));
    RETURN_IF_ERROR(Annotate(vit.Validate("preprocessing"), files.checkpoint));
    if (!hints.image_mean.empty()) vit.image_mean = hints.image_mean;
    if (!hints.image_std.empty()) vit.image_std = hints.image_std;
    // Only the config's values can be wrong now: name its keys.
    absl::Status st = vit.Validate("model.preprocess");
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(st.message(), " (the model ", files.checkpoint, " has ",
                                                     vit.channels, " channel", vit.channels == 1 ? "" : "s", ")"));
    }
    arch = ModelArch(vit);
  }
  return *arch;
}

}  // namespace bt
