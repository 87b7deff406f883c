// Compressed trainable proxies of ViT encoder layers (the planner's train@s option): a proxy keeps the most
// important attention heads and MLP hidden units of a layer, at their original width. The kept indices are recorded
// in a ProxySpec so that a retrained proxy is written back into exactly those rows and columns of the full layer;
// everything else of the layer stays bit-identical. LayerNorms and the output biases are kept whole.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/model/block_model.h"
#include "common/format/model_config.h"
#include "common/base/status.h"

namespace bt {

struct ProxySpec {
  std::vector<int64_t> heads;      // kept attention heads, ascending
  std::vector<int64_t> mlp_units;  // kept MLP hidden units, ascending
  std::string ToJson() const;
  static absl::StatusOr<ProxySpec> FromJson(const std::string& json);
};

// Parameter prefix of encoder layer `layer`: "encoder.layers.encoder_layer_<layer>.".
std::string LayerPrefix(int64_t layer);

// Keeps round((1 − sparsity) × count) heads and units (at least one each), ranked by weight magnitude: a head by the
// norm of its q/k/v rows and out_proj columns, a unit by the product of its mlp.0 row and mlp.3 column norms.
absl::StatusOr<ProxySpec> SelectProxyByMagnitude(const TensorMap& layer, int64_t layer_index, const VitConfig& config,
                                                 double sparsity);

// The proxy's tensors (same names, smaller shapes).
absl::StatusOr<TensorMap> ExtractProxy(const TensorMap& layer, int64_t layer_index, const VitConfig& config,
                                       const ProxySpec& spec);

// A copy of `layer` with `proxy` written into the kept rows/columns. Shapes are checked against the spec.
absl::StatusOr<TensorMap> WriteBackProxy(const TensorMap& layer, const TensorMap& proxy, int64_t layer_index,
                                         const VitConfig& config, const ProxySpec& spec);

// Number of parameters the proxy trains.
int64_t ProxyParameterCount(const VitConfig& config, const ProxySpec& spec);

}  // namespace bt
