#include "cloud/store/law_store.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "common/config/config.h"
#include "common/base/file_util.h"

namespace bt {

absl::StatusOr<std::string> LawStore::PathFor(const std::string& edge_id) const {
  if (!IsValidEdgeId(edge_id)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid edge id '", edge_id, "': must be ", kEdgeIdRule));
  }
  return (std::filesystem::path(dir_) / edge_id / "law.json").string();
}

absl::Status LawStore::SaveProbes(const std::string& edge_id, const std::string& report_json) const {
  ASSIGN_OR_RETURN(std::string path, PathFor(edge_id));
  return WriteFileAtomically((std::filesystem::path(path).parent_path() / "probes.json").string(), report_json);
}

absl::StatusOr<std::string> LawStore::LoadProbes(const std::string& edge_id) const {
  ASSIGN_OR_RETURN(std::string path, PathFor(edge_id));
  auto text = ReadFileToString((std::filesystem::path(path).parent_path() / "probes.json").string());
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' has not reported probes yet"));
  }
  return text;
}

absl::StatusOr<LawParams> LawStore::Load(const std::string& edge_id) const {
  ASSIGN_OR_RETURN(std::string path, PathFor(edge_id));
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return absl::NotFoundError(absl::StrCat("no law for edge '", edge_id, "'"));
    return text.status();
  }
  auto law = LawParams::FromJson(*text);
  if (!law.ok()) return Annotate(law.status(), path);
  return law;
}

absl::Status LawStore::Save(const std::string& edge_id, const LawParams& law) const {
  ASSIGN_OR_RETURN(std::string path, PathFor(edge_id));
  return WriteFileAtomically(path, law.ToJson() + "\n");
}

absl::StatusOr<LawFit> LawStore::FitAndStore(const std::string& edge_id, const std::vector<ProbePoint>& points,
                                             double acc0, const LawParams& fallback,
                                             const LawFitOptions& options) const {
  LawParams prior = fallback;
  auto previous = Load(edge_id);
  if (previous.ok()) {
    prior = *previous;
  } else if (!absl::IsNotFound(previous.status())) {
    return previous.status();
  }
  prior.acc0 = acc0;  // accuracy before retraining is measured afresh every window
  if (!points.empty() && prior.weights.size() != points.front().shares.size()) {
    prior.weights.assign(points.front().shares.size(), 0.5);  // the model changed shape: start over
  }
  ASSIGN_OR_RETURN(LawFit fit, FitLaw(points, prior, options));
  RETURN_IF_ERROR(Save(edge_id, fit.params));
  return fit;
}

}  // namespace bt
