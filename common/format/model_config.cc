#include "common/format/model_config.h"

#include <utility>
#include <vector>

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace bt {
namespace {

std::vector<std::pair<const char*, int64_t VitConfig::*>> Fields() {
  return {{"image_size", &VitConfig::image_size}, {"channels", &VitConfig::channels},
          {"patch_size", &VitConfig::patch_size}, {"hidden_dim", &VitConfig::hidden_dim},
          {"num_layers", &VitConfig::num_layers}, {"num_heads", &VitConfig::num_heads},
          {"mlp_dim", &VitConfig::mlp_dim},       {"num_classes", &VitConfig::num_classes}};
}

}  // namespace

absl::Status VitConfig::Validate(const std::string& p) const {
  for (const auto& [name, member] : Fields()) {
    if (this->*member < 1) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".", name, ": must be at least 1, got ", this->*member));
    }
  }
  if (image_size % patch_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(p, ".patch_size: ", patch_size, " does not divide image_size ",
                                                   image_size));
  }
  for (const auto* values : {&image_mean, &image_std}) {
    const char* name = values == &image_mean ? "image_mean" : "image_std";
    if (values->size() != 1 && static_cast<int64_t>(values->size()) != channels) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".", name, ": ", values->size(),
                                                     " values for ", channels, " channels (give one or one per channel)"));
    }
    for (double v : *values) {
      if (!std::isfinite(v) || (values == &image_std && !(v > 0))) {
        return absl::InvalidArgumentError(absl::StrCat(p, ".", name, ": ", v, values == &image_std ? " is not positive" : " is not finite"));
      }
    }
  }
  if (hidden_dim % num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(p, ".num_heads: ", num_heads, " does not divide hidden_dim ",
                                                   hidden_dim));
  }
  return absl::OkStatus();
}

int64_t VitConfig::ParameterCount() const {
  const int64_t h = hidden_dim;
  int64_t stem = channels * patch_size * patch_size * h + h  // conv_proj
                 + h                                         // class_token
                 + SequenceLength() * h;                     // pos_embedding
  int64_t layer = 2 * h                  // ln_1
                  + 3 * h * h + 3 * h    // in_proj
                  + h * h + h            // out_proj
                  + 2 * h                // ln_2
                  + h * mlp_dim + mlp_dim + mlp_dim * h + h;
  int64_t head = 2 * h + h * num_classes + num_classes;
  return stem + num_layers * layer + head;
}

Metadata VitConfig::ToMetadata() const {
  Metadata m;
  m["bt.arch"] = "vit";
  for (const auto& [name, member] : Fields()) m[absl::StrCat("bt.vit.", name)] = absl::StrCat(this->*member);
  m["bt.vit.image_mean"] = FormatValues(image_mean);
  m["bt.vit.image_std"] = FormatValues(image_std);
  return m;
}

absl::StatusOr<VitConfig> VitConfig::FromMetadata(const Metadata& metadata) {
  auto arch = metadata.find("bt.arch");
  if (arch == metadata.end()) {
    return absl::InvalidArgumentError("checkpoint metadata has no 'bt.arch' (not written by BlockTrainer?)");
  }
  if (arch->second != "vit") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported architecture '", arch->second, "'"));
  }
  VitConfig config;
  for (const auto& [name, member] : Fields()) {
    std::string key = absl::StrCat("bt.vit.", name);
    auto it = metadata.find(key);
    if (it == metadata.end()) return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata lacks '", key, "'"));
    if (!absl::SimpleAtoi(it->second, &(config.*member))) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata '", key, "' = '", it->second,
                                                     "' is not an integer"));
    }
  }
  for (auto [key, values] : {std::pair{"bt.vit.image_mean", &config.image_mean}, std::pair{"bt.vit.image_std", &config.image_std}}) {
    auto it = metadata.find(key);
    if (it == metadata.end()) continue;  // written before preprocessing was recorded: 0.5 / 0.5
    auto parsed = ParseValues(it->second);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata '", key, "' = '", it->second,
                                                     "' is not a comma-separated list of numbers"));
    }
    *values = *parsed;
  }
  RETURN_IF_ERROR(config.Validate("checkpoint metadata bt.vit"));
  return config;
}

bool VitConfig::operator==(const VitConfig& other) const {
  for (const auto& [name, member] : Fields()) {
    if (this->*member != other.*member) return false;
  }
  return image_mean == other.image_mean && image_std == other.image_std;
}

std::string FormatValues(const std::vector<double>& values) {
  std::string out;
  for (double v : values) absl::StrAppend(&out, out.empty() ? "" : ",", absl::StrFormat("%.17g", v));
  return out;
}

absl::StatusOr<std::vector<double>> ParseValues(const std::string& text) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) return absl::InvalidArgumentError(absl::StrCat("'", part, "' is not a number"));
    out.push_back(v);
  }
  return out;
}

}  // namespace bt
