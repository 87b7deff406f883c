#include "cloud/store/model_store.h"

#include <filesystem>

#include "common/base/file_util.h"
#include "common/format/block_layout.h"

namespace bt {

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Open(const std::string& path, const std::string& model_name,
                                                             const ArchitectureHints& hints) {
  std::unique_ptr<ModelStore> store(new ModelStore());
  store->path_ = path;
  ASSIGN_OR_RETURN(ModelFiles files, FindModelFiles(path));
  const std::string& checkpoint_path = files.checkpoint;
  ASSIGN_OR_RETURN(store->checkpoint_, Checkpoint::Open(checkpoint_path));
  auto arch = ResolveArchitecture(files, store->checkpoint_->tensors(), store->checkpoint_->metadata(), hints);
  if (!arch.ok()) return arch.status();
  store->architecture_ = *arch;
  auto manifest = BuildManifest(model_name, arch->Layout(), store->checkpoint_->tensors());
  if (!manifest.ok()) return Annotate(manifest.status(), checkpoint_path);
  store->manifest_ = std::move(*manifest);
  if (!files.config_json.empty()) {
    const std::string tokenizer = (std::filesystem::path(files.config_json).parent_path() / "tokenizer.model").string();
    std::error_code ec;
    if (std::filesystem::exists(tokenizer, ec)) {
      const auto size = std::filesystem::file_size(tokenizer, ec);
      if (ec || size > kMaxTokenizerBytes) {
        return absl::InvalidArgumentError(absl::StrCat(tokenizer, ": larger than ", kMaxTokenizerBytes, " bytes"));
      }
      ASSIGN_OR_RETURN(store->tokenizer_, ReadFileToString(tokenizer));
    }
  }
  return store;
}

const BlockEntry* ModelStore::FindBlock(const std::string& name) const {
  for (const BlockEntry& b : manifest_.blocks) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

absl::StatusOr<std::string> ModelStore::BlockBytes(const std::string& name) const {
  const BlockEntry* block = FindBlock(name);
  if (block == nullptr) return absl::NotFoundError(absl::StrCat("the model has no block '", name, "'"));
  std::vector<TensorView> views;
  for (const ParamEntry& p : block->params) {
    const TensorView* t = checkpoint_->Find(p.name);
    if (t == nullptr) return absl::InternalError(absl::StrCat(path_, ": tensor '", p.name, "' disappeared"));
    views.push_back(*t);
  }
  return SerializeBlock(views);
}

}  // namespace bt
