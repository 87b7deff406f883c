// Image corruptions that simulate what drifts at a roadside camera: noise, blur, weather, lighting, compression,
// occlusion by crowds, a tilted mount. In the spirit of ImageNet-C, with severity tables tuned for small
// (28×28) images. Every corruption takes a batch (N, C, H, W) of float pixels in [0, 1] and returns a new batch
// of the same shape, still in [0, 1]. Randomness comes only from `seed`: the same input and seed give the same
// output. Severity 1 is mild, 5 harsh; each step hurts more.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/config/scenario.h"
#include "common/base/status.h"

namespace bt {

absl::StatusOr<torch::Tensor> ApplyCorruption(const torch::Tensor& images, const CorruptionSpec& spec, uint64_t seed);

// Applies `chain` in order (each step seeded from `seed` and its position). An empty chain returns a copy.
absl::StatusOr<torch::Tensor> ApplyCorruptions(const torch::Tensor& images, const std::vector<CorruptionSpec>& chain,
                                               uint64_t seed);

}  // namespace bt
