#include "edge/model_input.h"

#include "common/base/file_util.h"
#include "common/format/model_arch.h"

namespace bt {

absl::Status ModelInput::Learn(const Metadata& architecture, const std::string& tokenizer_bytes, bool keep_copy) {
  ASSIGN_OR_RETURN(ModelArch arch, ModelArch::FromMetadata(architecture));
  if (const VitConfig* vit = arch.vit()) {
    MutexLock lock(&mu_);
    kind_ = SpoolInput::Kind::kImages;
    image_size_ = static_cast<int>(vit->image_size);
    image_channels_ = static_cast<int>(vit->channels);
    tokenizer_ = nullptr;
    return absl::OkStatus();
  }
  if (tokenizer_bytes.empty()) return absl::FailedPreconditionError("a text model without a tokenizer");
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> t, Tokenizer::FromBytes(tokenizer_bytes, "the model's tokenizer"));
  if (t->vocab_size() > arch.llama()->vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("the model's tokenizer has ", t->vocab_size(),
                                                   " pieces, more than the model's vocabulary of ",
                                                   arch.llama()->vocab_size));
  }
  if (keep_copy) {
    auto current = ReadFileToString(tokenizer_path_);
    if (!current.ok() || *current != tokenizer_bytes) RETURN_IF_ERROR(WriteFileAtomically(tokenizer_path_, tokenizer_bytes));
  }
  MutexLock lock(&mu_);
  kind_ = SpoolInput::Kind::kText;
  tokenizer_ = std::move(t);
  return absl::OkStatus();
}

absl::Status ModelInput::LearnFromKeptCopy(const Metadata& architecture) {
  auto kept = ReadFileToString(tokenizer_path_);
  return Learn(architecture, kept.ok() ? *kept : "", /*keep_copy=*/false);
}

void ModelInput::Forget() {
  MutexLock lock(&mu_);
  kind_ = SpoolInput::Kind::kUnknown;
  tokenizer_ = nullptr;
}

SpoolInput ModelInput::ForSpool(int64_t sequence) const {
  SpoolInput input;
  input.sequence = sequence;
  MutexLock lock(&mu_);
  input.kind = kind_;
  input.height = input.width = image_size_;
  input.channels = image_channels_;
  input.tokenizer = tokenizer_;
  return input;
}

std::shared_ptr<const Tokenizer> ModelInput::tokenizer() const {
  MutexLock lock(&mu_);
  return tokenizer_;
}

}  // namespace bt
