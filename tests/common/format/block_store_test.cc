// The content-addressed block store: put/get by digest, digests checked, only 64-hex digests reach the filesystem
// (a peer's '../../x' cannot name a path), and the edge's earlier flat layout migrates into the shards.
#include "common/format/block_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "absl/strings/ascii.h"
#include "common/base/sha256.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

TEST(BlockStore, StoresByDigestAndChecksTheExpectedOne) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  auto digest = store.Put("hello");
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex("hello"));
  EXPECT_TRUE(store.Has(*digest));
  EXPECT_EQ(*store.Read(*digest), "hello");
  auto mapped = store.Get(*digest);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ((*mapped)->size(), 5u);
  EXPECT_EQ(store.PathFor(*digest), dir.Path("blocks/" + digest->substr(0, 2) + "/" + *digest + ".safetensors"));
  EXPECT_TRUE(absl::IsDataLoss(store.Put("other", *digest).status()));
  EXPECT_TRUE(absl::IsNotFound(store.Read(std::string(64, '0')).status()));
}

TEST(BlockStore, OnlyDigestsReachTheFilesystem) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  ASSERT_TRUE(WriteFileAtomically(dir.Path("secret.safetensors"), "x").ok());
  for (const std::string& bad : std::vector<std::string>{"../secret", "../../etc/passwd", std::string(64, 'G'),
                                                         std::string(63, 'a'), ""}) {
    EXPECT_FALSE(store.Has(bad)) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(store.Read(bad).status())) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(store.Get(bad).status())) << bad;
  }
  EXPECT_TRUE(IsDigest(Sha256Hex("x")));
  EXPECT_FALSE(IsDigest(absl::AsciiStrToUpper(Sha256Hex("x"))));
}

TEST(BlockStore, OpenMigratesTheFlatLayout) {
  TestDir dir;
  const std::string digest = Sha256Hex("block"), partial = Sha256Hex("partial");
  ASSERT_TRUE(WriteFileAtomically(dir.Path("blocks/" + digest + ".safetensors"), "block").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("blocks/" + partial + ".partial"), "par").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Path("blocks/notes.txt"), "left alone").ok());
  auto store = BlockStore::Open(dir.Path("blocks"));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Has(digest));
  EXPECT_EQ(*(*store)->Read(digest), "block");
  EXPECT_TRUE(std::filesystem::exists((*store)->PartialPathFor(partial)));
  EXPECT_FALSE(std::filesystem::exists(dir.Path("blocks/" + digest + ".safetensors")));
  EXPECT_TRUE(std::filesystem::exists(dir.Path("blocks/notes.txt")));
}

// Issue 15 #4: pushes that failed late left their block files, and crashes left *.tmp.* files, for ever.
TEST(BlockStore, SweepRemovesTemporaryFilesAndBlocksNoOneKeepsButNotPartialPulls) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  const std::string kept = *store.Put("kept"), orphan = *store.Put("orphan");
  const std::string partial = Sha256Hex("partial");
  std::filesystem::create_directories(store.ShardDir(partial));
  ASSERT_TRUE(WriteFileAtomically(store.PartialPathFor(partial), "part").ok());
  const std::string temporary = store.PathFor(kept) + ".tmp.123.456";
  ASSERT_TRUE(WriteFileAtomically(temporary, "interrupted").ok());
  auto swept = store.Sweep([&](const std::string& d) { return d == kept; });
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->blocks, 1);
  EXPECT_EQ(swept->temporary, 1);
  EXPECT_EQ(swept->bytes, std::string("orphan").size() + std::string("interrupted").size());
  EXPECT_TRUE(store.Has(kept));
  EXPECT_FALSE(store.Has(orphan));
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_TRUE(std::filesystem::exists(store.PartialPathFor(partial)));
  EXPECT_EQ(store.Sweep([](const std::string&) { return true; })->blocks, 0);  // nothing more
  EXPECT_EQ(BlockStore(dir.Path("none")).Sweep([](const std::string&) { return false; })->blocks, 0);
}

}  // namespace
}  // namespace bt
