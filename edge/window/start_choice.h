// A window's starting version (edge/window/version_zoo.h says why): the drift signature of the window's samples,
// the candidate list built from a zoo, and the choice by measured accuracy, which RunWindow makes before probing.
//
// The signature is a statistic of the inputs, not of a model's features, so that versions trained from different
// starts are comparable: window means of per-image brightness and contrast, of horizontal and vertical gradient
// energy (blur, fog and rain move them), a 16-bin intensity histogram (night, fog) and a 4×4 grid of mean
// intensity (occlusion). Each part lies in [0, 1]; the distance is Euclidean.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/model/block_model.h"
#include "common/base/status.h"
#include "edge/window/version_zoo.h"

namespace bt {

// `images`: (N, C, H, W) in [0, 1], N ≥ 1; or token ids (N, T). 36 values.
std::vector<double> DriftSignature(const torch::Tensor& images);

// A version a window may start from besides the deployed one.
struct StartCandidate {
  uint64_t version = 0;
  std::string label;  // for logs: "foundation", "v3 (window w-3, distance 0.12)"
  std::function<absl::StatusOr<std::unique_ptr<BlockModel>>()> load;
};

// The foundation (unless it is the head) and the zoo's `nearest` versions closest to `signature` other than the
// head, with `load(version)` building each. The head itself is the window's model and never a candidate.
std::vector<StartCandidate> StartCandidates(
    const std::vector<ZooVersion>& zoo, uint64_t head, const std::vector<double>& signature,
    const std::function<absl::StatusOr<std::unique_ptr<BlockModel>>(const ZooVersion&)>& load,
    int nearest = kZooNearest);

}  // namespace bt
