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
// A text scenario (`dataset: text`) has token sequences for samples and files for domains:
//
//   scenario:
//     name: text-default
//     seed: 7
//     dataset: text
//     sequence: 64                 # tokens per sample (the context a window trains on)
//     eval_samples: 200            # held-out sequences per domain, from held-out files
//     domains:
//       - name: python
//         files: ["/usr/lib/python3.11/*.py"]   # globs (** for any depth); plain, .gz, .html or man pages
//         samples: 600             # stream sequences this domain lasts
//         heldout_share: 0.2       # share of the files held out (split by file: no file in both)
//
// Torch-free: loading and validation only. Deterministic materialisation lives in scenario_data.h / text_data.h.
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
  std::vector<std::string> files;           // text: the corpus (globs)
  double heldout_share = 0.2;               // text: share of the files held out
};

struct Scenario {
  std::string name;
  int64_t seed = 0;
  std::string dataset = "fashion-mnist";
  int64_t eval_samples = 500;
  int64_t sequence = 64;  // text: tokens per sample
  std::vector<DomainSpec> domains;

  bool text() const { return dataset == "text"; }

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
