#include "common/model/llama.h"

#include <cmath>

#include "common/model/block_model.h"

namespace bt {
namespace {

torch::nn::Linear Projection(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

RmsNormImpl::RmsNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor f = x.to(torch::kFloat32);
  f = f * torch::rsqrt(f.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * f.to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> RotaryTables(int64_t length, int64_t head_dim, double theta) {
  torch::NoGradGuard no_grad;
  const torch::Tensor exponents = torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) /
                                  static_cast<double>(head_dim);
  const torch::Tensor inv_freq = 1.0 / torch::pow(theta, exponents);
  const torch::Tensor positions = torch::arange(length, torch::kInt64).to(torch::kFloat32);
  const torch::Tensor freqs = torch::outer(positions, inv_freq);  // (T, head_dim / 2)
  const torch::Tensor angles = torch::cat({freqs, freqs}, -1);    // (T, head_dim)
  return {angles.cos(), angles.sin()};
}

LlamaAttentionImpl::LlamaAttentionImpl(int64_t hidden, int64_t heads, int64_t kv_heads, int64_t head_dim,
                                       double rope_theta)
    : heads_(heads), kv_heads_(kv_heads), head_dim_(head_dim), rope_theta_(rope_theta) {
  q_proj = register_module("q_proj", Projection(hidden, heads * head_dim));
  k_proj = register_module("k_proj", Projection(hidden, kv_heads * head_dim));
  v_proj = register_module("v_proj", Projection(hidden, kv_heads * head_dim));
  o_proj = register_module("o_proj", Projection(heads * head_dim, hidden));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), t = x.size(1), d = head_dim_;
  torch::Tensor q = q_proj(x).view({n, t, heads_, d}).transpose(1, 2);     // (N, H, T, d)
  torch::Tensor k = k_proj(x).view({n, t, kv_heads_, d}).transpose(1, 2);  // (N, KV, T, d)
  torch::Tensor v = v_proj(x).view({n, t, kv_heads_, d}).transpose(1, 2);
  auto [cos, sin] = RotaryTables(t, d, rope_theta_);
  q = q * cos + RotateHalf(q) * sin;
  k = k * cos + RotateHalf(k) * sin;
  if (heads_ != kv_heads_) {  // query head h reads key/value head h / (heads / kv_heads)
    k = k.repeat_interleave(heads_ / kv_heads_, 1);
    v = v.repeat_interleave(heads_ / kv_heads_, 1);
  }
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(d)));
  const torch::Tensor future = torch::ones({t, t}, torch::kBool).triu(1);
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  torch::Tensor attention = torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type());
  torch::Tensor out = torch::matmul(attention, v).transpose(1, 2).reshape({n, t, heads_ * d});
  return o_proj(out);
}

LlamaMlpImpl::LlamaMlpImpl(int64_t hidden, int64_t intermediate) {
  gate_proj = register_module("gate_proj", Projection(hidden, intermediate));
  up_proj = register_module("up_proj", Projection(hidden, intermediate));
  down_proj = register_module("down_proj", Projection(intermediate, hidden));
}

torch::Tensor LlamaMlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& c, int64_t heads, int64_t kv_heads,
                                             int64_t intermediate) {
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", LlamaAttention(c.hidden_size, heads, kv_heads, c.head_dim, c.rope_theta));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  mlp = register_module("mlp", LlamaMlp(c.hidden_size, intermediate));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x + self_attn(input_layernorm(x));
  return h + mlp(post_attention_layernorm(h));
}

LlamaImpl::LlamaImpl(const LlamaConfig& config) : config_(config) {
  model_ = register_module("model", std::make_shared<torch::nn::Module>());
  embed_tokens = model_->register_module("embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layers_holder_ = model_->register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(layers_holder_->register_module(absl::StrCat(i), LlamaDecoderLayer(config)));
  }
  norm = model_->register_module("norm", RmsNorm(config.hidden_size, config.rms_norm_eps));
  if (!config.tie_word_embeddings) lm_head = register_module("lm_head", Projection(config.hidden_size, config.vocab_size));

  // HF's initialisation: every projection and the embedding N(0, 0.02²), norms at one.
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    if (item.value().dim() == 2) torch::nn::init::normal_(item.value(), 0.0, 0.02);
  }
}

torch::Tensor LlamaImpl::Embed(const torch::Tensor& tokens) { return embed_tokens(tokens); }

torch::Tensor LlamaImpl::Layer(size_t index, const torch::Tensor& x) { return layers_.at(index)->forward(x); }

torch::Tensor LlamaImpl::Head(const torch::Tensor& x) {
  torch::Tensor h = norm(x);
  return lm_head ? lm_head(h) : torch::nn::functional::linear(h, embed_tokens->weight);
}

torch::Tensor LlamaImpl::forward(const torch::Tensor& tokens) {
  torch::Tensor x = Embed(tokens);
  for (size_t i = 0; i < layers_.size(); ++i) x = Layer(i, x);
  return Head(x);
}

namespace {

// BlockModel over a Llama: block 0 is the embedding, blocks 1..L the decoder layers, block L+1 the head.
class LlamaBlockModel : public BlockModel {
 public:
  explicit LlamaBlockModel(const LlamaConfig& config) : BlockModel(LlamaBlockLayout(config)), llama_(config) {}
  absl::Status Init() { return IndexParameters(); }
  Metadata ArchitectureMetadata() const override { return llama_->config().ToMetadata(); }
  ModelArch arch() const override { return llama_->config(); }

 protected:
  torch::nn::Module& module() override { return *llama_; }
  torch::Tensor ForwardBlock(size_t index, const torch::Tensor& input) override {
    if (index == 0) return llama_->Embed(input);
    if (index <= static_cast<size_t>(llama_->config().num_hidden_layers)) return llama_->Layer(index - 1, input);
    return llama_->Head(input);
  }

 private:
  Llama llama_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockModel>> CreateLlamaModel(const LlamaConfig& config, uint64_t seed) {
  RETURN_IF_ERROR(config.Validate());
  try {
    torch::manual_seed(seed);
    auto model = std::make_unique<LlamaBlockModel>(config);
    RETURN_IF_ERROR(model->Init());
    return std::unique_ptr<BlockModel>(std::move(model));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot build the decoder: ", e.what_without_backtrace()));
  }
}

}  // namespace bt
