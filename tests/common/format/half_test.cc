// F16 and BF16 conversion without LibTorch: exact on every representable value, round to nearest even, the edges
// (overflow, subnormals, NaN), and whole tensors converted — with an F16 overflow refused, not written as inf.
#include "common/format/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/format/manifest.h"

namespace bt {
namespace {

TEST(Half, EveryHalfAndBFloat16ValueRoundTripsExactly) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = HalfToFloat(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
    } else {
      ASSERT_EQ(FloatToHalf(f), h) << std::hex << bits;
    }
    const float b = BFloat16ToFloat(h);
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(b))));
    } else {
      ASSERT_EQ(FloatToBFloat16(b), h) << std::hex << bits;
    }
  }
}

TEST(Half, KnownValuesAndRoundingToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // the halfway point rounds to even: past the largest, inf
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);       // the smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);       // halfway to it: to even (zero)
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);       // 1.5 × the smallest: to even (2)
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.5f, -24)), 0x0400);    // rounds up into the smallest normal
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // halfway between 1 and the next: even
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3c02);      // halfway above an odd mantissa: up
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);  // past halfway: up
  EXPECT_FLOAT_EQ(HalfToFloat(0x3555), 0.333251953125f);

  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // halfway: even
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // halfway above odd: up
  EXPECT_EQ(FloatToBFloat16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf, as PyTorch does
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Half, TensorsConvertBetweenTheThreeDtypesAndAnF16OverflowIsAnError) {
  const std::vector<float> values = {0.1f, -3.5f, 1000.25f, 0.0f};
  const TensorView f32{"w", DType::kF32, {4}, reinterpret_cast<const uint8_t*>(values.data()), 16};
  auto as_f16 = ConvertFloatData(f32, DType::kF16);
  ASSERT_TRUE(as_f16.ok()) << as_f16.status();
  ASSERT_EQ(as_f16->size(), 8u);
  const TensorView f16{"w", DType::kF16, {4}, reinterpret_cast<const uint8_t*>(as_f16->data()), 8};
  const std::vector<float> back = FloatValues(f16);
  ASSERT_EQ(back.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(back[i], HalfToFloat(FloatToHalf(values[i])));
  auto as_bf16 = *ConvertFloatData(f16, DType::kBF16);
  const TensorView bf16{"w", DType::kBF16, {4}, reinterpret_cast<const uint8_t*>(as_bf16.data()), 8};
  EXPECT_EQ(FloatValues(bf16)[1], -3.5f);
  EXPECT_EQ(*ConvertFloatData(f32, DType::kF32), std::string(reinterpret_cast<const char*>(values.data()), 16));

  const std::vector<float> large = {1.0f, 70000.0f};
  const TensorView big{"layer.w", DType::kF32, {2}, reinterpret_cast<const uint8_t*>(large.data()), 8};
  auto overflow = ConvertFloatData(big, DType::kF16);
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("layer.w"), std::string::npos) << overflow.status();
  EXPECT_TRUE(ConvertFloatData(big, DType::kBF16).ok());  // BF16 has F32's range
  const std::vector<int32_t> ints = {1, 2};
  const TensorView i32{"n", DType::kI32, {2}, reinterpret_cast<const uint8_t*>(ints.data()), 8};
  EXPECT_TRUE(FloatValues(i32).empty());
  EXPECT_FALSE(ConvertFloatData(i32, DType::kF32).ok());
}

TEST(Half, AHalfPrecisionBlockKnowsItsCanonicalSizeInF32) {
  std::vector<uint16_t> a(6, 0x3c00), b(3, 0x3c00);
  const std::vector<TensorView> half = {{"block.a", DType::kF16, {2, 3}, reinterpret_cast<const uint8_t*>(a.data()), 12},
                                        {"block.b", DType::kBF16, {3}, reinterpret_cast<const uint8_t*>(b.data()), 6}};
  auto entry = DescribeBlock("block", half);
  ASSERT_TRUE(entry.ok()) << entry.status();
  std::vector<std::string> storage;
  std::vector<TensorView> f32;
  for (const TensorView& t : half) {
    storage.push_back(*ConvertFloatData(t, DType::kF32));
    f32.push_back({t.name, DType::kF32, t.shape, reinterpret_cast<const uint8_t*>(storage.back().data()),
                   storage.back().size()});
  }
  EXPECT_EQ(entry->f32_file_bytes, SerializeBlock(f32)->size());
  EXPECT_EQ(DescribeBlock("block", f32)->f32_file_bytes, 0u);  // already F32
}

}  // namespace
}  // namespace bt
