// Drift scenarios: what an edge's camera sees over time, as a YAML list of domains, each a chain of corruptions
// at a severity 1-5 lasting a number of stream samples. The YAML schema is a contract (other tools and benchmarks
// write it):
//
//   scenario:
//     name: roadside-week          # free text
//     seed: 7
//     dataset: fashion-mnist       # test split is the stream; training split stays the cloud's
//     eval_samples: 500            # held-out samples per domain, disjoint from the stream
//     domains:
//       - name: fog
//         samples: 2000            # stream samples this domain lasts
//         labeled_fraction: 1.0    # share of stream samples that arrive with a label
//         corruptions:
//           - {type: fog, severity: 3}
//
// Torch-free: loading and validation only. Deterministic materialisation lives in scenario_data.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct CorruptionSpec {
  std::string type;       // one of KnownCorruptions()
  int severity = 1;       // 1 (mild) .. 5 (harsh)
  std::string direction;  // brightness only: "up" or "down" (default "up")
};

struct DomainSpec {
  std::string name;
  int64_t samples = 0;
  double labeled_fraction = 1.0;
  std::vector<CorruptionSpec> corruptions;  // applied in order; empty = clean
};

struct Scenario {
  std::string name;
  int64_t seed = 0;
  std::string dataset = "fashion-mnist";
  int64_t eval_samples = 500;
  std::vector<DomainSpec> domains;

  // Distinct domain names in first-appearance order (a recurring domain shares its held-out set).
  std::vector<std::string> DistinctDomains() const;
  int64_t StreamSamples() const;
};

// Names of every corruption the library implements.
const std::vector<std::string>& KnownCorruptions();

// Size of a dataset's stream split (Fashion-MNIST test: 10,000).
absl::StatusOr<int64_t> DatasetStreamSize(const std::string& dataset);

absl::StatusOr<Scenario> ParseScenario(const std::string& yaml, const std::string& source);
absl::StatusOr<Scenario> LoadScenario(const std::string& path);

}  // namespace bt
