#include "common/plan/block_form.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bt {

std::string BlockChoice::Name() const {
  switch (kind) {
    case Kind::kFrozen: return "frozen";
    case Kind::kTrain: return "train";
    case Kind::kProxy: return absl::StrFormat("train@%.2f", sparsity);
    case Kind::kLora: return sparsity > 0 ? absl::StrFormat("lora@%.2f", sparsity) : std::string("lora");
  }
  return "?";
}

absl::StatusOr<BlockChoice> ChoiceFromName(const std::string& name) {
  if (name == "frozen") return BlockChoice{BlockChoice::Kind::kFrozen, 0};
  if (name == "train") return BlockChoice{BlockChoice::Kind::kTrain, 0};
  if (name == "lora") return BlockChoice{BlockChoice::Kind::kLora, 0};
  double s = 0;
  if (name.rfind("train@", 0) == 0 && absl::SimpleAtod(name.substr(6), &s) && s > 0 && s < 1) {
    return BlockChoice{BlockChoice::Kind::kProxy, s};
  }
  if (name.rfind("lora@", 0) == 0 && absl::SimpleAtod(name.substr(5), &s) && s > 0 && s < 1) {
    return BlockChoice{BlockChoice::Kind::kLora, s};
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown block option '", name, "'"));
}

}  // namespace bt
