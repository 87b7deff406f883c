// The architecture of a LLaMA-style decoder in Hugging Face's terms (LlamaForCausalLM): token embedding, decoder
// layers (RMSNorm, grouped-query attention with rotary position embeddings, SwiGLU MLP), final RMSNorm, LM head
// (optionally tied to the embedding). Torch-free, like VitConfig: the cloud's store, manifests and the planner
// describe a decoder without LibTorch.
//
// Two spellings: HF's `config.json` (FromConfigJson / ToConfigJson, for model directories a user brings or takes
// away) and checkpoint metadata (`bt.arch` = "llama", `bt.llama.<field>`), so a BlockTrainer checkpoint file is
// self-describing like a ViT one.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"
#include "common/format/safetensors.h"

namespace bt {

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;   // SwiGLU hidden units per layer
  int64_t num_hidden_layers = 32;      // decoder layers, one block each
  int64_t num_attention_heads = 32;    // query heads
  int64_t num_key_value_heads = 32;    // key/value heads (grouped-query attention); divides num_attention_heads
  int64_t head_dim = 128;              // per head; HF's default hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;    // the LM head reuses model.embed_tokens.weight (then `embed` owns it)

  // Relations between fields; errors name the key under `key_prefix`.
  absl::Status Validate(const std::string& key_prefix = "config") const;
  int64_t ParameterCount() const;
  int64_t QueriesPerKeyValue() const { return num_attention_heads / num_key_value_heads; }

  // Parses an HF config.json. `source` names the file in errors. Fields BlockTrainer does not implement (another
  // model_type or hidden_act, rope_scaling, attention or MLP biases, dropout, pretraining_tp > 1) and fields it
  // does not know are errors that name the field; purely informational fields (token ids, torch_dtype,
  // transformers_version, ...) are accepted and ignored.
  static absl::StatusOr<LlamaConfig> FromConfigJson(const std::string& text, const std::string& source);
  // The same fields as HF writes them (model_type "llama", architectures ["LlamaForCausalLM"]), pretty-printed.
  std::string ToConfigJson() const;

  Metadata ToMetadata() const;
  static absl::StatusOr<LlamaConfig> FromMetadata(const Metadata& metadata);

  bool operator==(const LlamaConfig& other) const;
};

}  // namespace bt
