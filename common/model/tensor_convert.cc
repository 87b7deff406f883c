#include "common/model/tensor_convert.h"

#include <cstring>

namespace bt {

absl::StatusOr<torch::Dtype> ToTorchDtype(DType dtype) {
  switch (dtype) {
    case DType::kF64: return torch::kFloat64;
    case DType::kF32: return torch::kFloat32;
    case DType::kF16: return torch::kFloat16;
    case DType::kBF16: return torch::kBFloat16;
    case DType::kI64: return torch::kInt64;
    case DType::kI32: return torch::kInt32;
    case DType::kI16: return torch::kInt16;
    case DType::kI8: return torch::kInt8;
    case DType::kU8: return torch::kUInt8;
    case DType::kBool: return torch::kBool;
  }
  return absl::InvalidArgumentError("unknown dtype");
}

absl::StatusOr<DType> FromTorchDtype(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat64: return DType::kF64;
    case torch::kFloat32: return DType::kF32;
    case torch::kFloat16: return DType::kF16;
    case torch::kBFloat16: return DType::kBF16;
    case torch::kInt64: return DType::kI64;
    case torch::kInt32: return DType::kI32;
    case torch::kInt16: return DType::kI16;
    case torch::kInt8: return DType::kI8;
    case torch::kUInt8: return DType::kU8;
    case torch::kBool: return DType::kBool;
    default:
      return absl::InvalidArgumentError(absl::StrCat("torch dtype ", c10::toString(dtype),
                                                     " has no safetensors equivalent"));
  }
}

absl::StatusOr<TensorView> ViewOf(const std::string& name, const torch::Tensor& tensor) {
  if (!tensor.defined()) return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is undefined"));
  if (!tensor.device().is_cpu() || !tensor.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' must be a contiguous CPU tensor"));
  }
  ASSIGN_OR_RETURN(DType dtype, FromTorchDtype(tensor.scalar_type()));
  TensorView view;
  view.name = name;
  view.dtype = dtype;
  view.shape = tensor.sizes().vec();
  view.data = static_cast<const uint8_t*>(tensor.data_ptr());
  view.size_bytes = static_cast<size_t>(tensor.numel()) * tensor.element_size();
  return view;
}

absl::StatusOr<torch::Tensor> ToTensor(const TensorView& view) {
  ASSIGN_OR_RETURN(torch::Dtype dtype, ToTorchDtype(view.dtype));
  if (static_cast<uint64_t>(view.NumElements()) * DTypeSize(view.dtype) != view.size_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", view.name, "': byte size does not match its shape"));
  }
  torch::Tensor out = torch::empty(view.shape, torch::TensorOptions().dtype(dtype));
  if (view.size_bytes > 0) std::memcpy(out.data_ptr(), view.data, view.size_bytes);
  return out;
}

}  // namespace bt
