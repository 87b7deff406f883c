#include "common/format/llama_config.h"

#include <nlohmann/json.hpp>

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace bt {
namespace {

using Json = nlohmann::json;

std::vector<std::pair<const char*, int64_t LlamaConfig::*>> IntFields() {
  return {{"vocab_size", &LlamaConfig::vocab_size},
          {"hidden_size", &LlamaConfig::hidden_size},
          {"intermediate_size", &LlamaConfig::intermediate_size},
          {"num_hidden_layers", &LlamaConfig::num_hidden_layers},
          {"num_attention_heads", &LlamaConfig::num_attention_heads},
          {"num_key_value_heads", &LlamaConfig::num_key_value_heads},
          {"head_dim", &LlamaConfig::head_dim},
          {"max_position_embeddings", &LlamaConfig::max_position_embeddings}};
}

std::vector<std::pair<const char*, double LlamaConfig::*>> RealFields() {
  return {{"rms_norm_eps", &LlamaConfig::rms_norm_eps}, {"rope_theta", &LlamaConfig::rope_theta}};
}

// Fields HF writes that change nothing this implementation computes.
const std::set<std::string>& InformationalFields() {
  static const std::set<std::string> fields = {
      "_name_or_path", "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "transformers_version",
      "use_cache", "initializer_range", "architectures", "model_type", "hidden_act", "attention_bias", "mlp_bias",
      "attention_dropout", "pretraining_tp", "rope_scaling"};
  return fields;
}

absl::Status FieldError(const std::string& source, const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": '", key, "' ", why));
}

}  // namespace

absl::Status LlamaConfig::Validate(const std::string& p) const {
  for (const auto& [name, member] : IntFields()) {
    if (this->*member < 1) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".", name, ": must be at least 1, got ", this->*member));
    }
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(p, ".num_key_value_heads: ", num_key_value_heads,
                                                   " does not divide num_attention_heads ", num_attention_heads));
  }
  if (head_dim % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(p, ".head_dim: ", head_dim, " is odd (rotary embeddings rotate pairs of dimensions)"));
  }
  if (!(rms_norm_eps > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(p, ".rms_norm_eps: must be positive, got ", rms_norm_eps));
  }
  if (!(rope_theta > 1)) {
    return absl::InvalidArgumentError(absl::StrCat(p, ".rope_theta: must be above 1, got ", rope_theta));
  }
  return absl::OkStatus();
}

int64_t LlamaConfig::ParameterCount() const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  const int64_t layer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * intermediate_size;
  return vocab_size * h + num_hidden_layers * layer + h + (tie_word_embeddings ? 0 : vocab_size * h);
}

