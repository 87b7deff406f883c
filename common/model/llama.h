// Hugging Face's LlamaForCausalLM, re-implemented as LibTorch modules with the same parameter names and the same
// arithmetic, so that checkpoints move between the two and logits agree (tests/fixtures/make_llama_fixture.py holds
// the reference forward, written from the published formulas):
//   RMSNorm        y = w · x / sqrt(mean(x²) + eps)                                     (in F32)
//   rotary         q' = q·cos + rotate_half(q)·sin, rotate_half(x) = [−x₂, x₁] (halves of the head dimension),
//                  angle of position p, pair i = p / rope_theta^(2i/head_dim); the same for k
//   attention      grouped-query: query head h reads key/value head h / (heads / kv_heads); causal; softmax in F32
//   MLP (SwiGLU)   down(silu(gate(x)) ⊙ up(x)); no biases anywhere
//   layer          x + attn(input_layernorm(x)), then + mlp(post_attention_layernorm(·))
//   head           lm_head(norm(x)), or with tied embeddings norm(x) · embed_tokensᵀ
// Use through BlockModel (CreateLlamaModel / LoadModel); the modules are exposed for tests and the composed forms.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/format/llama_config.h"
#include "common/model/layer_form.h"

namespace bt {

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

// cos and sin of the rotary angles for positions 0 .. length−1, each (length, head_dim).
std::pair<torch::Tensor, torch::Tensor> RotaryTables(int64_t length, int64_t head_dim, double theta);

// `self_attn`: q_proj, k_proj, v_proj, o_proj (no biases). `heads` / `kv_heads` may be fewer than the config's in
// a compressed form; `queries_per_kv` query heads share each key/value head.
class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(int64_t hidden, int64_t heads, int64_t kv_heads, int64_t head_dim, double rope_theta);
  torch::Tensor forward(const torch::Tensor& x);  // (N, T, hidden) -> (N, T, hidden), causal
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  std::optional<LoraAdapter> lora_q, lora_k, lora_v, lora_o;  // set by LlamaDecoderLayerImpl::AttachLora

 private:
  int64_t heads_, kv_heads_, head_dim_;
  double rope_theta_;
};
TORCH_MODULE(LlamaAttention);

// `mlp`: gate_proj, up_proj, down_proj.
class LlamaMlpImpl : public torch::nn::Module {
 public:
  LlamaMlpImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  std::optional<LoraAdapter> lora_gate, lora_up, lora_down;  // set by LlamaDecoderLayerImpl::AttachLora
};
TORCH_MODULE(LlamaMlp);

// `model.layers.<i>`.
class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, int64_t heads, int64_t kv_heads, int64_t intermediate);
  explicit LlamaDecoderLayerImpl(const LlamaConfig& config)
      : LlamaDecoderLayerImpl(config, config.num_attention_heads, config.num_key_value_heads,
                              config.intermediate_size) {}
  torch::Tensor forward(const torch::Tensor& x);
  // LoRA adapters of `rank` on all seven projections; the layer's own weights stay as they are (frozen by the caller).
  void AttachLora(int64_t rank, double alpha);
  std::vector<torch::Tensor> LoraParameters() const;  // A and B of every adapter; empty without adapters
  // The layer's weights with the adapters merged in, keyed relative to the layer ("self_attn.q_proj.weight", ...).
  std::vector<std::pair<std::string, torch::Tensor>> MergedParameters() const;
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaMlp mlp{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// The whole model, its forward split into the three block kinds.
class LlamaImpl : public torch::nn::Module {
 public:
  explicit LlamaImpl(const LlamaConfig& config);
  torch::Tensor Embed(const torch::Tensor& tokens);           // (N, T) int64 -> (N, T, hidden)
  torch::Tensor Layer(size_t index, const torch::Tensor& x);  // (N, T, hidden) -> same
  torch::Tensor Head(const torch::Tensor& x);                 // -> logits (N, T, vocab)
  torch::Tensor forward(const torch::Tensor& tokens);
  const LlamaConfig& config() const { return config_; }

 private:
  LlamaConfig config_;
  std::shared_ptr<torch::nn::Module> model_, layers_holder_;
  torch::nn::Embedding embed_tokens{nullptr};
  std::vector<LlamaDecoderLayer> layers_;
  RmsNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null with tied embeddings
};
TORCH_MODULE(Llama);

}  // namespace bt
