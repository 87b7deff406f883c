// Half-precision values without LibTorch: IEEE binary16 (F16) and bfloat16 (BF16) to and from F32, rounding to
// nearest even (what PyTorch's .half() and .bfloat16() do), and float tensors read or rewritten in another of the
// three dtypes. The cloud serves and exports half-precision checkpoints with it; edges compute in F32 and push F32
// blocks, which an export writes back in the checkpoint's own dtype. Little-endian data, like safetensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/format/safetensors.h"

namespace bt {

float HalfToFloat(uint16_t bits);
uint16_t FloatToHalf(float value);  // beyond ±65504 (after rounding): ±inf; NaN stays NaN
float BFloat16ToFloat(uint16_t bits);
uint16_t FloatToBFloat16(float value);

// F32, F16 or BF16.
bool IsFloatDType(DType dtype);
bool IsHalfDType(DType dtype);  // F16 or BF16

// Every value of a float tensor as F32, in order; empty when `t` is not a float tensor (IsFloatDType).
std::vector<float> FloatValues(const TensorView& t);

// The data of float tensor `t` in dtype `to` (both IsFloatDType; F64 is not handled). OutOfRange when a finite
// value does not fit F16 (rather than writing inf).
absl::StatusOr<std::string> ConvertFloatData(const TensorView& t, DType to);

}  // namespace bt
