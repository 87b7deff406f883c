// torchvision's VisionTransformer, re-implemented as LibTorch modules with the same parameter names and the same
// arithmetic (pre-norm encoder layers, LayerNorm eps 1e-6, exact GELU, class token, learned position embedding,
// head on the class token), so that checkpoints move between the two with load_state_dict and logits agree.
// Use through BlockModel (CreateVitModel / LoadModel); these modules are exposed for tests.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/format/model_config.h"
#include "common/model/layer_form.h"

namespace bt {

// `self_attention`: nn.MultiheadAttention(batch_first=True) parameters: in_proj_weight, in_proj_bias, out_proj.
// `head_dim` defaults to hidden_dim / num_heads; a compressed proxy keeps fewer heads of the original width.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t hidden_dim, int64_t num_heads, int64_t head_dim = 0);
  torch::Tensor forward(const torch::Tensor& x);  // (N, S, hidden) -> (N, S, hidden)

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  std::optional<LoraAdapter> lora_in_proj, lora_out_proj;  // set by EncoderBlockImpl::AttachLora

 private:
  int64_t num_heads_;
  int64_t head_dim_;
};
TORCH_MODULE(SelfAttention);

// `mlp`: Linear (mlp.0) → GELU → Dropout → Linear (mlp.3) → Dropout, as in torchvision's MLPBlock.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden_dim, int64_t mlp_dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  std::optional<LoraAdapter> lora_fc1, lora_fc2;  // set by EncoderBlockImpl::AttachLora
};
TORCH_MODULE(Mlp);

// `encoder.layers.encoder_layer_<i>`: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(int64_t hidden_dim, int64_t num_heads, int64_t mlp_dim, int64_t head_dim = 0);
  torch::Tensor forward(const torch::Tensor& x);
  // Adds LoRA adapters of `rank` (scale alpha / rank) to the four weight matrices (q/k/v in-projection, out-projection,
  // both MLP layers); the block's own parameters are left as they are (the caller freezes them).
  void AttachLora(int64_t rank, double alpha);
  std::vector<torch::Tensor> LoraParameters() const;  // A and B of every adapter; empty without adapters
  // The block's weights with the adapters merged in, keyed by parameter name relative to the block
  // ("self_attention.in_proj_weight", ...): exactly what forward computes without adapters.
  std::vector<std::pair<std::string, torch::Tensor>> MergedParameters() const;
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention self_attention{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(EncoderBlock);

// The whole model. Its forward is split into the three block kinds so BlockModel can run any range of blocks.
class VitImpl : public torch::nn::Module {
 public:
  explicit VitImpl(const VitConfig& config);
  torch::Tensor Embed(const torch::Tensor& images);            // (N, C, H, W) -> tokens (N, S, hidden)
  torch::Tensor Layer(size_t index, const torch::Tensor& x);  // tokens -> tokens
  torch::Tensor Head(const torch::Tensor& x);                 // tokens -> logits (N, classes)
  torch::Tensor forward(const torch::Tensor& images);

  const VitConfig& config() const { return config_; }

 private:
  VitConfig config_;
  torch::nn::Conv2d conv_proj{nullptr};
  torch::Tensor class_token;
  std::shared_ptr<torch::nn::Module> encoder_, layers_holder_, heads_;
  torch::Tensor pos_embedding;
  std::vector<EncoderBlock> layers_;
  torch::nn::LayerNorm encoder_ln{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Vit);

}  // namespace bt
