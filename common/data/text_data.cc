#include "common/data/text_data.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_join.h"
#include "common/text/corpus.h"

namespace bt {
namespace {

uint64_t Salted(uint64_t seed, const std::string& salt) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char ch : salt) h = (h ^ ch) * 1099511628211ull;
  return h & ((uint64_t{1} << 62) - 1);
}

}  // namespace

absl::StatusOr<ImageDataset> TokenSequences(const std::vector<std::string>& files, const Tokenizer& tokenizer,
                                            int64_t sequence, int64_t count, const std::string& what,
                                            size_t* files_used) {
  if (sequence < 2 || count < kAllSequences) return absl::InvalidArgumentError("sequences need at least 2 tokens");
  const int64_t needed = count == kAllSequences ? std::numeric_limits<int64_t>::max() : count * (sequence + 1);
  std::vector<int64_t> tokens;
  size_t used = 0;
  for (const std::string& file : files) {
    if (static_cast<int64_t>(tokens.size()) >= needed) break;
    ASSIGN_OR_RETURN(std::string text, ReadCorpusFile(file));
    ++used;
    if (text.empty()) continue;
    for (int32_t id : tokenizer.Encode(text)) tokens.push_back(id);
    tokens.push_back(tokenizer.eos_id());
  }
  if (files_used != nullptr) *files_used = used;
  if (count == kAllSequences) {
    count = static_cast<int64_t>(tokens.size()) / (sequence + 1);
    if (count == 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": its ", files.size(), " files hold ", tokens.size(),
                                                     " tokens, not one sequence of ", sequence));
    }
  } else if (static_cast<int64_t>(tokens.size()) < needed) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": its ", files.size(), " files hold ", tokens.size(),
                                                   " tokens, ", count, " sequences of ", sequence, " need ", needed));
  }
  tokens.resize(static_cast<size_t>(count * (sequence + 1)));
  torch::Tensor all = torch::tensor(tokens, torch::kInt64).view({count, sequence + 1});
  return ImageDataset{all.slice(1, 0, sequence).contiguous(), all.slice(1, 1, sequence + 1).contiguous()};
}

absl::StatusOr<ScenarioData> MaterializeTextScenario(const Scenario& scenario, const Tokenizer& tokenizer,
                                                     bool include_stream) {
  if (!scenario.text()) return absl::InvalidArgumentError(absl::StrCat("scenario '", scenario.name, "' is not text"));
  ScenarioData out;
  out.eval_domains = scenario.DistinctDomains();
  std::vector<ImageDataset> streams;
  try {
    for (const std::string& name : out.eval_domains) {
      const DomainSpec* spec = nullptr;
      int64_t stream_samples = 0;
      for (const DomainSpec& d : scenario.domains) {
        if (d.name != name) continue;
        if (spec == nullptr) spec = &d;  // a recurring domain keeps its first entry's corpus
        stream_samples += d.samples;
      }
      if (absl::Status each = EachGlobMatches(spec->files, "files"); !each.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("scenario '", scenario.name, "', domain '", name, "': ",
                                                       each.message()));
      }
      ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandGlobs(spec->files));
      if (files.size() < 2) {
        return absl::InvalidArgumentError(absl::StrCat("domain '", name, "': its files (", absl::StrJoin(spec->files, ", "),
                                                       ") match ", files.size(), " file(s); a train/held-out split needs 2"));
      }
      const CorpusSplit split = SplitByFile(files, spec->heldout_share, Salted(static_cast<uint64_t>(scenario.seed), name));
      ASSIGN_OR_RETURN(ImageDataset eval, TokenSequences(split.heldout, tokenizer, scenario.sequence,
                                                         scenario.eval_samples,
                                                         absl::StrCat("domain '", name, "' (held-out files)")));
      out.eval.push_back(std::move(eval));
      if (include_stream) {
        ASSIGN_OR_RETURN(ImageDataset stream, TokenSequences(split.train, tokenizer, scenario.sequence, stream_samples,
                                                             absl::StrCat("domain '", name, "' (training files)")));
        streams.push_back(std::move(stream));
      }
    }
    if (!include_stream) return out;
    std::vector<int64_t> cursor(out.eval_domains.size(), 0);
    for (size_t w = 0; w < scenario.domains.size(); ++w) {
      const DomainSpec& spec = scenario.domains[w];
      DomainWindow window;
      window.domain = spec.name;
      window.domain_index = static_cast<size_t>(
          std::find(out.eval_domains.begin(), out.eval_domains.end(), spec.name) - out.eval_domains.begin());
      int64_t& at = cursor[window.domain_index];
      window.stream = streams[window.domain_index].Slice(at, at + spec.samples);
      at += spec.samples;
      at::Generator gen = at::detail::createCPUGenerator(Salted(static_cast<uint64_t>(scenario.seed), absl::StrCat("labels", w)));
      window.labeled = torch::rand({spec.samples}, gen) < spec.labeled_fraction;
      out.windows.push_back(std::move(window));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("materialising text scenario failed: ", e.what_without_backtrace()));
  }
  return out;
}

}  // namespace bt
