#include "common/model/vit.h"

#include <cmath>
#include <map>

#include "common/model/block_model.h"
#include "common/model/proxy.h"

namespace bt {

LoraAdapter LoraAdapter::Create(int64_t in, int64_t out, int64_t rank, double alpha) {
  LoraAdapter adapter;
  // A like a Kaiming-uniform init (bound 1/sqrt(in)), B zero: the product starts at zero.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  adapter.a = (torch::rand({rank, in}) * 2 - 1) * bound;
  adapter.b = torch::zeros({out, rank});
  adapter.a.requires_grad_(true);
  adapter.b.requires_grad_(true);
  adapter.scale = alpha / static_cast<double>(rank);
  return adapter;
}

SelfAttentionImpl::SelfAttentionImpl(int64_t hidden_dim, int64_t num_heads, int64_t head_dim)
    : num_heads_(num_heads), head_dim_(head_dim > 0 ? head_dim : hidden_dim / num_heads) {
  const int64_t inner = num_heads_ * head_dim_;
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * inner, hidden_dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * inner}));
  out_proj = register_module("out_proj", torch::nn::Linear(inner, hidden_dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::nn::init::zeros_(out_proj->bias);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), s = x.size(1), d = head_dim_, inner = num_heads_ * head_dim_;
  // (N, S, 3·inner) -> 3 × (N, heads, S, d)
  torch::Tensor projected = torch::nn::functional::linear(x, in_proj_weight, in_proj_bias);
  if (lora_in_proj) projected = projected + lora_in_proj->Apply(x);
  auto qkv = projected.view({n, s, 3, num_heads_, d})
                 .permute({2, 0, 3, 1, 4});
  torch::Tensor q = qkv[0] * (1.0 / std::sqrt(static_cast<double>(d)));
  torch::Tensor attention = torch::softmax(torch::matmul(q, qkv[1].transpose(-2, -1)), -1);
  torch::Tensor out = torch::matmul(attention, qkv[2]).transpose(1, 2).reshape({n, s, inner});
  return lora_out_proj ? out_proj(out) + lora_out_proj->Apply(out) : out_proj(out);
}

MlpImpl::MlpImpl(int64_t hidden_dim, int64_t mlp_dim) {
  fc1 = register_module("0", torch::nn::Linear(hidden_dim, mlp_dim));
  fc2 = register_module("3", torch::nn::Linear(mlp_dim, hidden_dim));
  torch::NoGradGuard no_grad;
  for (auto* linear : {&fc1, &fc2}) {
    torch::nn::init::xavier_uniform_((*linear)->weight);
    torch::nn::init::normal_((*linear)->bias, 0.0, 1e-6);
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  // Dropout is 0 in every configuration we build, so the two dropout layers (mlp.2, mlp.4) hold no state.
  torch::Tensor h = fc1(x);
  if (lora_fc1) h = h + lora_fc1->Apply(x);
  h = torch::gelu(h);
  return lora_fc2 ? fc2(h) + lora_fc2->Apply(h) : fc2(h);
}

EncoderBlockImpl::EncoderBlockImpl(int64_t hidden_dim, int64_t num_heads, int64_t mlp_dim, int64_t head_dim) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_dim}).eps(1e-6)));
  self_attention = register_module("self_attention", SelfAttention(hidden_dim, num_heads, head_dim));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_dim}).eps(1e-6)));
  mlp = register_module("mlp", Mlp(hidden_dim, mlp_dim));
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x + self_attention(ln_1(x));
  return y + mlp(ln_2(y));
}

void EncoderBlockImpl::AttachLora(int64_t rank, double alpha) {
  auto make = [&](const torch::Tensor& weight) { return LoraAdapter::Create(weight.size(1), weight.size(0), rank, alpha); };
  self_attention->lora_in_proj = make(self_attention->in_proj_weight);
  self_attention->lora_out_proj = make(self_attention->out_proj->weight);
  mlp->lora_fc1 = make(mlp->fc1->weight);
  mlp->lora_fc2 = make(mlp->fc2->weight);
}

