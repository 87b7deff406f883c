#include "common/format/manifest.h"

#include <gtest/gtest.h>

#include <random>

#include "common/format/block_layout.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

using fixtures::FakeWeights;

VitConfig Tiny() { return fixtures::TinyVit(8, 2, 2, 16); }

TEST(BlockLayout, CoversEveryParameterOnceInForwardOrder) {
  VitConfig c = Tiny();
  auto layout = VitBlockLayout(c);
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[0].name, "embed");
  EXPECT_EQ(layout[1].name, "encoder_layer_0");
  EXPECT_EQ(layout[3].name, "head");
  int64_t total = 0;
  for (const BlockSpec& b : layout) {
    for (const ParamSpec& p : b.params) {
      int64_t n = 1;
      for (int64_t d : p.shape) n *= d;
      total += n;
    }
  }
  EXPECT_EQ(total, c.ParameterCount());
}

TEST(Manifest, DigestsAreStableAndContentAddressed) {
  VitConfig c = Tiny();
  FakeWeights weights(c);
  auto first = BuildManifest("m", VitBlockLayout(c), weights.views);
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<TensorView> reversed(weights.views.rbegin(), weights.views.rend());
  auto second = BuildManifest("m", VitBlockLayout(c), reversed);
  ASSERT_TRUE(second.ok());
  for (size_t b = 0; b < first->blocks.size(); ++b) {
    EXPECT_EQ(first->blocks[b].digest, second->blocks[b].digest);
    EXPECT_EQ(first->blocks[b].digest.size(), 64u);
  }
  EXPECT_EQ(first->TotalParameters(), c.ParameterCount());
  EXPECT_EQ(first->TotalBytes(), static_cast<uint64_t>(c.ParameterCount()) * 4);

  // Changing one weight of encoder_layer_1 changes that block's digest and no other.
  weights.storage[4 + 12 + 3][0] += 1.0f;  // embed has 4 tensors, layer 0 has 12; tensor 3 of layer 1
  auto changed = BuildManifest("m", VitBlockLayout(c), weights.views);
  ASSERT_TRUE(changed.ok());
  for (size_t b = 0; b < first->blocks.size(); ++b) {
    if (first->blocks[b].name == "encoder_layer_1") {
      EXPECT_NE(first->blocks[b].digest, changed->blocks[b].digest);
    } else {
      EXPECT_EQ(first->blocks[b].digest, changed->blocks[b].digest) << first->blocks[b].name;
    }
  }
}

TEST(Manifest, DigestIsTheSha256OfTheCanonicalBlockBytes) {
  VitConfig c = Tiny();
  FakeWeights weights(c);
  auto manifest = BuildManifest("m", VitBlockLayout(c), weights.views);
  ASSERT_TRUE(manifest.ok());
  auto grouped = GroupByBlock(VitBlockLayout(c), weights.views);
  ASSERT_TRUE(grouped.ok());
  auto bytes = SerializeBlock((*grouped)[0]);
  ASSERT_TRUE(bytes.ok());
  auto reparsed = SafetensorsFile::FromBytes(*bytes, "block");
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ((*reparsed)->tensors().size(), 4u);
  EXPECT_EQ(manifest->blocks[0].bytes, (*grouped)[0][0].size_bytes + (*grouped)[0][1].size_bytes +
                                           (*grouped)[0][2].size_bytes + (*grouped)[0][3].size_bytes);
}

TEST(Manifest, RejectsTensorsThatDoNotFitTheLayout) {
  VitConfig c = Tiny();
  FakeWeights weights(c);
  auto layout = VitBlockLayout(c);

  std::vector<TensorView> missing(weights.views.begin() + 1, weights.views.end());
  auto r1 = BuildManifest("m", layout, missing);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("missing"), std::string::npos) << r1.status();

  std::vector<TensorView> extra = weights.views;
  extra.push_back(weights.views[0]);
  extra.back().name = "encoder.layers.encoder_layer_9.ln_1.weight";
  auto r2 = BuildManifest("m", layout, extra);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("belongs to no block"), std::string::npos) << r2.status();

  std::vector<TensorView> reshaped = weights.views;
  reshaped[1].shape = {4, 2};  // conv_proj.bias is [8]
  auto r3 = BuildManifest("m", layout, reshaped);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("has shape [4x2]"), std::string::npos) << r3.status();
}

TEST(Manifest, JsonAndTableListEveryBlock) {
  VitConfig c = Tiny();
  FakeWeights weights(c);
  auto manifest = BuildManifest("tiny", VitBlockLayout(c), weights.views);
  ASSERT_TRUE(manifest.ok());
  std::string json = manifest->ToJson();
  std::string table = manifest->ToTable();
  for (const BlockEntry& b : manifest->blocks) {
    EXPECT_NE(json.find(b.digest), std::string::npos);
    EXPECT_NE(table.find(b.name), std::string::npos);
  }
}

}  // namespace
}  // namespace bt
