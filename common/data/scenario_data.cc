#include "common/data/scenario_data.h"

#include <ATen/CPUGeneratorImpl.h>

#include <functional>

#include "common/data/corruptions.h"

namespace bt {
namespace {

uint64_t Mix(uint64_t seed, const std::string& salt, uint64_t index) {
  // FNV-1a over the salt, folded with seed and index: stable across runs and platforms.
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char ch : salt) h = (h ^ ch) * 1099511628211ull;
  h = (h ^ index) * 1099511628211ull;
  return h & ((uint64_t{1} << 62) - 1);
}

}  // namespace

const std::vector<CorruptionSpec>* DomainCorruptions(const Scenario& scenario, const std::string& domain) {
  for (const DomainSpec& d : scenario.domains) {
    if (d.name == domain) return &d.corruptions;
  }
  return nullptr;
}

absl::StatusOr<ScenarioData> MaterializeScenario(const Scenario& scenario, const ImageDataset& source,
                                                 bool include_stream) {
  ScenarioData out;
  out.eval_domains = scenario.DistinctDomains();
  const int64_t eval_n = scenario.eval_samples;
  const int64_t needed = scenario.StreamSamples() + eval_n * static_cast<int64_t>(out.eval_domains.size());
  if (needed > source.size()) {
    return absl::InvalidArgumentError(absl::StrCat("scenario '", scenario.name, "' needs ", needed,
                                                   " samples, the dataset holds ", source.size()));
  }
  try {
    at::Generator gen = at::detail::createCPUGenerator(Mix(static_cast<uint64_t>(scenario.seed), "split", 0));
    torch::Tensor order = torch::randperm(source.size(), gen, torch::kInt64);
    auto take = [&](int64_t begin, int64_t count) {
      torch::Tensor index = order.slice(0, begin, begin + count);
      return ImageDataset{source.images.index_select(0, index), source.labels.index_select(0, index)};
    };
    for (size_t d = 0; d < out.eval_domains.size(); ++d) {
      ImageDataset clean = take(static_cast<int64_t>(d) * eval_n, eval_n);
      const auto* chain = DomainCorruptions(scenario, out.eval_domains[d]);
      ASSIGN_OR_RETURN(torch::Tensor images,
                       ApplyCorruptions(clean.images, *chain,
                                        Mix(static_cast<uint64_t>(scenario.seed), "eval:" + out.eval_domains[d], d)));
      out.eval.push_back({images, clean.labels});
      out.eval_clean.push_back(clean);
    }
    if (!include_stream) return out;
    int64_t cursor = eval_n * static_cast<int64_t>(out.eval_domains.size());
    for (size_t w = 0; w < scenario.domains.size(); ++w) {
      const DomainSpec& spec = scenario.domains[w];
      DomainWindow window;
      window.domain = spec.name;
      window.domain_index = static_cast<size_t>(
          std::find(out.eval_domains.begin(), out.eval_domains.end(), spec.name) - out.eval_domains.begin());
      ImageDataset clean = take(cursor, spec.samples);
      cursor += spec.samples;
      ASSIGN_OR_RETURN(torch::Tensor images,
                       ApplyCorruptions(clean.images, spec.corruptions,
                                        Mix(static_cast<uint64_t>(scenario.seed), "stream:" + spec.name, w)));
      window.stream = {images, clean.labels};
      at::Generator label_gen =
          at::detail::createCPUGenerator(Mix(static_cast<uint64_t>(scenario.seed), "labels", w));
      window.labeled = torch::rand({spec.samples}, label_gen) < spec.labeled_fraction;
      out.windows.push_back(std::move(window));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("materialising scenario failed: ", e.what_without_backtrace()));
  }
  return out;
}

}  // namespace bt
