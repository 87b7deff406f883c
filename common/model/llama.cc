#include "common/model/llama.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/model/block_model.h"

namespace bt {
namespace {

torch::nn::Linear Projection(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

torch::Tensor Project(torch::nn::Linear& linear, const std::optional<LoraAdapter>& lora, const torch::Tensor& x) {
  return lora ? linear(x) + lora->Apply(x) : linear(x);
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
  torch::Tensor q = Project(q_proj, lora_q, x).view({n, t, heads_, d}).transpose(1, 2);     // (N, H, T, d)
  torch::Tensor k = Project(k_proj, lora_k, x).view({n, t, kv_heads_, d}).transpose(1, 2);  // (N, KV, T, d)
  torch::Tensor v = Project(v_proj, lora_v, x).view({n, t, kv_heads_, d}).transpose(1, 2);
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
  return Project(o_proj, lora_o, out);
}

LlamaMlpImpl::LlamaMlpImpl(int64_t hidden, int64_t intermediate) {
  gate_proj = register_module("gate_proj", Projection(hidden, intermediate));
  up_proj = register_module("up_proj", Projection(hidden, intermediate));
  down_proj = register_module("down_proj", Projection(intermediate, hidden));
}

torch::Tensor LlamaMlpImpl::forward(const torch::Tensor& x) {
  return Project(down_proj, lora_down, torch::silu(Project(gate_proj, lora_gate, x)) * Project(up_proj, lora_up, x));
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

namespace {

// The adapters of a layer with the parameter (relative to the layer) each one adapts.
template <typename Attention, typename Mlp>
auto Adapters(Attention& a, Mlp& m) {
  return std::vector<std::pair<std::string, decltype(&a.lora_q)>>{{"self_attn.q_proj.weight", &a.lora_q}, {"self_attn.k_proj.weight", &a.lora_k},
          {"self_attn.v_proj.weight", &a.lora_v}, {"self_attn.o_proj.weight", &a.lora_o},
          {"mlp.gate_proj.weight", &m.lora_gate}, {"mlp.up_proj.weight", &m.lora_up},
          {"mlp.down_proj.weight", &m.lora_down}};
}

}  // namespace

void LlamaDecoderLayerImpl::AttachLora(int64_t rank, double alpha) {
  for (auto& [name, adapter] : Adapters(*self_attn, *mlp)) {
    const torch::Tensor& w = named_parameters()[name];
    *adapter = LoraAdapter::Create(w.size(1), w.size(0), rank, alpha);
  }
}

std::vector<torch::Tensor> LlamaDecoderLayerImpl::LoraParameters() const {
  std::vector<torch::Tensor> out;
  for (auto& [name, adapter] : Adapters(*self_attn, *mlp)) {
    if (*adapter) {
      out.push_back((*adapter)->a);
      out.push_back((*adapter)->b);
    }
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaDecoderLayerImpl::MergedParameters() const {
  torch::NoGradGuard no_grad;
  std::map<std::string, const std::optional<LoraAdapter>*> adapters;  // NOLINT: filled below
  for (auto& [name, adapter] : Adapters(*self_attn, *mlp)) adapters[name] = adapter;
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters()) {
    torch::Tensor value = item.value().detach().clone();
    auto it = adapters.find(item.key());
    if (it != adapters.end() && *it->second) value += (*it->second)->Delta();
    out.emplace_back(item.key(), value);
  }
  return out;
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

// Which rows or columns of a layer's tensors a compressed form keeps: per parameter (relative to the layer), the
// dimension and the indices; tensors not listed are kept whole. Cutting is index_select, writing back index_copy_.
using Cut = std::map<std::string, std::pair<int64_t, torch::Tensor>>;

absl::StatusOr<Cut> SelectLlamaProxy(const LlamaConfig& c, const TensorMap& w, const std::string& p, double sparsity,
                                     int64_t* heads, int64_t* kv_heads, int64_t* units) {
  for (const char* name : {"self_attn.q_proj.weight", "self_attn.o_proj.weight", "mlp.gate_proj.weight",
                           "mlp.up_proj.weight", "mlp.down_proj.weight"}) {
    if (!w.count(p + name)) return absl::InvalidArgumentError(absl::StrCat("missing tensor '", p, name, "'"));
  }
  torch::NoGradGuard no_grad;
  const int64_t h = c.hidden_size, d = c.head_dim, group = c.QueriesPerKeyValue();
  const auto keep = [&](int64_t count) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround((1.0 - sparsity) * static_cast<double>(count))));
  };
  const auto top = [](const torch::Tensor& score, int64_t k) {
    return std::get<0>(std::get<1>(score.topk(k)).sort());  // ascending indices
  };
  // A query head's importance: its q rows and its o_proj columns (squared norms).
  const torch::Tensor head_score = w.at(p + "self_attn.q_proj.weight").view({c.num_attention_heads, d, h}).pow(2).sum(std::vector<int64_t>{1, 2}) +
                                   w.at(p + "self_attn.o_proj.weight").view({h, c.num_attention_heads, d}).pow(2).sum(std::vector<int64_t>{0, 2});
  torch::Tensor kept_heads, kept_kv;
  if (group > 1) {
    // Grouped-query attention: the same number of query heads kept in every group, every key/value head kept.
    const int64_t per_group = keep(group);
    std::vector<torch::Tensor> parts;
    for (int64_t g = 0; g < c.num_key_value_heads; ++g) {
      parts.push_back(top(head_score.slice(0, g * group, (g + 1) * group), per_group) + g * group);
    }
    kept_heads = torch::cat(parts);
    kept_kv = torch::arange(c.num_key_value_heads, torch::kInt64);
    *heads = per_group * c.num_key_value_heads;
    *kv_heads = c.num_key_value_heads;
  } else {
    // One query head per key/value head: a head goes with its key and value rows.
    kept_heads = top(head_score, keep(c.num_attention_heads));
    kept_kv = kept_heads;
    *heads = *kv_heads = kept_heads.size(0);
  }
  // A SwiGLU unit's importance: its gate and up rows against its down column.
  const torch::Tensor unit_score = (w.at(p + "mlp.gate_proj.weight").pow(2).sum(1) + w.at(p + "mlp.up_proj.weight").pow(2).sum(1)).sqrt() *
                                   w.at(p + "mlp.down_proj.weight").pow(2).sum(0).sqrt();
  const torch::Tensor kept_units = top(unit_score, keep(c.intermediate_size));
  *units = kept_units.size(0);
  const auto rows = [&](const torch::Tensor& heads_kept) {
    return (heads_kept.unsqueeze(1) * d + torch::arange(d, torch::kInt64).unsqueeze(0)).reshape({-1});
  };
  Cut cut;
  cut[p + "self_attn.q_proj.weight"] = {0, rows(kept_heads)};
  cut[p + "self_attn.o_proj.weight"] = {1, rows(kept_heads)};
  if (*kv_heads != c.num_key_value_heads) {
    cut[p + "self_attn.k_proj.weight"] = {0, rows(kept_kv)};
    cut[p + "self_attn.v_proj.weight"] = {0, rows(kept_kv)};
  }
  cut[p + "mlp.gate_proj.weight"] = {0, kept_units};
  cut[p + "mlp.up_proj.weight"] = {0, kept_units};
  cut[p + "mlp.down_proj.weight"] = {1, kept_units};
  return cut;
}

// train@s, lora and lora@s of a decoder layer: a LlamaDecoderLayer with the kept heads and SwiGLU units (all of
// them for lora), with adapters on all seven projections for the lora forms.
class LlamaLayerForm : public ModuleLayerForm<LlamaDecoderLayer> {
 public:
  static absl::StatusOr<std::unique_ptr<LayerForm>> Create(const LlamaConfig& c, int64_t layer, const TensorMap& weights,
                                                           const BlockChoice& choice, const LoraOptions& lora) {
    std::unique_ptr<LlamaLayerForm> form(new LlamaLayerForm(absl::StrCat("model.layers.", layer, "."), choice));
    int64_t heads = 0, kv_heads = 0, units = 0;
    ASSIGN_OR_RETURN(form->cut_, SelectLlamaProxy(c, weights, form->prefix_, choice.sparsity, &heads, &kv_heads, &units));
    form->module_ = LlamaDecoderLayer(c, heads, kv_heads, units);
    torch::NoGradGuard no_grad;
    for (auto& item : form->module_->named_parameters()) {
      const std::string name = form->prefix_ + item.key();
      auto it = weights.find(name);
      if (it == weights.end()) return absl::InvalidArgumentError(absl::StrCat("missing tensor '", name, "'"));
      auto cut = form->cut_.find(name);
      const torch::Tensor value = cut == form->cut_.end() ? it->second : it->second.index_select(cut->second.first, cut->second.second);
      if (!value.sizes().equals(item.value().sizes())) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' does not fit the decoder layer"));
      }
      item.value().copy_(value);
    }
    form->Adapt(lora);
    return std::unique_ptr<LayerForm>(std::move(form));
  }
  absl::StatusOr<TensorMap> WriteBack(const TensorMap& full) const override {
    torch::NoGradGuard no_grad;
    TensorMap out;
    for (const auto& [name, t] : full) out[name] = t.clone();
    for (const auto& [key, value] : module_->MergedParameters()) {
      const std::string name = prefix_ + key;
      auto it = out.find(name);
      if (it == out.end()) return absl::InvalidArgumentError(absl::StrCat("the block has no tensor '", name, "'"));
      auto cut = cut_.find(name);
      if (cut == cut_.end()) {
        if (!it->second.sizes().equals(value.sizes())) {
          return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' does not match the block"));
        }
        it->second.copy_(value);
      } else {
        it->second.index_copy_(cut->second.first, cut->second.second, value);
      }
    }
    return out;
  }

 private:
  LlamaLayerForm(std::string prefix, const BlockChoice& choice) : ModuleLayerForm(choice), prefix_(std::move(prefix)) {}
  std::string prefix_;
  Cut cut_;
};

// BlockModel over a Llama: block 0 is the embedding, blocks 1..L the decoder layers, block L+1 the head.
class LlamaBlockModel : public BlockModel {
 public:
  explicit LlamaBlockModel(const LlamaConfig& config) : BlockModel(LlamaBlockLayout(config)), llama_(config) {}
  Metadata ArchitectureMetadata() const override { return llama_->config().ToMetadata(); }
  ModelArch arch() const override { return llama_->config(); }
  torch::Tensor PrepareInput(const torch::Tensor& raw) const override { return raw; }
  torch::Tensor RandomInput(int64_t batch) const override {
    const LlamaConfig& c = llama_->config();
    return torch::randint(0, c.vocab_size, {batch, std::min<int64_t>(c.max_position_embeddings, 128)}, torch::kInt64);
  }
  int64_t OutputsPerSample(const torch::Tensor& raw) const override {
    return (raw.dim() > 1 ? raw.size(1) : 1) * llama_->config().vocab_size;
  }
  // A sequence's features: its hidden states averaged over positions.
  torch::Tensor HeadFeatures(const torch::Tensor& head_input) const override { return head_input.mean(1); }
  static absl::StatusOr<std::unique_ptr<BlockModel>> Create(const LlamaConfig& config, uint64_t seed) {
    return Build<LlamaBlockModel>(config, seed, "the decoder");
  }

 protected:
  absl::StatusOr<std::unique_ptr<LayerForm>> CreateLayerForm(int64_t layer, const TensorMap& weights,
                                                             const BlockChoice& choice,
                                                             const LoraOptions& lora) const override {
    return LlamaLayerForm::Create(llama_->config(), layer, weights, choice, lora);
  }
  torch::nn::Module& module() override { return *llama_; }
  torch::Tensor ForwardEmbed(const torch::Tensor& input) override { return llama_->Embed(input); }
  torch::Tensor ForwardLayer(size_t layer, const torch::Tensor& input) override { return llama_->Layer(layer, input); }
  torch::Tensor ForwardHead(const torch::Tensor& input) override { return llama_->Head(input); }

 private:
  Llama llama_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockModel>> CreateLlamaModel(const LlamaConfig& config, uint64_t seed) {
  return LlamaBlockModel::Create(config, seed);
}

}  // namespace bt
