// Conversion between torch tensors and the torch-free TensorView used by safetensors, manifests and the wire.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

absl::StatusOr<torch::Dtype> ToTorchDtype(DType dtype);
absl::StatusOr<DType> FromTorchDtype(torch::Dtype dtype);

// A view of `tensor`'s bytes. `tensor` must be a contiguous CPU tensor and must outlive the view.
absl::StatusOr<TensorView> ViewOf(const std::string& name, const torch::Tensor& tensor);

// A new CPU tensor holding a copy of `view`'s bytes (safe for unaligned sources).
absl::StatusOr<torch::Tensor> ToTensor(const TensorView& view);

}  // namespace bt