std::vector<torch::Tensor> EncoderBlockImpl::LoraParameters() const {
  std::vector<torch::Tensor> out;
  for (const auto* adapter : {&self_attention->lora_in_proj, &self_attention->lora_out_proj, &mlp->lora_fc1,
                              &mlp->lora_fc2}) {
    if (*adapter) {
      out.push_back((*adapter)->a);
      out.push_back((*adapter)->b);
    }
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> EncoderBlockImpl::MergedParameters() const {
  torch::NoGradGuard no_grad;
  const std::map<std::string, const std::optional<LoraAdapter>*> adapters = {
      {"self_attention.in_proj_weight", &self_attention->lora_in_proj},
      {"self_attention.out_proj.weight", &self_attention->lora_out_proj},
      {"mlp.0.weight", &mlp->lora_fc1},
      {"mlp.3.weight", &mlp->lora_fc2}};
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters()) {
    torch::Tensor value = item.value().detach().clone();
    auto it = adapters.find(item.key());
    if (it != adapters.end() && *it->second) value += (*it->second)->Delta();
    out.emplace_back(item.key(), value);
  }
  return out;
}

VitImpl::VitImpl(const VitConfig& config) : config_(config) {
  const int64_t h = config.hidden_dim;
  conv_proj = register_module(
      "conv_proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.channels, h, config.patch_size).stride(config.patch_size)));
  class_token = register_parameter("class_token", torch::zeros({1, 1, h}));
  encoder_ = register_module("encoder", std::make_shared<torch::nn::Module>());
  pos_embedding = encoder_->register_parameter("pos_embedding", torch::empty({1, config.SequenceLength(), h}));
  layers_holder_ = encoder_->register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers_.push_back(layers_holder_->register_module(absl::StrCat("encoder_layer_", i),
                                                      EncoderBlock(h, config.num_heads, config.mlp_dim)));
  }
  encoder_ln =
      encoder_->register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(1e-6)));
  heads_ = register_module("heads", std::make_shared<torch::nn::Module>());
  head = heads_->register_module("head", torch::nn::Linear(h, config.num_classes));

  // torchvision's initialisation. Its trunc_normal_ for conv_proj truncates at ±2 in absolute terms, which is
  // far outside ±std here, so a plain normal draw is the same distribution in practice.
  torch::NoGradGuard no_grad;
  const double fan_in = static_cast<double>(config.channels * config.patch_size * config.patch_size);
  torch::nn::init::normal_(conv_proj->weight, 0.0, std::sqrt(1.0 / fan_in));
  torch::nn::init::zeros_(conv_proj->bias);
  torch::nn::init::normal_(pos_embedding, 0.0, 0.02);
  torch::nn::init::zeros_(head->weight);
  torch::nn::init::zeros_(head->bias);
}

torch::Tensor VitImpl::Embed(const torch::Tensor& images) {
  torch::Tensor x = conv_proj(images);       // (N, h, H/p, W/p)
  x = x.flatten(2).transpose(1, 2);          // (N, S-1, h)
  x = torch::cat({class_token.expand({x.size(0), -1, -1}), x}, 1);
  return x + pos_embedding;
}

torch::Tensor VitImpl::Layer(size_t index, const torch::Tensor& x) { return layers_.at(index)->forward(x); }

torch::Tensor VitImpl::Head(const torch::Tensor& x) {
  // torchvision normalises every token, then keeps the class token; normalising only that token is identical.
  return head(encoder_ln(x.select(1, 0)));
}

torch::Tensor VitImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = Embed(images);
  for (size_t i = 0; i < layers_.size(); ++i) x = Layer(i, x);
  return Head(x);
}

