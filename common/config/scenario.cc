#include "common/config/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "common/base/file_util.h"

namespace bt {
namespace {

absl::Status Error(const std::string& source, const YAML::Node& at, const std::string& key,
                   const std::string& message) {
  std::string where = source;
  if (at.IsDefined() && at.Mark().line >= 0) absl::StrAppend(&where, ":", at.Mark().line + 1);
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", message));
}

// Checks that `node` is a mapping whose keys are all in `allowed`.
absl::Status CheckKeys(const std::string& source, const YAML::Node& node, const std::string& path,
                       const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Error(source, node, path, "must be a mapping");
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (!allowed.count(key)) {
      std::string known;
      for (const std::string& k : allowed) absl::StrAppend(&known, known.empty() ? "" : ", ", k);
      return Error(source, entry.first, path + "." + key, absl::StrCat("unknown key (known: ", known, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadInt(const std::string& source, const YAML::Node& map, const std::string& path, const char* key,
                     int64_t min, int64_t max, bool required, int64_t* out) {
  YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) {
    if (required) return Error(source, map, path + "." + key, "is required");
    return absl::OkStatus();
  }
  int64_t parsed = 0;
  if (!value.IsScalar() || !absl::SimpleAtoi(value.Scalar(), &parsed)) {
    return Error(source, value, path + "." + key, "expected an integer");
  }
  if (parsed < min || parsed > max) {
    return Error(source, value, path + "." + key, absl::StrCat("must be between ", min, " and ", max, ", got ", parsed));
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status ReadString(const std::string& source, const YAML::Node& map, const std::string& path, const char* key,
                        bool required, std::string* out) {
  YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) {
    if (required) return Error(source, map, path + "." + key, "is required");
    return absl::OkStatus();
  }
  if (!value.IsScalar()) return Error(source, value, path + "." + key, "expected a string");
  *out = value.Scalar();
  return absl::OkStatus();
}

absl::Status ParseRoot(const YAML::Node& root, const std::string& source, Scenario* s) {
  if (!root.IsMap()) return Error(source, root, "scenario", "the file must hold a 'scenario:' mapping");
  RETURN_IF_ERROR(CheckKeys(source, root, "", {"scenario"}));
  YAML::Node node = root["scenario"];
  RETURN_IF_ERROR(CheckKeys(source, node, "scenario", {"name", "seed", "dataset", "eval_samples", "sequence", "domains"}));
  RETURN_IF_ERROR(ReadString(source, node, "scenario", "name", true, &s->name));
  RETURN_IF_ERROR(ReadInt(source, node, "scenario", "seed", 0, int64_t{1} << 40, false, &s->seed));
  RETURN_IF_ERROR(ReadString(source, node, "scenario", "dataset", false, &s->dataset));
  RETURN_IF_ERROR(ReadInt(source, node, "scenario", "eval_samples", 1, 1 << 20, false, &s->eval_samples));
  RETURN_IF_ERROR(ReadInt(source, node, "scenario", "sequence", 2, 1 << 16, false, &s->sequence));
  if (node["sequence"].IsDefined() && !s->text()) {
    return Error(source, node["sequence"], "scenario.sequence", "only a text scenario (dataset: text) has sequences");
  }
  auto stream_size = s->text() ? absl::StatusOr<int64_t>(0) : DatasetStreamSize(s->dataset);
  if (!stream_size.ok()) return Error(source, node["dataset"], "scenario.dataset", std::string(stream_size.status().message()));

  YAML::Node domains = node["domains"];
  if (!domains.IsDefined() || !domains.IsSequence() || domains.size() == 0) {
    return Error(source, node, "scenario.domains", "must be a non-empty list of domains");
  }
  const std::set<std::string> known(KnownCorruptions().begin(), KnownCorruptions().end());
  for (size_t i = 0; i < domains.size(); ++i) {
    YAML::Node d = domains[i];
    DomainSpec domain;
    std::string path = absl::StrCat("scenario.domains[", i, "]");
    if (!d.IsMap()) return Error(source, d, path, "must be a mapping");
    RETURN_IF_ERROR(ReadString(source, d, path, "name", true, &domain.name));
    if (domain.name.empty()) return Error(source, d, path + ".name", "must not be empty");
    path = absl::StrCat("scenario.domains[", i, "] (", domain.name, ")");
    if (s->text()) {
      RETURN_IF_ERROR(CheckKeys(source, d, path, {"name", "samples", "labeled_fraction", "files", "heldout_share"}));
      YAML::Node files = d["files"];
      if (!files.IsDefined() || files.IsNull()) return Error(source, d, path + ".files", "is required (globs of the domain's text files)");
      if (files.IsScalar()) files = YAML::Node(std::vector<std::string>{files.Scalar()});
      if (!files.IsSequence() || files.size() == 0) return Error(source, files, path + ".files", "must be a non-empty list of globs");
      for (size_t f = 0; f < files.size(); ++f) {
        if (!files[f].IsScalar() || files[f].Scalar().empty()) {
          return Error(source, files[f], absl::StrCat(path, ".files[", f, "]"), "must be a glob");
        }
        domain.files.push_back(files[f].Scalar());
      }
      YAML::Node share = d["heldout_share"];
      if (share.IsDefined() && !share.IsNull()) {
        if (!share.IsScalar() || !absl::SimpleAtod(share.Scalar(), &domain.heldout_share) ||
            !(domain.heldout_share > 0 && domain.heldout_share < 1)) {
          return Error(source, share, path + ".heldout_share", "must be a number between 0 and 1 (exclusive)");
        }
      }
    } else {
      RETURN_IF_ERROR(CheckKeys(source, d, path, {"name", "samples", "labeled_fraction", "corruptions"}));
    }
    RETURN_IF_ERROR(ReadInt(source, d, path, "samples", 1, int64_t{1} << 40, true, &domain.samples));
    YAML::Node fraction = d["labeled_fraction"];
    if (fraction.IsDefined() && !fraction.IsNull()) {
      if (!fraction.IsScalar() || !absl::SimpleAtod(fraction.Scalar(), &domain.labeled_fraction) ||
          domain.labeled_fraction < 0 || domain.labeled_fraction > 1) {
        return Error(source, fraction, path + ".labeled_fraction", "must be a number between 0 and 1");
      }
    }
    YAML::Node chain = d["corruptions"];
    if (chain.IsDefined() && !chain.IsNull()) {
      if (!chain.IsSequence()) return Error(source, chain, path + ".corruptions", "must be a list");
      for (size_t c = 0; c < chain.size(); ++c) {
        std::string cpath = absl::StrCat(path, ".corruptions[", c, "]");
        RETURN_IF_ERROR(CheckKeys(source, chain[c], cpath, {"type", "severity", "direction"}));
        CorruptionSpec spec;
        RETURN_IF_ERROR(ReadString(source, chain[c], cpath, "type", true, &spec.type));
        if (!known.count(spec.type)) {
          std::string names;
          for (const std::string& k : KnownCorruptions()) absl::StrAppend(&names, names.empty() ? "" : ", ", k);
          return Error(source, chain[c]["type"], cpath + ".type",
                       absl::StrCat("unknown corruption '", spec.type, "' (known: ", names, ")"));
        }
        int64_t severity = 1;
        RETURN_IF_ERROR(ReadInt(source, chain[c], cpath, "severity", 1, 5, true, &severity));
        spec.severity = static_cast<int>(severity);
        RETURN_IF_ERROR(ReadString(source, chain[c], cpath, "direction", false, &spec.direction));
        if (!spec.direction.empty()) {
          if (spec.type != "brightness") {
            return Error(source, chain[c]["direction"], cpath + ".direction", "only brightness takes a direction");
          }
          if (spec.direction != "up" && spec.direction != "down") {
            return Error(source, chain[c]["direction"], cpath + ".direction", "must be 'up' or 'down'");
          }
        }
        domain.corruptions.push_back(spec);
      }
    }
    s->domains.push_back(std::move(domain));
  }
  const int64_t needed =
      s->StreamSamples() + s->eval_samples * static_cast<int64_t>(s->DistinctDomains().size());
  // A text corpus's size is known once its files are read (materialisation says when one is too small).
  if (!s->text() && needed > *stream_size) {
    return Error(source, domains, "scenario.domains",
                 absl::StrCat("needs ", s->StreamSamples(), " stream samples + ", s->eval_samples, " held-out × ",
                              s->DistinctDomains().size(), " domains = ", needed, ", but ", s->dataset,
                              "'s stream split holds ", *stream_size));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> Scenario::DistinctDomains() const {
  std::vector<std::string> names;
  for (const DomainSpec& d : domains) {
    if (std::find(names.begin(), names.end(), d.name) == names.end()) names.push_back(d.name);
  }
  return names;
}

int64_t Scenario::StreamSamples() const {
  int64_t total = 0;
  for (const DomainSpec& d : domains) total += d.samples;
  return total;
}

const std::vector<std::string>& KnownCorruptions() {
  static const std::vector<std::string> kNames = {
      "gaussian_noise", "shot_noise", "speckle_noise", "impulse_noise", "gaussian_blur", "motion_blur",
      "defocus_blur",   "brightness", "contrast",      "fog",           "snow",          "rain",
      "frost",          "jpeg",       "pixelate",      "elastic",       "occlusion",     "rotation"};
  return kNames;
}

absl::StatusOr<int64_t> DatasetStreamSize(const std::string& dataset) {
  if (dataset == "fashion-mnist") return 10000;
  return absl::InvalidArgumentError(absl::StrCat("unknown dataset '", dataset, "' (supported: fashion-mnist, text)"));
}

absl::StatusOr<Scenario> ParseScenario(const std::string& yaml, const std::string& source) {
  Scenario scenario;
  try {
    YAML::Node root = YAML::Load(yaml);
    RETURN_IF_ERROR(ParseRoot(root, source, &scenario));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  return scenario;
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return Annotate(text.status(), "cannot read scenario");
  return ParseScenario(*text, path);
}

}  // namespace bt
