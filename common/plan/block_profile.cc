#include "common/plan/block_profile.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace bt {

double ProxyShare(const LayerShape& layer, double sparsity) {
  if (layer.parameters <= 0) return 0;
  double kept = static_cast<double>(layer.parameters) - sparsity * static_cast<double>(layer.prunable_parameters);
  return std::max(0.0, kept / static_cast<double>(layer.parameters));
}

std::vector<BlockProfile> AnalyticProfile(const std::vector<LayerShape>& layers, const ProfileOptions& o) {
  std::vector<BlockProfile> out;
  const double batch = static_cast<double>(o.batch);
  for (const LayerShape& layer : layers) {
    BlockProfile p;
    p.name = layer.name;
    p.parameters = layer.parameters;
    const double weights = o.bytes_per_param * static_cast<double>(layer.parameters);
    const double forward = batch * layer.forward_flops / o.flops_per_second;
    p.prefix_bytes = static_cast<uint64_t>(weights);
    p.prefix_seconds = forward;
    // In the backward path a frozen block still propagates input gradients (about one forward's work).
    p.options.push_back({BlockChoice::Frozen(), false, 0.0,
                         static_cast<uint64_t>(weights + batch * layer.frozen_activation_bytes), 2 * forward});
    // Training adds the weight gradients (another forward's work) and the optimiser state.
    p.options.push_back({BlockChoice::Train(), true, 1.0,
                         static_cast<uint64_t>(weights * (1 + o.training_copies) +
                                               batch * layer.activation_bytes),
                         3 * forward});
    if (layer.proxies) {
      for (double s : o.sparsities) {
        const double share = ProxyShare(layer, s);
        // The proxy replaces the block: smaller weights, state, activations and work, roughly by its share.
        p.options.push_back({BlockChoice::Proxy(s), true, share,
                             static_cast<uint64_t>(weights * share * (1 + o.training_copies) +
                                                   batch * layer.activation_bytes * share),
                             3 * forward * share});
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<LayerShape> VitLayerShapes(const VitConfig& c) {
  const double s = static_cast<double>(c.SequenceLength()), h = static_cast<double>(c.hidden_dim);
  const double m = static_cast<double>(c.mlp_dim), heads = static_cast<double>(c.num_heads);
  const int64_t patches = c.SequenceLength() - 1;
  std::vector<LayerShape> out;
  LayerShape embed;
  embed.name = "embed";
  embed.parameters = c.channels * c.patch_size * c.patch_size * c.hidden_dim + c.hidden_dim + c.hidden_dim +
                     c.SequenceLength() * c.hidden_dim;
  embed.forward_flops = 2.0 * patches * c.channels * c.patch_size * c.patch_size * h;
  embed.activation_bytes = 4.0 * (c.channels * c.image_size * c.image_size + s * h);
  embed.frozen_activation_bytes = 4.0 * s * h;
  out.push_back(embed);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerShape layer;
    layer.name = absl::StrCat("encoder_layer_", i);
    layer.parameters = 4 * c.hidden_dim + 4 * c.hidden_dim * c.hidden_dim + 4 * c.hidden_dim +
                       2 * c.hidden_dim * c.mlp_dim + c.mlp_dim;
    // Heads (q, k, v rows and out_proj columns) and MLP units (rows of mlp.0, columns of mlp.3) are prunable.
    layer.prunable_parameters = 4 * c.hidden_dim * c.hidden_dim + 3 * c.hidden_dim + 2 * c.hidden_dim * c.mlp_dim +
                                c.mlp_dim;
    layer.forward_flops = 2.0 * (s * (4 * h * h + 2 * h * m) + 2 * s * s * h);
    // Saved for backward: norm inputs, projections' inputs, q/k/v, attention probabilities, MLP hidden twice.
    layer.activation_bytes = 4.0 * (s * (8 * h + 2 * m) + heads * s * s);
    layer.frozen_activation_bytes = layer.activation_bytes;
    layer.proxies = true;
    out.push_back(layer);
  }
  LayerShape head;
  head.name = "head";
  head.parameters = 2 * c.hidden_dim + c.hidden_dim * c.num_classes + c.num_classes;
  head.forward_flops = 2.0 * h * c.num_classes;
  head.activation_bytes = 4.0 * (2 * h + c.num_classes);
  head.frozen_activation_bytes = head.activation_bytes;
  out.push_back(head);
  return out;
}

std::vector<LayerShape> DecoderLayerShapes(int64_t layers, int64_t hidden, int64_t mlp, int64_t vocab,
                                           int64_t sequence) {
  const double s = static_cast<double>(sequence), h = static_cast<double>(hidden), m = static_cast<double>(mlp);
  std::vector<LayerShape> out;
  LayerShape embed;
  embed.name = "embed";
  embed.parameters = vocab * hidden;
  embed.forward_flops = 0;
  embed.activation_bytes = 4.0 * s * h;
  embed.frozen_activation_bytes = 4.0 * s * h;
  out.push_back(embed);
  for (int64_t i = 0; i < layers; ++i) {
    LayerShape layer;
    layer.name = absl::StrCat("layer_", i);
    layer.parameters = 4 * hidden * hidden + 3 * hidden * mlp + 2 * hidden;
    layer.prunable_parameters = 4 * hidden * hidden + 3 * hidden * mlp;
    layer.forward_flops = 2.0 * s * (4 * h * h + 3 * h * m) + 4.0 * s * s * h;
    layer.activation_bytes = 2.0 * (s * (10 * h + 4 * m));  // bf16 activations, attention via a fused kernel
    layer.frozen_activation_bytes = layer.activation_bytes;
    layer.proxies = true;
    out.push_back(layer);
  }
  LayerShape head;
  head.name = "head";
  head.parameters = vocab * hidden + hidden;
  head.forward_flops = 2.0 * s * h * static_cast<double>(vocab);
  head.activation_bytes = 4.0 * s * (h + static_cast<double>(vocab));
  head.frozen_activation_bytes = head.activation_bytes;
  out.push_back(head);
  return out;
}

std::string ProfilesToJson(const std::vector<BlockProfile>& blocks) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const BlockProfile& b : blocks) {
    nlohmann::ordered_json block = {{"name", b.name},
                                    {"parameters", b.parameters},
                                    {"prefix_bytes", b.prefix_bytes},
                                    {"prefix_seconds", b.prefix_seconds},
                                    {"prefix_transient_bytes", b.prefix_transient_bytes}};
    block["options"] = nlohmann::ordered_json::array();
    for (const BlockOption& o : b.options) {
      block["options"].push_back({{"name", o.name()},
                                  {"trainable", o.trainable},
                                  {"share", o.share},
                                  {"memory_bytes", o.memory_bytes},
                                  {"seconds", o.seconds},
                                  {"transient_bytes", o.transient_bytes},
                                  {"activation_bytes", o.activation_bytes}});
    }
    out.push_back(block);
  }
  return out.dump(2);
}

absl::StatusOr<std::vector<BlockProfile>> ProfilesFromJson(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": a profile must be a JSON array of blocks"));
  }
  std::vector<BlockProfile> out;
  try {
    for (const auto& block : j) {
      BlockProfile b;
      b.name = block.at("name").get<std::string>();
      b.parameters = block.at("parameters").get<int64_t>();
      b.prefix_bytes = block.at("prefix_bytes").get<uint64_t>();
      b.prefix_seconds = block.at("prefix_seconds").get<double>();
      b.prefix_transient_bytes = block.value("prefix_transient_bytes", uint64_t{0});
      for (const auto& o : block.at("options")) {
        BlockOption option;
        auto form = ChoiceFromName(o.at("name").get<std::string>());
        if (!form.ok()) return Annotate(form.status(), absl::StrCat(source, ": block '", b.name, "'"));
        option.form = *form;
        option.trainable = o.at("trainable").get<bool>();
        option.share = o.at("share").get<double>();
        option.memory_bytes = o.at("memory_bytes").get<uint64_t>();
        option.seconds = o.at("seconds").get<double>();
        option.transient_bytes = o.value("transient_bytes", uint64_t{0});
        option.activation_bytes = o.value("activation_bytes", uint64_t{0});
        b.options.push_back(option);
      }
      out.push_back(std::move(b));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return out;
}

}  // namespace bt
