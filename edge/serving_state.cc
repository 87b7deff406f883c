#include "edge/serving_state.h"

#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/model/tensor_convert.h"
#include "edge/window/window_runner.h"
#include "nlohmann/json.hpp"

namespace bt {


absl::Status ServingState::Load() {
  auto text = ReadFileToString(path_);
  if (!text.ok()) return absl::OkStatus();  // first start
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return absl::DataLossError(absl::StrCat(path_, ": not a JSON object"));
  std::map<std::string, std::string> architecture;
  BlockDigests blocks;
  uint64_t version = 0;
  try {
    architecture = j.value("architecture", std::map<std::string, std::string>{});
    version = j.value("version", uint64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(path_, ": ", e.what()));
  }
  if (!j.contains("blocks")) return absl::DataLossError(absl::StrCat(path_, ": no blocks"));
  auto parsed = BlockDigestsFromJson(j["blocks"].dump());
  if (!parsed.ok()) return Annotate(parsed.status(), path_);
  blocks = std::move(*parsed);
  ASSIGN_OR_RETURN(auto model, Build(blocks, architecture));
  MutexLock lock(&mu_);
  architecture_ = std::move(architecture);
  model_ = std::move(model);
  blocks_ = std::move(blocks);
  version_ = version;
  return absl::OkStatus();
}

bool ServingState::has_model() const {
  MutexLock lock(&mu_);
  return model_ != nullptr;
}

uint64_t ServingState::version() const {
  MutexLock lock(&mu_);
  return version_;
}

BlockDigests ServingState::blocks() const {
  MutexLock lock(&mu_);
  return blocks_;
}

std::map<std::string, std::string> ServingState::architecture() const {
  MutexLock lock(&mu_);
  return architecture_;
}

void ServingState::SetArchitecture(std::map<std::string, std::string> architecture) {
  MutexLock lock(&mu_);
  architecture_ = std::move(architecture);
}

absl::StatusOr<std::unique_ptr<BlockModel>> ServingState::Build(
    const BlockDigests& blocks, const std::map<std::string, std::string>& architecture) const {
  ASSIGN_OR_RETURN(ModelArch arch, ModelArch::FromMetadata(architecture));
  ASSIGN_OR_RETURN(auto model, CreateModel(arch, 0));
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::vector<TensorView> views;
  for (const auto& [name, digest] : blocks) {
    ASSIGN_OR_RETURN(std::string bytes, store_->Read(digest));
    if (Sha256Hex(bytes) != digest) return absl::DataLossError(absl::StrCat("block file ", digest, " is corrupted"));
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::FromBytes(std::move(bytes), "block " + name));
    for (const TensorView& v : file->tensors()) views.push_back(v);
    files.push_back(std::move(file));
  }
  RETURN_IF_ERROR(LoadWeightsInto(views, model.get()));
  model->SetTrainingMode(false);
  return model;
}

absl::StatusOr<std::unique_ptr<BlockModel>> ServingState::BuildModel(const BlockDigests& blocks) const {
  std::map<std::string, std::string> architecture;
  {
    MutexLock lock(&mu_);
    architecture = architecture_;
  }
  return Build(blocks, architecture);
}

absl::Status ServingState::SaveLocked() const {
  const nlohmann::ordered_json j = {{"version", version_},
                                    {"blocks", nlohmann::ordered_json::parse(BlockDigestsToJson(blocks_))},
                                    {"architecture", architecture_}};
  return WriteFileAtomically(path_, j.dump(2) + "\n");
}

absl::Status ServingState::Adopt(const BlockDigests& blocks, uint64_t version) {
  std::map<std::string, std::string> architecture;
  {
    MutexLock lock(&mu_);
    architecture = architecture_;
  }
  ASSIGN_OR_RETURN(auto model, Build(blocks, architecture));
  MutexLock lock(&mu_);
  std::swap(model_, model);
  BlockDigests previous_blocks = std::exchange(blocks_, blocks);
  const uint64_t previous_version = std::exchange(version_, version);
  absl::Status saved = SaveLocked();
  if (!saved.ok()) {  // keep memory and disk in agreement
    std::swap(model_, model);
    blocks_ = std::move(previous_blocks);
    version_ = previous_version;
  }
  return saved;
}

absl::Status ServingState::Deploy(std::unique_ptr<BlockModel> model, const BlockDigests& blocks) {
  if (model == nullptr) return absl::InvalidArgumentError("no model to deploy");
  model->SetTrainingMode(false);
  MutexLock lock(&mu_);
  BlockDigests previous = std::exchange(blocks_, blocks);
  absl::Status saved = SaveLocked();
  if (!saved.ok()) {
    blocks_ = std::move(previous);
    return saved;
  }
  model_ = std::move(model);
  return absl::OkStatus();
}

absl::Status ServingState::SetVersion(uint64_t version) {
  MutexLock lock(&mu_);
  const uint64_t previous = std::exchange(version_, version);
  absl::Status saved = SaveLocked();
  if (!saved.ok()) version_ = previous;
  return saved;
}

absl::StatusOr<ServingState::Snapshot> ServingState::CopyForWindow() const {
  MutexLock lock(&mu_);
  if (model_ == nullptr) return absl::FailedPreconditionError("no model is served yet");
  Snapshot s;
  ASSIGN_OR_RETURN(s.model, CopyModel(*model_));
  s.version = version_;
  s.blocks = blocks_;
  return s;
}

absl::Status StoreTrainedBlocks(const std::map<std::string, TensorMap>& trained, const BlockStore& store,
                                BlockDigests* blocks, OutboxEntry* entry) {
  for (auto& [name, digest] : *blocks) {
    auto it = trained.find(name);
    if (it == trained.end()) continue;
    std::vector<TensorView> views;
    std::vector<torch::Tensor> keep;
    for (const auto& [param, t] : it->second) {
      keep.push_back(t.detach().contiguous());
      ASSIGN_OR_RETURN(TensorView v, ViewOf(param, keep.back()));
      views.push_back(v);
    }
    ASSIGN_OR_RETURN(std::string bytes, SerializeBlock(views));
    ASSIGN_OR_RETURN(std::string new_digest, store.Put(bytes));
    entry->blocks.push_back({name, new_digest, digest});
    digest = new_digest;
  }
  return absl::OkStatus();
}

}  // namespace bt
