// The version zoo's index: which stored versions a window scores (nearest by drift signature, the head and the
// foundation left out, pending versions never), and the daemon's zoo.json surviving a restart.
#include "edge/window/version_zoo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/testing/test_dir.h"

namespace bt {
namespace {

ZooVersion V(uint64_t version, std::vector<double> signature, bool confirmed = true) {
  ZooVersion v;
  v.version = version;
  v.parent = version > 0 ? version - 1 : 0;
  v.window_id = "w" + std::to_string(version);
  v.confirmed = confirmed;
  v.signature = std::move(signature);
  v.blocks = {{"embed", std::string(64, 'a')}, {"head", std::string(64, 'b')}};
  return v;
}

TEST(VersionZoo, SignatureDistanceIsEuclideanAndInfiniteForUnknown) {
  EXPECT_DOUBLE_EQ(SignatureDistance({0, 0}, {3, 4}), 5.0);
  EXPECT_TRUE(std::isinf(SignatureDistance({}, {})));
  EXPECT_TRUE(std::isinf(SignatureDistance({1, 2}, {1, 2, 3})));
}

TEST(VersionZoo, NearestLeavesOutExcludedPendingAndUnsignedVersions) {
  const std::vector<ZooVersion> zoo = {V(0, {}),          V(1, {0.9, 0.9}), V(2, {0.1, 0.1}), V(3, {0.5, 0.5}),
                                       V(4, {0.1, 0.12}), V(5, {0.1, 0.1}, /*confirmed=*/false)};
  // Closest to (0.1, 0.1): v2 (0), v5 (pending: never), v4 (0.02), v3; v0 has no signature.
  EXPECT_EQ(NearestVersions(zoo, {0.1, 0.1}, {}, 2), (std::vector<size_t>{2, 4}));
  // The head (v2) is scored anyway: the next two.
  EXPECT_EQ(NearestVersions(zoo, {0.1, 0.1}, {2, 0}, 2), (std::vector<size_t>{4, 3}));
  EXPECT_TRUE(NearestVersions(zoo, {0.1, 0.1, 0.1}, {}, 2).empty());  // another kind of signature
  // Equal distance: the newer first.
  const std::vector<ZooVersion> tie = {V(1, {0.25}), V(2, {0.75})};
  EXPECT_EQ(NearestVersions(tie, {0.5}, {}, 1), (std::vector<size_t>{1}));
}

TEST(VersionZoo, PendingVersionsAreConfirmedByWindowAndSurviveARestart) {
  TestDir dir;
  const std::string path = dir.Path("zoo.json");
  {
    auto zoo = VersionZoo::Load(path);  // a first start: no file
    ASSERT_TRUE(zoo.ok()) << zoo.status();
    EXPECT_TRUE(zoo->versions().empty());
    ASSERT_TRUE(zoo->Add(V(0, {})).ok());
    ZooVersion pending = V(0, {0.3, 0.4}, /*confirmed=*/false);
    pending.window_id = "w-7";
    pending.parent = 0;
    ASSERT_TRUE(zoo->Add(pending).ok());
    EXPECT_TRUE(NearestVersions(zoo->versions(), {0.3, 0.4}, {}, 2).empty());
    EXPECT_TRUE(absl::IsNotFound(zoo->Confirm("w-8", 3)));
    ASSERT_TRUE(zoo->Confirm("w-7", 3).ok());
  }
  auto zoo = VersionZoo::Load(path);
  ASSERT_TRUE(zoo.ok()) << zoo.status();
  ASSERT_EQ(zoo->versions().size(), 2u);
  const ZooVersion& v = zoo->versions()[1];
  EXPECT_EQ(v.version, 3u);
  EXPECT_EQ(v.parent, 0u);
  EXPECT_TRUE(v.confirmed);
  EXPECT_EQ(v.signature, (std::vector<double>{0.3, 0.4}));
  EXPECT_EQ(v.blocks, V(0, {}).blocks);
  EXPECT_EQ(NearestVersions(zoo->versions(), {0.3, 0.4}, {}, 2), (std::vector<size_t>{1}));
}

TEST(VersionZoo, APrunedVersionIsForgotten) {
  VersionZoo zoo = *VersionZoo::Load("");
  ASSERT_TRUE(zoo.Add(V(1, {0.1})).ok());
  ASSERT_TRUE(zoo.Add(V(2, {0.2})).ok());
  ASSERT_TRUE(zoo.Forget(1).ok());
  ASSERT_EQ(zoo.versions().size(), 1u);
  EXPECT_EQ(zoo.versions()[0].version, 2u);
  EXPECT_TRUE(zoo.Forget(7).ok());  // not there: nothing to do
}

TEST(VersionZoo, ACorruptIndexIsAnErrorNamingTheFile) {
  TestDir dir;
  const std::string path = dir.Path("zoo.json");
  std::ofstream(path) << "{\"versions\": [{\"version\": \"x\"}]}";
  auto zoo = VersionZoo::Load(path);
  ASSERT_FALSE(zoo.ok());
  EXPECT_NE(zoo.status().message().find(path), std::string::npos) << zoo.status();
}

TEST(VersionZoo, TheIndexKeepsTheNewestVersions) {
  VersionZoo zoo = *VersionZoo::Load("");  // in memory
  for (uint64_t v = 0; v < kMaxZooVersions + 3; ++v) ASSERT_TRUE(zoo.Add(V(v, {0.0})).ok());
  ASSERT_EQ(zoo.versions().size(), kMaxZooVersions);
  EXPECT_EQ(zoo.versions().front().version, 3u);
}

}  // namespace
}  // namespace bt
