#include "common/base/units.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseSize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseSize("1.5GB"), 1'500'000'000ull);
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("2 KiB"), 2048u);
  EXPECT_EQ(*ParseSize("1gib"), 1ull << 30);
  EXPECT_EQ(*ParseSize("0.5KB"), 500u);
}

TEST(ParseSize, RejectsGarbageNamingTheText) {
  auto bad = ParseSize("12 parsecs");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("12 parsecs"), std::string::npos);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("-5MB").ok());
  EXPECT_FALSE(ParseSize("MB").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999TiB").ok());
}

TEST(ParseDuration, AcceptsUnitsAndCombinations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*ParseDuration("90s"), milliseconds(90'000));
  EXPECT_EQ(*ParseDuration("30m"), milliseconds(30 * 60'000));
  EXPECT_EQ(*ParseDuration("1h30m"), milliseconds(90 * 60'000));
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("0.5h"), milliseconds(30 * 60'000));
  EXPECT_EQ(*ParseDuration("45"), milliseconds(45'000));
  EXPECT_EQ(*ParseDuration("1d"), milliseconds(86'400'000));
}

TEST(ParseDuration, RejectsAmbiguousOrUnknown) {
  EXPECT_FALSE(ParseDuration("1h30").ok());
  EXPECT_FALSE(ParseDuration("10 fortnights").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("m").ok());
}

TEST(Format, BytesAndDurationsReadWell) {
  EXPECT_EQ(FormatBytes(812), "812 B");
  EXPECT_EQ(FormatBytes(1536), "1.50 KiB");
  EXPECT_EQ(FormatBytes(3ull << 30), "3.00 GiB");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(450)), "450ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(12'300)), "12.3s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(185'000)), "3m05s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(3'720'000)), "1h02m");
}

}  // namespace
}  // namespace bt
