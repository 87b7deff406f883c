#include "common/data/corruptions.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

// A batch of "garment-like" images: an asymmetric bright shape (a torso and one sleeve) on a dark background,
// with texture, so that geometric corruptions (rotation, elastic) visibly move it.
torch::Tensor Images() {
  torch::manual_seed(11);
  torch::Tensor shape = torch::zeros({1, 1, 28, 28});
  // Odd edges, so that no pixelation grid happens to align with the shape.
  shape.slice(2, 3, 23).slice(3, 7, 17).fill_(0.8);   // torso
  shape.slice(2, 5, 11).slice(3, 17, 25).fill_(0.6);  // one sleeve
  return torch::clamp(shape.expand({6, 1, 28, 28}) + torch::rand({6, 1, 28, 28}) * 0.2, 0, 1);
}

double Change(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().mean().item<double>(); }

class EachCorruption : public testing::TestWithParam<std::string> {};

TEST_P(EachCorruption, IsDeterministicKeepsShapeAndRangeAndWorsensWithSeverity) {
  torch::Tensor clean = Images();
  CorruptionSpec mild{GetParam(), 1, ""}, harsh{GetParam(), 5, ""};
  if (GetParam() == "brightness") mild.direction = harsh.direction = "down";
  auto a = ApplyCorruption(clean, harsh, 5);
  auto b = ApplyCorruption(clean, harsh, 5);
  auto m = ApplyCorruption(clean, mild, 5);
  ASSERT_TRUE(a.ok() && b.ok() && m.ok()) << a.status() << m.status();
  EXPECT_TRUE(a->equal(*b)) << "same seed, same output";
  EXPECT_EQ(a->sizes(), clean.sizes());
  EXPECT_GE(a->min().item<float>(), 0.0f);
  EXPECT_LE(a->max().item<float>(), 1.0f);
  EXPECT_FALSE(torch::isnan(*a).any().item<bool>());
  double harsh_change = Change(*a, clean), mild_change = Change(*m, clean);
  EXPECT_GT(mild_change, 1e-4) << "severity 1 must change the image";
  EXPECT_GT(harsh_change, mild_change * 1.2) << "severity 5 must change it more than severity 1";
  // Every intermediate severity is at least as harsh as the one below it (within noise).
  double previous = 0;
  for (int s = 1; s <= 5; ++s) {
    CorruptionSpec spec{GetParam(), s, mild.direction};
    double change = Change(*ApplyCorruption(clean, spec, 5), clean);
    EXPECT_GE(change, previous * 0.9) << "severity " << s;
    previous = change;
  }
  // The input is not modified in place.
  EXPECT_TRUE(clean.equal(Images()));
}

INSTANTIATE_TEST_SUITE_P(All, EachCorruption, testing::ValuesIn(KnownCorruptions()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(Corruptions, SeedMattersForRandomOnes) {
  torch::Tensor clean = Images();
  CorruptionSpec noise{"gaussian_noise", 3, ""};
  EXPECT_FALSE(ApplyCorruption(clean, noise, 1)->equal(*ApplyCorruption(clean, noise, 2)));
}

TEST(Corruptions, BrightnessGoesBothWays) {
  torch::Tensor clean = Images();
  auto up = ApplyCorruption(clean, {"brightness", 3, "up"}, 1);
  auto down = ApplyCorruption(clean, {"brightness", 3, "down"}, 1);
  EXPECT_GT(up->mean().item<double>(), clean.mean().item<double>());
  EXPECT_LT(down->mean().item<double>(), clean.mean().item<double>());
}

TEST(Corruptions, ChainsApplyInOrderAndDeterministically) {
  torch::Tensor clean = Images();
  std::vector<CorruptionSpec> night = {{"brightness", 5, "down"}, {"gaussian_noise", 2, ""}};
  auto a = ApplyCorruptions(clean, night, 3);
  auto b = ApplyCorruptions(clean, night, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->equal(*b));
  EXPECT_LT(a->mean().item<double>(), clean.mean().item<double>());
  auto none = ApplyCorruptions(clean, {}, 3);
  EXPECT_TRUE(none->equal(clean));
}

TEST(Corruptions, RejectsUnknownTypeAndBadSeverity) {
  torch::Tensor clean = Images();
  EXPECT_FALSE(ApplyCorruption(clean, {"lens_flare", 3, ""}, 1).ok());
  EXPECT_FALSE(ApplyCorruption(clean, {"fog", 0, ""}, 1).ok());
  EXPECT_FALSE(ApplyCorruption(clean, {"fog", 6, ""}, 1).ok());
  EXPECT_FALSE(ApplyCorruption(clean.view({6, 28, 28}), {"fog", 3, ""}, 1).ok());
}

}  // namespace
}  // namespace bt
