// Labelled image datasets as tensors, and the model-input normalisation every component applies.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/base/status.h"

namespace bt {

// Images as float in [0, 1], shape (N, C, H, W); labels int64, shape (N). Pixels stay in [0, 1] so corruptions
// (drift) can be applied before normalisation.
struct ImageDataset {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  // Rows [begin, end) (views, no copy).
  ImageDataset Slice(int64_t begin, int64_t end) const;
};

inline constexpr int kFashionMnistClasses = 10;

// Loads Fashion-MNIST's "train" (60,000) or "test" (10,000) split from the IDX files in `dir` (or .gz). Images and
// labels must agree in count and every label must be a class; anything else is DATA_LOSS naming the file.
absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir, const std::string& split);

// Maps [0, 1] pixels to the model's input range [-1, 1].
torch::Tensor NormalizeImages(const torch::Tensor& unit_images);

}  // namespace bt
