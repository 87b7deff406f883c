#include "common/model/proxy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nlohmann/json.hpp"

namespace bt {
namespace {

// Row indices of in_proj for the kept heads: q rows, then k rows, then v rows.
torch::Tensor InProjRows(const VitConfig& c, const ProxySpec& spec) {
  const int64_t d = c.hidden_dim / c.num_heads;
  std::vector<int64_t> rows;
  for (int64_t part = 0; part < 3; ++part) {
    for (int64_t head : spec.heads) {
      for (int64_t i = 0; i < d; ++i) rows.push_back(part * c.hidden_dim + head * d + i);
    }
  }
  return torch::tensor(rows, torch::kInt64);
}

torch::Tensor HeadColumns(const VitConfig& c, const ProxySpec& spec) {
  const int64_t d = c.hidden_dim / c.num_heads;
  std::vector<int64_t> cols;
  for (int64_t head : spec.heads) {
    for (int64_t i = 0; i < d; ++i) cols.push_back(head * d + i);
  }
  return torch::tensor(cols, torch::kInt64);
}

absl::Status CheckSpec(const VitConfig& c, const ProxySpec& spec) {
  auto check = [](const std::vector<int64_t>& v, int64_t limit, const char* what) -> absl::Status {
    if (v.empty()) return absl::InvalidArgumentError(absl::StrCat("proxy keeps no ", what));
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] < 0 || v[i] >= limit || (i > 0 && v[i] <= v[i - 1])) {
        return absl::InvalidArgumentError(absl::StrCat("proxy ", what, " must be ascending indices below ", limit));
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check(spec.heads, c.num_heads, "heads"));
  return check(spec.mlp_units, c.mlp_dim, "MLP units");
}

const torch::Tensor* Find(const TensorMap& map, const std::string& name) {
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second;
}

std::vector<int64_t> TopK(const torch::Tensor& scores, int64_t k) {
  torch::Tensor index = std::get<1>(scores.topk(k));
  std::vector<int64_t> out(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + k);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string LayerPrefix(int64_t layer) { return absl::StrCat("encoder.layers.encoder_layer_", layer, "."); }

std::string ProxySpec::ToJson() const { return nlohmann::json{{"heads", heads}, {"mlp_units", mlp_units}}.dump(); }

absl::StatusOr<ProxySpec> ProxySpec::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  ProxySpec spec;
  try {
    spec.heads = j.at("heads").get<std::vector<int64_t>>();
    spec.mlp_units = j.at("mlp_units").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("proxy spec: ", e.what()));
  }
  return spec;
}

int64_t ProxyParameterCount(const VitConfig& c, const ProxySpec& spec) {
  const int64_t h = c.hidden_dim, d = c.hidden_dim / c.num_heads;
  const int64_t inner = static_cast<int64_t>(spec.heads.size()) * d;
  const int64_t units = static_cast<int64_t>(spec.mlp_units.size());
  return 4 * h                          // ln_1, ln_2
         + 3 * inner * h + 3 * inner    // in_proj
         + h * inner + h                // out_proj
         + units * h + units            // mlp.0
         + h * units + h;               // mlp.3
}

absl::StatusOr<ProxySpec> SelectProxyByMagnitude(const TensorMap& layer, int64_t layer_index, const VitConfig& c,
                                                 double sparsity) {
  if (!(sparsity >= 0 && sparsity < 1)) return absl::InvalidArgumentError("sparsity must be in [0, 1)");
  const std::string p = LayerPrefix(layer_index);
  const torch::Tensor* in_w = Find(layer, p + "self_attention.in_proj_weight");
  const torch::Tensor* out_w = Find(layer, p + "self_attention.out_proj.weight");
  const torch::Tensor* fc1 = Find(layer, p + "mlp.0.weight");
  const torch::Tensor* fc2 = Find(layer, p + "mlp.3.weight");
  if (!in_w || !out_w || !fc1 || !fc2) {
    return absl::InvalidArgumentError(absl::StrCat("tensors of encoder layer ", layer_index, " are missing"));
  }
  torch::NoGradGuard no_grad;
  const int64_t h = c.hidden_dim, heads = c.num_heads, d = h / heads;
  // (3, heads, d, h) -> per-head squared norm; plus out_proj columns (h, heads, d).
  torch::Tensor head_score = in_w->view({3, heads, d, h}).pow(2).sum(std::vector<int64_t>{0, 2, 3}) +
                             out_w->view({h, heads, d}).pow(2).sum(std::vector<int64_t>{0, 2});
  torch::Tensor unit_score = fc1->pow(2).sum(1).sqrt() * fc2->pow(2).sum(0).sqrt();
  const auto keep = [&](int64_t count) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround((1.0 - sparsity) * static_cast<double>(count))));
  };
  ProxySpec spec;
  spec.heads = TopK(head_score, keep(heads));
  spec.mlp_units = TopK(unit_score, keep(c.mlp_dim));
  return spec;
}

