// A drift scenario materialised into tensors: for each window (domain entry, in order) its stream samples with
// labels and a labeled mask, and for each distinct domain its held-out evaluation set. Deterministic for the
// scenario's seed. The held-out sets are disjoint from every stream sample.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/data/dataset.h"
#include "common/config/scenario.h"
#include "common/base/status.h"

namespace bt {

struct DomainWindow {
  std::string domain;        // domain name (recurring domains share a name)
  size_t domain_index = 0;   // index into ScenarioData::eval
  ImageDataset stream;       // corrupted stream images, true labels
  torch::Tensor labeled;     // bool (N): which stream samples arrive with their label
};

struct ScenarioData {
  std::vector<DomainWindow> windows;
  std::vector<std::string> eval_domains;  // distinct domain names
  std::vector<ImageDataset> eval;         // corrupted held-out samples per distinct domain
  std::vector<ImageDataset> eval_clean;   // the same held-out samples without corruption
};

// Splits `source` (the dataset's stream split, e.g. Fashion-MNIST test) per the scenario and applies each domain's
// corruptions. With `include_stream` false only the held-out sets are built (cheaper, for reports).
absl::StatusOr<ScenarioData> MaterializeScenario(const Scenario& scenario, const ImageDataset& source,
                                                 bool include_stream = true);

// The corruptions of the first domain entry named `domain`.
const std::vector<CorruptionSpec>* DomainCorruptions(const Scenario& scenario, const std::string& domain);

}  // namespace bt
