#include "common/plan/probe_report.h"

#include <cmath>

#include "common/plan/block_profile.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace {

bool AllFinite(const std::vector<double>& values) {
  for (double v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

}  // namespace

std::string SourceStats::ToJson() const {
  nlohmann::ordered_json j = {{"samples", samples},
                              {"accuracy", accuracy},
                              {"confidence_threshold", confidence_threshold},
                              {"mean", mean},
                              {"covariance", covariance}};
  return j.dump();
}

absl::StatusOr<SourceStats> SourceStats::FromJson(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": source statistics are not a JSON object"));
  }
  SourceStats s;
  try {
    s.samples = j.at("samples").get<int64_t>();
    s.accuracy = j.at("accuracy").get<double>();
    s.confidence_threshold = j.at("confidence_threshold").get<double>();
    s.mean = j.at("mean").get<std::vector<double>>();
    s.covariance = j.at("covariance").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  if (s.mean.empty() || s.covariance.size() != s.mean.size() * s.mean.size()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": covariance has ", s.covariance.size(),
                                                   " entries for a mean of dimension ", s.mean.size()));
  }
  if (!AllFinite(s.mean) || !AllFinite(s.covariance)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": non-finite feature statistics"));
  }
  return s;
}

std::string ProbeReport::ToJson() const {
  nlohmann::ordered_json j;
  j["acc0"] = acc0;
  j["labeled_samples"] = labeled_samples;
  j["unlabeled_samples"] = unlabeled_samples;
  j["drift"] = {{"mean_shift", drift.mean_shift},
                {"covariance_shift", drift.covariance_shift},
                {"mean_confidence", drift.mean_confidence},
                {"estimated_accuracy", drift.estimated_accuracy},
                {"samples", drift.samples}};
  j["points"] = nlohmann::ordered_json::array();
  for (const ProbePoint& p : points) {
    j["points"].push_back({{"shares", p.shares}, {"iterations", p.iterations}, {"accuracy", p.accuracy}});
  }
  j["costs"] = nlohmann::ordered_json::parse(ProfilesToJson(costs));
  j["fixed_bytes"] = fixed_bytes;
  j["output_bytes"] = output_bytes;
  j["batch"] = batch;
  j["curve_runs"] = curve_runs;
  j["budget_exhausted"] = budget_exhausted;
  j["seconds"] = seconds;
  return j.dump();
}

absl::StatusOr<ProbeReport> ProbeReport::FromJson(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": a probe report must be a JSON object"));
  }
  ProbeReport r;
  try {
    r.acc0 = j.at("acc0").get<double>();
    r.labeled_samples = j.at("labeled_samples").get<int64_t>();
    r.unlabeled_samples = j.at("unlabeled_samples").get<int64_t>();
    const auto& d = j.at("drift");
    r.drift.mean_shift = d.at("mean_shift").get<double>();
    r.drift.covariance_shift = d.at("covariance_shift").get<double>();
    r.drift.mean_confidence = d.at("mean_confidence").get<double>();
    r.drift.estimated_accuracy = d.at("estimated_accuracy").get<double>();
    r.drift.samples = d.at("samples").get<int64_t>();
    for (const auto& p : j.at("points")) {
      r.points.push_back({p.at("shares").get<std::vector<double>>(), p.at("iterations").get<double>(),
                          p.at("accuracy").get<double>()});
    }
    ASSIGN_OR_RETURN(r.costs, ProfilesFromJson(j.at("costs").dump(), source + ": costs"));
    r.fixed_bytes = j.at("fixed_bytes").get<uint64_t>();
    r.output_bytes = std::min(r.fixed_bytes, j.value("output_bytes", uint64_t{0}));
    r.batch = j.at("batch").get<int64_t>();
    r.curve_runs = j.at("curve_runs").get<int>();
    r.budget_exhausted = j.at("budget_exhausted").get<bool>();
    r.seconds = j.at("seconds").get<double>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  for (size_t i = 0; i < r.points.size(); ++i) {
    const ProbePoint& p = r.points[i];
    if (p.shares.size() != r.costs.size() || !(p.accuracy >= 0 && p.accuracy <= 1) || !(p.iterations >= 0) ||
        !AllFinite(p.shares)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": points[", i, "] is malformed (", p.shares.size(),
                                                     " shares for ", r.costs.size(), " blocks, accuracy ",
                                                     p.accuracy, ")"));
    }
  }
  if (!(r.acc0 >= 0 && r.acc0 <= 1)) return absl::InvalidArgumentError(absl::StrCat(source, ": acc0 not in [0, 1]"));
  if (r.batch < 1) return absl::InvalidArgumentError(absl::StrCat(source, ": batch must be positive"));
  return r;
}

}  // namespace bt