absl::StatusOr<TensorMap> ExtractProxy(const TensorMap& layer, int64_t layer_index, const VitConfig& c,
                                       const ProxySpec& spec) {
  RETURN_IF_ERROR(CheckSpec(c, spec));
  const std::string p = LayerPrefix(layer_index);
  for (const char* name : {"ln_1.weight", "ln_1.bias", "self_attention.in_proj_weight", "self_attention.in_proj_bias",
                           "self_attention.out_proj.weight", "self_attention.out_proj.bias", "ln_2.weight",
                           "ln_2.bias", "mlp.0.weight", "mlp.0.bias", "mlp.3.weight", "mlp.3.bias"}) {
    if (!Find(layer, p + name)) return absl::InvalidArgumentError(absl::StrCat("missing tensor '", p, name, "'"));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor rows = InProjRows(c, spec), cols = HeadColumns(c, spec);
  const torch::Tensor units = torch::tensor(spec.mlp_units, torch::kInt64);
  TensorMap out;
  for (const char* name : {"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "self_attention.out_proj.bias",
                           "mlp.3.bias"}) {
    out[p + name] = layer.at(p + name).clone();
  }
  out[p + "self_attention.in_proj_weight"] = layer.at(p + "self_attention.in_proj_weight").index_select(0, rows);
  out[p + "self_attention.in_proj_bias"] = layer.at(p + "self_attention.in_proj_bias").index_select(0, rows);
  out[p + "self_attention.out_proj.weight"] = layer.at(p + "self_attention.out_proj.weight").index_select(1, cols);
  out[p + "mlp.0.weight"] = layer.at(p + "mlp.0.weight").index_select(0, units);
  out[p + "mlp.0.bias"] = layer.at(p + "mlp.0.bias").index_select(0, units);
  out[p + "mlp.3.weight"] = layer.at(p + "mlp.3.weight").index_select(1, units);
  return out;
}

absl::StatusOr<TensorMap> WriteBackProxy(const TensorMap& layer, const TensorMap& proxy, int64_t layer_index,
                                         const VitConfig& c, const ProxySpec& spec) {
  // The expected proxy shapes are those ExtractProxy produces; compare before touching anything.
  ASSIGN_OR_RETURN(TensorMap expected, ExtractProxy(layer, layer_index, c, spec));
  for (const auto& [name, t] : expected) {
    const torch::Tensor* given = Find(proxy, name);
    if (!given || given->sizes() != t.sizes() || given->scalar_type() != t.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat("proxy tensor '", name, "' is missing or has the wrong shape"));
    }
  }
  if (proxy.size() != expected.size()) return absl::InvalidArgumentError("proxy has tensors the layer does not");
  torch::NoGradGuard no_grad;
  const std::string p = LayerPrefix(layer_index);
  const torch::Tensor rows = InProjRows(c, spec), cols = HeadColumns(c, spec);
  const torch::Tensor units = torch::tensor(spec.mlp_units, torch::kInt64);
  TensorMap out;
  for (const auto& [name, t] : layer) out[name] = t.clone();
  for (const char* name : {"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "self_attention.out_proj.bias",
                           "mlp.3.bias"}) {
    out[p + name].copy_(proxy.at(p + name));
  }
  out[p + "self_attention.in_proj_weight"].index_copy_(0, rows, proxy.at(p + "self_attention.in_proj_weight"));
  out[p + "self_attention.in_proj_bias"].index_copy_(0, rows, proxy.at(p + "self_attention.in_proj_bias"));
  out[p + "self_attention.out_proj.weight"].index_copy_(1, cols, proxy.at(p + "self_attention.out_proj.weight"));
  out[p + "mlp.0.weight"].index_copy_(0, units, proxy.at(p + "mlp.0.weight"));
  out[p + "mlp.0.bias"].index_copy_(0, units, proxy.at(p + "mlp.0.bias"));
  out[p + "mlp.3.weight"].index_copy_(1, units, proxy.at(p + "mlp.3.weight"));
  return out;
}

}  // namespace bt
