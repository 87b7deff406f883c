// A separable toy task for training tests: class 1 images are bright in the top half, class 0 in the bottom half.
#pragma once

#include <torch/torch.h>

#include "common/data/dataset.h"

namespace bt::fixtures {

inline ImageDataset ToyData(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  ImageDataset data;
  data.labels = torch::randint(0, 2, {n}, torch::kInt64);
  data.images = torch::rand({n, 1, 28, 28}) * 0.3;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = data.labels[i].item<int64_t>() == 1 ? 0 : 14;
    data.images[i].slice(1, row, row + 14).add_(0.6);
  }
  return data;
}

}  // namespace bt::fixtures