namespace {

// train@s, lora and lora@s of an encoder layer: an EncoderBlock keeping the selected heads and MLP units at their
// original width (all of them for lora), with adapters for the lora forms.
class VitLayerForm : public ModuleLayerForm<EncoderBlock> {
 public:
  static absl::StatusOr<std::unique_ptr<LayerForm>> Create(const VitConfig& config, int64_t layer,
                                                           const TensorMap& weights, const BlockChoice& choice,
                                                           const LoraOptions& lora) {
    std::unique_ptr<VitLayerForm> form(new VitLayerForm(config, layer, choice));
    ASSIGN_OR_RETURN(form->spec_, SelectProxyByMagnitude(weights, layer, config, choice.sparsity));
    ASSIGN_OR_RETURN(TensorMap proxy_weights, ExtractProxy(weights, layer, config, form->spec_));
    form->module_ = EncoderBlock(config.hidden_dim, static_cast<int64_t>(form->spec_.heads.size()),
                                 static_cast<int64_t>(form->spec_.mlp_units.size()), config.hidden_dim / config.num_heads);
    torch::NoGradGuard no_grad;
    const std::string prefix = LayerPrefix(layer);
    for (auto& item : form->module_->named_parameters()) item.value().copy_(proxy_weights.at(prefix + item.key()));
    form->Adapt(lora);
    return std::unique_ptr<LayerForm>(std::move(form));
  }
  absl::StatusOr<TensorMap> WriteBack(const TensorMap& full) const override {
    TensorMap proxy;
    for (const auto& [key, value] : module_->MergedParameters()) proxy[LayerPrefix(layer_) + key] = value;
    return WriteBackProxy(full, proxy, layer_, config_, spec_);
  }

 private:
  VitLayerForm(const VitConfig& config, int64_t layer, const BlockChoice& choice)
      : ModuleLayerForm(choice), config_(config), layer_(layer) {}
  VitConfig config_;
  int64_t layer_;
  ProxySpec spec_;
};

// BlockModel over a Vit: block 0 is Embed, blocks 1..L the encoder layers, block L+1 the head.
class VitBlockModel : public BlockModel {
 public:
  explicit VitBlockModel(const VitConfig& config) : BlockModel(VitBlockLayout(config)), vit_(config) {}
  Metadata ArchitectureMetadata() const override { return vit_->config().ToMetadata(); }
  ModelArch arch() const override { return vit_->config(); }
  // The model's own normalisation (VitConfig::image_mean / image_std), per channel.
  torch::Tensor PrepareInput(const torch::Tensor& raw) const override {
    const VitConfig& c = vit_->config();
    if (c.image_mean.size() == 1 && c.image_std.size() == 1) return raw.sub(c.image_mean[0]).div(c.image_std[0]);
    auto per_channel = [&](const std::vector<double>& v) {
      std::vector<float> f(static_cast<size_t>(c.channels));
      for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(v.size() == 1 ? v[0] : v[i]);
      return torch::tensor(f).view({1, c.channels, 1, 1});
    };
    return (raw - per_channel(c.image_mean)) / per_channel(c.image_std);
  }
  torch::Tensor RandomInput(int64_t batch) const override {
    const VitConfig& c = vit_->config();
    return torch::rand({batch, c.channels, c.image_size, c.image_size});
  }
  int64_t OutputsPerSample(const torch::Tensor&) const override { return vit_->config().num_classes; }
  torch::Tensor HeadFeatures(const torch::Tensor& head_input) const override { return head_input.select(1, 0); }
  static absl::StatusOr<std::unique_ptr<BlockModel>> Create(const VitConfig& config, uint64_t seed) {
    return Build<VitBlockModel>(config, seed, "ViT");
  }

 protected:
  absl::StatusOr<std::unique_ptr<LayerForm>> CreateLayerForm(int64_t layer, const TensorMap& weights,
                                                             const BlockChoice& choice,
                                                             const LoraOptions& lora) const override {
    return VitLayerForm::Create(vit_->config(), layer, weights, choice, lora);
  }
  torch::nn::Module& module() override { return *vit_; }
  torch::Tensor ForwardEmbed(const torch::Tensor& input) override { return vit_->Embed(input); }
  torch::Tensor ForwardLayer(size_t layer, const torch::Tensor& input) override { return vit_->Layer(layer, input); }
  torch::Tensor ForwardHead(const torch::Tensor& input) override { return vit_->Head(input); }

 private:
  Vit vit_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockModel>> CreateVitModel(const VitConfig& config, uint64_t seed) {
  return VitBlockModel::Create(config, seed);
}

}  // namespace bt
