#include "common/format/half.h"

#include <cmath>
#include <cstring>

namespace bt {

namespace {

uint32_t Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}

float FromBits(uint32_t x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa × 2^-24
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -v : v;
  }
  if (exponent == 31) return FromBits(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  return FromBits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float value) {
  const uint32_t x = Bits(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // inf, or NaN (kept quiet, with what fits of its payload)
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u | ((magnitude >> 13) & 0x3ffu) : 0u));
  }
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // ≥ 65520 rounds past 65504
  if (magnitude < 0x38800000u) {  // below 2^-14: a subnormal half (or zero); × 2^24 is exact, then round to even
    const auto m = static_cast<uint32_t>(std::nearbyint(FromBits(magnitude) * 16777216.0f));
    return static_cast<uint16_t>(sign | m);  // m = 0x400 is the smallest normal, encoded the same way
  }
  // Normal: rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest even.
  const uint32_t odd = (magnitude >> 13) & 1u;
  return static_cast<uint16_t>(sign | ((magnitude - 0x38000000u + 0xfffu + odd) >> 13));
}

float BFloat16ToFloat(uint16_t bits) { return FromBits(static_cast<uint32_t>(bits) << 16); }

uint16_t FloatToBFloat16(float value) {
  const uint32_t x = Bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN stays NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

bool IsFloatDType(DType dtype) { return dtype == DType::kF32 || IsHalfDType(dtype); }
bool IsHalfDType(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

std::vector<float> FloatValues(const TensorView& t) {
  std::vector<float> out;
  if (!IsFloatDType(t.dtype)) return out;
  const size_t n = t.size_bytes / DTypeSize(t.dtype);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kF32: std::memcpy(&out[i], t.data + 4 * i, 4); break;
      case DType::kF16: out[i] = HalfToFloat(Load16(t.data + 2 * i)); break;
      default: out[i] = BFloat16ToFloat(Load16(t.data + 2 * i)); break;
    }
  }
  return out;
}

absl::StatusOr<std::string> ConvertFloatData(const TensorView& t, DType to) {
  if (!IsFloatDType(t.dtype) || !IsFloatDType(to)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': cannot convert ", DTypeName(t.dtype),
                                                   " to ", DTypeName(to), " (F32, F16 and BF16 only)"));
  }
  if (t.dtype == to) return std::string(reinterpret_cast<const char*>(t.data), t.size_bytes);
  const std::vector<float> values = FloatValues(t);
  std::string out(values.size() * DTypeSize(to), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    if (to == DType::kF32) {
      std::memcpy(&out[4 * i], &values[i], 4);
      continue;
    }
    const uint16_t h = to == DType::kF16 ? FloatToHalf(values[i]) : FloatToBFloat16(values[i]);
    if (to == DType::kF16 && std::isfinite(values[i]) && (h & 0x7c00u) == 0x7c00u) {
      return absl::OutOfRangeError(absl::StrCat("tensor '", t.name, "': ", values[i], " at index ", i,
                                                " does not fit F16 (largest 65504)"));
    }
    out[2 * i] = static_cast<char>(h & 0xff);
    out[2 * i + 1] = static_cast<char>(h >> 8);
  }
  return out;
}

}  // namespace bt
