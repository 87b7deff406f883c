#include "common/format/model_arch.h"

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
