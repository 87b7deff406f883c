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

}  // namespace
}  // namespace bt
