#include "edge/window/version_zoo.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "common/base/file_util.h"
#include "nlohmann/json.hpp"

namespace bt {

double SignatureDistance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

std::vector<size_t> NearestVersions(const std::vector<ZooVersion>& zoo, const std::vector<double>& now,
                                    const std::vector<uint64_t>& exclude, int nearest) {
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t i = 0; i < zoo.size(); ++i) {
    const ZooVersion& v = zoo[i];
    if (!v.confirmed || std::find(exclude.begin(), exclude.end(), v.version) != exclude.end()) continue;
    const double d = SignatureDistance(v.signature, now);
    if (std::isfinite(d)) ranked.push_back({d, i});
  }
  std::sort(ranked.begin(), ranked.end(), [&](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    return zoo[x.second].version > zoo[y.second].version;
  });
  std::vector<size_t> out;
  for (const auto& [d, i] : ranked) {
    if (static_cast<int>(out.size()) >= nearest) break;
    // One candidate per version (the index may hold a version twice after a re-confirmation).
    bool seen = false;
    for (size_t j : out) seen |= zoo[j].version == zoo[i].version;
    if (!seen) out.push_back(i);
  }
  return out;
}

absl::StatusOr<VersionZoo> VersionZoo::Load(const std::string& path) {
  VersionZoo zoo;
  zoo.path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return zoo;
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    for (const nlohmann::json& e : j.at("versions")) {
      ZooVersion v;
      v.version = e.at("version").get<uint64_t>();
      v.parent = e.at("parent").get<uint64_t>();
      v.window_id = e.at("window_id").get<std::string>();
      v.confirmed = e.at("confirmed").get<bool>();
      v.signature = e.at("signature").get<std::vector<double>>();
      ASSIGN_OR_RETURN(v.blocks, BlockDigestsFromJson(e.at("blocks").dump()));
      zoo.versions_.push_back(std::move(v));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": not a version zoo index (", e.what(), ")"));
  }
  return zoo;
}

absl::Status VersionZoo::Add(ZooVersion v) {
  versions_.push_back(std::move(v));
  if (versions_.size() > kMaxZooVersions) versions_.erase(versions_.begin());
  return Save();
}

absl::Status VersionZoo::Confirm(const std::string& window_id, uint64_t version) {
  for (ZooVersion& v : versions_) {
    if (!v.confirmed && v.window_id == window_id) {
      v.confirmed = true;
      v.version = version;
      return Save();
    }
  }
  return absl::NotFoundError(absl::StrCat("no pending version of window '", window_id, "' in the zoo"));
}

absl::Status VersionZoo::Forget(uint64_t version) {
  const size_t before = versions_.size();
  versions_.erase(std::remove_if(versions_.begin(), versions_.end(),
                                 [&](const ZooVersion& v) { return v.confirmed && v.version == version; }),
                  versions_.end());
  return versions_.size() == before ? absl::OkStatus() : Save();
}

absl::Status VersionZoo::Save() const {
  if (path_.empty()) return absl::OkStatus();
  nlohmann::json list = nlohmann::json::array();
  for (const ZooVersion& v : versions_) {
    list.push_back({{"version", v.version},
                    {"parent", v.parent},
                    {"window_id", v.window_id},
                    {"confirmed", v.confirmed},
                    {"signature", v.signature},
                    {"blocks", nlohmann::json::parse(BlockDigestsToJson(v.blocks))}});
  }
  return WriteFileAtomically(path_, nlohmann::json({{"versions", list}}).dump() + "\n");
}

}  // namespace bt
