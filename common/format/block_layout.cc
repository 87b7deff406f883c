#include "common/format/block_layout.h"

#include <map>

namespace bt {

std::vector<BlockSpec> VitBlockLayout(const VitConfig& c) {
  const int64_t h = c.hidden_dim;
  std::vector<BlockSpec> blocks;
  blocks.push_back({"embed",
                    {{"conv_proj.weight", {h, c.channels, c.patch_size, c.patch_size}},
                     {"conv_proj.bias", {h}},
                     {"class_token", {1, 1, h}},
                     {"encoder.pos_embedding", {1, c.SequenceLength(), h}}}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string p = absl::StrCat("encoder.layers.encoder_layer_", i, ".");
    blocks.push_back({absl::StrCat("encoder_layer_", i),
                      {{p + "ln_1.weight", {h}},
                       {p + "ln_1.bias", {h}},
                       {p + "self_attention.in_proj_weight", {3 * h, h}},
                       {p + "self_attention.in_proj_bias", {3 * h}},
                       {p + "self_attention.out_proj.weight", {h, h}},
                       {p + "self_attention.out_proj.bias", {h}},
                       {p + "ln_2.weight", {h}},
                       {p + "ln_2.bias", {h}},
                       {p + "mlp.0.weight", {c.mlp_dim, h}},
                       {p + "mlp.0.bias", {c.mlp_dim}},
                       {p + "mlp.3.weight", {h, c.mlp_dim}},
                       {p + "mlp.3.bias", {h}}}});
  }
  blocks.push_back({"head",
                    {{"encoder.ln.weight", {h}},
                     {"encoder.ln.bias", {h}},
                     {"heads.head.weight", {c.num_classes, h}},
                     {"heads.head.bias", {c.num_classes}}}});
  return blocks;
}

std::vector<BlockSpec> LlamaBlockLayout(const LlamaConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const int64_t m = c.intermediate_size;
  std::vector<BlockSpec> blocks;
  blocks.push_back({"embed", {{"model.embed_tokens.weight", {c.vocab_size, h}}}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    blocks.push_back({absl::StrCat("layer_", i),
                      {{p + "input_layernorm.weight", {h}},
                       {p + "self_attn.q_proj.weight", {q, h}},
                       {p + "self_attn.k_proj.weight", {kv, h}},
                       {p + "self_attn.v_proj.weight", {kv, h}},
                       {p + "self_attn.o_proj.weight", {h, q}},
                       {p + "post_attention_layernorm.weight", {h}},
                       {p + "mlp.gate_proj.weight", {m, h}},
                       {p + "mlp.up_proj.weight", {m, h}},
                       {p + "mlp.down_proj.weight", {h, m}}}});
  }
  BlockSpec head{"head", {{"model.norm.weight", {h}}}};
  if (!c.tie_word_embeddings) head.params.push_back({"lm_head.weight", {c.vocab_size, h}});
  blocks.push_back(std::move(head));
  return blocks;
}

absl::StatusOr<std::vector<std::vector<TensorView>>> GroupByBlock(const std::vector<BlockSpec>& layout,
                                                                  const std::vector<TensorView>& tensors,
                                                                  bool half_precision) {
  std::map<std::string, const TensorView*> by_name;
  for (const TensorView& t : tensors) by_name[t.name] = &t;
  std::vector<std::vector<TensorView>> grouped(layout.size());
  size_t used = 0;
  for (size_t b = 0; b < layout.size(); ++b) {
    for (const ParamSpec& param : layout[b].params) {
      auto it = by_name.find(param.name);
      if (it == by_name.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("block '", layout[b].name, "': parameter '", param.name, "' is missing"));
      }
      const TensorView& t = *it->second;
      if (t.shape != param.shape) {
        std::string got, want;
        for (int64_t d : t.shape) absl::StrAppend(&got, got.empty() ? "" : "x", d);
        for (int64_t d : param.shape) absl::StrAppend(&want, want.empty() ? "" : "x", d);
        return absl::InvalidArgumentError(absl::StrCat("parameter '", param.name, "' has shape [", got,
                                                       "], the architecture needs [", want, "]"));
      }
      const bool half = t.dtype == DType::kF16 || t.dtype == DType::kBF16;
      if (t.dtype != DType::kF32 && !(half_precision && half)) {
        return absl::InvalidArgumentError(absl::StrCat("parameter '", param.name, "' is ", DTypeName(t.dtype),
                                                       half_precision ? ", expected F32, F16 or BF16" : ", expected F32"));
      }
      grouped[b].push_back(t);
      ++used;
    }
  }
  if (used != tensors.size()) {
    std::map<std::string, bool> known;
    for (const BlockSpec& block : layout) {
      for (const ParamSpec& p : block.params) known[p.name] = true;
    }
    for (const TensorView& t : tensors) {
      if (!known.count(t.name)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' belongs to no block of the model"));
      }
    }
  }
  return grouped;
}

}  // namespace bt
