#include "common/format/manifest.h"

#include <algorithm>

#include "common/format/block_store.h"
#include "common/format/half.h"

#include "absl/strings/str_format.h"
#include "common/base/sha256.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

uint64_t BlockManifest::TotalBytes() const {
  uint64_t total = 0;
  for (const BlockEntry& b : blocks) total += b.bytes;
  return total;
}

int64_t BlockManifest::TotalParameters() const {
  int64_t total = 0;
  for (const BlockEntry& b : blocks) total += b.parameters;
  return total;
}

std::string BlockManifest::ToJson() const {
  nlohmann::ordered_json out;
  out["model"] = model;
  out["total_bytes"] = TotalBytes();
  out["total_parameters"] = TotalParameters();
  out["blocks"] = nlohmann::ordered_json::array();
  for (const BlockEntry& b : blocks) {
    nlohmann::ordered_json block;
    block["name"] = b.name;
    block["bytes"] = b.bytes;
    block["parameters"] = b.parameters;
    block["digest"] = b.digest;
    block["params"] = nlohmann::ordered_json::array();
    for (const ParamEntry& p : b.params) {
      block["params"].push_back({{"name", p.name}, {"dtype", DTypeName(p.dtype)}, {"shape", p.shape},
                                 {"bytes", p.bytes}});
    }
    out["blocks"].push_back(block);
  }
  return out.dump(2);
}

std::string BlockManifest::ToTable() const {
  std::string out = absl::StrFormat("%-18s %7s %11s %11s  %s\n", "block", "tensors", "parameters", "bytes",
                                    "sha256");
  for (const BlockEntry& b : blocks) {
    absl::StrAppendFormat(&out, "%-18s %7d %11d %11s  %s\n", b.name, b.params.size(), b.parameters,
                          FormatBytes(b.bytes), b.digest.substr(0, 16));
  }
  absl::StrAppendFormat(&out, "%-18s %7s %11d %11s\n", "total", "", TotalParameters(), FormatBytes(TotalBytes()));
  return out;
}

absl::StatusOr<std::string> SerializeBlock(const std::vector<TensorView>& tensors) {
  return SerializeSafetensors(tensors, {});
}

absl::StatusOr<BlockEntry> DescribeBlock(const std::string& name, const std::vector<TensorView>& tensors) {
  ASSIGN_OR_RETURN(std::string bytes, SerializeBlock(tensors));
  BlockEntry entry;
  entry.name = name;
  entry.digest = Sha256Hex(bytes);
  entry.file_bytes = bytes.size();
  for (const TensorView& t : tensors) {
    entry.params.push_back({t.name, t.dtype, t.shape, t.size_bytes});
    entry.bytes += t.size_bytes;
    entry.parameters += t.NumElements();
  }
  std::sort(entry.params.begin(), entry.params.end(),
            [](const ParamEntry& a, const ParamEntry& b) { return a.name < b.name; });
  if (std::any_of(tensors.begin(), tensors.end(), [](const TensorView& t) { return t.dtype != DType::kF32; })) {
    std::vector<TensorView> as_f32;
    for (const TensorView& t : tensors) {
      if (!IsFloatDType(t.dtype)) continue;  // only float tensors are computed in F32
      as_f32.push_back({t.name, DType::kF32, t.shape, nullptr, static_cast<size_t>(t.NumElements()) * 4});
    }
    if (as_f32.size() == tensors.size()) {
      ASSIGN_OR_RETURN(entry.f32_file_bytes, SerializedSafetensorsSize(as_f32));
    }
  }
  return entry;
}

absl::StatusOr<BlockManifest> BuildManifest(const std::string& model, const std::vector<BlockSpec>& layout,
                                            const std::vector<TensorView>& tensors) {
  ASSIGN_OR_RETURN(auto grouped, GroupByBlock(layout, tensors, /*half_precision=*/true));
  BlockManifest manifest;
  manifest.model = model;
  for (size_t b = 0; b < layout.size(); ++b) {
    ASSIGN_OR_RETURN(BlockEntry entry, DescribeBlock(layout[b].name, grouped[b]));
    manifest.blocks.push_back(std::move(entry));
  }
  return manifest;
}

std::string BlockDigestsToJson(const BlockDigests& blocks) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& [name, digest] : blocks) j.push_back({name, digest});
  return j.dump();
}

absl::StatusOr<BlockDigests> BlockDigestsFromJson(const std::string& json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_array()) return absl::DataLossError("block digests: not a JSON array");
  BlockDigests out;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& e = j[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string() ||
        !IsDigest(e[1].get<std::string>())) {
      return absl::DataLossError(absl::StrCat("block digests: entry ", i, " is not a [name, digest] pair"));
    }
    out.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
  }
  return out;
}

}  // namespace bt