absl::StatusOr<LlamaConfig> LlamaConfig::FromConfigJson(const std::string& text, const std::string& source) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  if (!json.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  // What is known: the architecture's fields and the informational ones; anything else may change the arithmetic.
  std::set<std::string> known = InformationalFields();
  for (const auto& [name, member] : IntFields()) known.insert(name);
  for (const auto& [name, member] : RealFields()) known.insert(name);
  known.insert("tie_word_embeddings");
  for (const auto& item : json.items()) {
    if (!known.count(item.key())) return FieldError(source, item.key(), "is not a field BlockTrainer knows");
  }
  if (!json.contains("model_type") || json["model_type"] != "llama") {
    return FieldError(source, "model_type", json.contains("model_type")
                                                ? absl::StrCat("is ", json["model_type"].dump(), ", expected \"llama\"")
                                                : "is missing (expected \"llama\")");
  }
  if (json.contains("architectures")) {
    const Json& a = json["architectures"];
    if (!a.is_array() || a.size() != 1 || a[0] != "LlamaForCausalLM") {
      return FieldError(source, "architectures", absl::StrCat("is ", a.dump(), ", expected [\"LlamaForCausalLM\"]"));
    }
  }
  if (json.contains("hidden_act") && json["hidden_act"] != "silu") {
    return FieldError(source, "hidden_act", absl::StrCat("is ", json["hidden_act"].dump(), "; only \"silu\" (SwiGLU) is implemented"));
  }
  for (const char* flag : {"attention_bias", "mlp_bias"}) {
    if (json.contains(flag) && json[flag] != false) {
      return FieldError(source, flag, "is set; projections with biases are not implemented");
    }
  }
  if (json.contains("attention_dropout") &&
      (!json["attention_dropout"].is_number() || json["attention_dropout"].get<double>() != 0.0)) {
    return FieldError(source, "attention_dropout", "must be 0 (dropout is not implemented)");
  }
  if (json.contains("pretraining_tp") && json["pretraining_tp"] != 1) {
    return FieldError(source, "pretraining_tp", "must be 1");
  }
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null()) {
    return FieldError(source, "rope_scaling", "is set; only plain rotary embeddings are implemented");
  }

  LlamaConfig c;
  for (const char* required : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads"}) {
    if (!json.contains(required)) return FieldError(source, required, "is missing");
  }
  for (const auto& [name, member] : IntFields()) {
    if (!json.contains(name)) continue;
    const Json& v = json[name];
    if (!v.is_number_integer()) return FieldError(source, name, absl::StrCat("is ", v.dump(), ", not an integer"));
    c.*member = v.get<int64_t>();
  }
  for (const auto& [name, member] : RealFields()) {
    if (!json.contains(name)) continue;
    const Json& v = json[name];
    if (!v.is_number()) return FieldError(source, name, absl::StrCat("is ", v.dump(), ", not a number"));
    c.*member = v.get<double>();
  }
  if (json.contains("tie_word_embeddings")) {
    if (!json["tie_word_embeddings"].is_boolean()) return FieldError(source, "tie_word_embeddings", "is not true or false");
    c.tie_word_embeddings = json["tie_word_embeddings"].get<bool>();
  }
  // HF's defaults for what a config may leave out.
  if (!json.contains("num_key_value_heads")) c.num_key_value_heads = c.num_attention_heads;
  if (!json.contains("head_dim") && c.num_attention_heads > 0) {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return FieldError(source, "num_attention_heads",
                        absl::StrCat("(", c.num_attention_heads, ") does not divide hidden_size ", c.hidden_size,
                                     " and there is no head_dim"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (!json.contains("rms_norm_eps")) c.rms_norm_eps = 1e-6;
  if (!json.contains("rope_theta")) c.rope_theta = 10000.0;
  if (!json.contains("max_position_embeddings")) c.max_position_embeddings = 2048;
  RETURN_IF_ERROR(c.Validate(source));
  return c;
}

std::string LlamaConfig::ToConfigJson() const {
  Json json;
  json["architectures"] = Json::array({"LlamaForCausalLM"});
  json["model_type"] = "llama";
  json["hidden_act"] = "silu";
  json["attention_bias"] = false;
  json["mlp_bias"] = false;
  json["attention_dropout"] = 0.0;
  json["rope_scaling"] = nullptr;
  json["torch_dtype"] = "float32";
  for (const auto& [name, member] : IntFields()) json[name] = this->*member;
  for (const auto& [name, member] : RealFields()) json[name] = this->*member;
  json["tie_word_embeddings"] = tie_word_embeddings;
  return json.dump(2) + "\n";
}

Metadata LlamaConfig::ToMetadata() const {
  Metadata m;
  m["bt.arch"] = "llama";
  for (const auto& [name, member] : IntFields()) m[absl::StrCat("bt.llama.", name)] = absl::StrCat(this->*member);
  for (const auto& [name, member] : RealFields()) {
    m[absl::StrCat("bt.llama.", name)] = absl::StrFormat("%.17g", this->*member);
  }
  m["bt.llama.tie_word_embeddings"] = tie_word_embeddings ? "true" : "false";
  return m;
}

absl::StatusOr<LlamaConfig> LlamaConfig::FromMetadata(const Metadata& metadata) {
  auto arch = metadata.find("bt.arch");
  if (arch == metadata.end() || arch->second != "llama") {
    return absl::InvalidArgumentError("checkpoint metadata does not describe a llama model ('bt.arch' != \"llama\")");
  }
  auto get = [&](const std::string& name) -> absl::StatusOr<std::string> {
    const std::string key = absl::StrCat("bt.llama.", name);
    auto it = metadata.find(key);
    if (it == metadata.end()) return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata lacks '", key, "'"));
    return it->second;
  };
  LlamaConfig c;
  for (const auto& [name, member] : IntFields()) {
    ASSIGN_OR_RETURN(std::string v, get(name));
    if (!absl::SimpleAtoi(v, &(c.*member))) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata 'bt.llama.", name, "' = '", v,
                                                     "' is not an integer"));
    }
  }
  for (const auto& [name, member] : RealFields()) {
    ASSIGN_OR_RETURN(std::string v, get(name));
    if (!absl::SimpleAtod(v, &(c.*member))) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata 'bt.llama.", name, "' = '", v,
                                                     "' is not a number"));
    }
  }
  ASSIGN_OR_RETURN(std::string tied, get("tie_word_embeddings"));
  if (tied != "true" && tied != "false") {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata 'bt.llama.tie_word_embeddings' = '", tied,
                                                   "' is not true or false"));
  }
  c.tie_word_embeddings = tied == "true";
  RETURN_IF_ERROR(c.Validate("checkpoint metadata bt.llama"));
  return c;
}

bool LlamaConfig::operator==(const LlamaConfig& o) const {
  for (const auto& [name, member] : IntFields()) {
    if (this->*member != o.*member) return false;
  }
  for (const auto& [name, member] : RealFields()) {
    if (this->*member != o.*member) return false;
  }
  return tie_word_embeddings == o.tie_word_embeddings;
}

}  // namespace bt
