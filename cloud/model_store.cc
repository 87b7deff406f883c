#include "cloud/model_store.h"

#include "common/block_layout.h"

namespace bt {

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Open(const std::string& checkpoint_path,
                                                             const std::string& model_name) {
  std::unique_ptr<ModelStore> store(new ModelStore());
  store->path_ = checkpoint_path;
  ASSIGN_OR_RETURN(store->checkpoint_, Checkpoint::Open(checkpoint_path));
  auto arch = VitConfig::FromMetadata(store->checkpoint_->metadata());
  if (!arch.ok()) return Annotate(arch.status(), checkpoint_path);
  store->architecture_ = *arch;
  auto manifest = BuildManifest(model_name, VitBlockLayout(*arch), store->checkpoint_->tensors());
  if (!manifest.ok()) return Annotate(manifest.status(), checkpoint_path);
  store->manifest_ = std::move(*manifest);
  return store;
}

}  // namespace bt
