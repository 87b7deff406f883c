// The outbox: delivery in order, exactly once; transient failures keep updates; permanent refusals and damaged
// files move to rejected/ with the reason and never block the queue.
#include "edge/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

struct Fixture {
  TestDir dir;
  BlockStore store{dir.Path("blocks")};
  int64_t clock = 1000;
  Outbox outbox{dir.Path("outbox"), &store, [this] { return clock; }};

  OutboxEntry Entry(const std::string& window, const std::string& bytes) {
    OutboxEntry e;
    e.window_id = window;
    e.plan_id = "plan-" + window;
    e.base_version = 3;
    e.accuracy_before = 0.4;
    e.accuracy_after = 0.7;
    e.iterations = 100;
    e.blocks.push_back({"head", *store.Put(bytes), std::string(64, '0')});
    return e;
  }
};

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Outbox, DeliversOldestFirstAndOnlyOnce) {
  Fixture f;
  ASSERT_TRUE(f.outbox.Add(f.Entry("w1", "one")).ok());
  ASSERT_TRUE(f.outbox.Add(f.Entry("w2", "two")).ok());  // same second: ordered by sequence
  EXPECT_EQ(f.outbox.size(), 2u);
  std::vector<std::string> pushed;
  uint64_t version = 10;
  auto push = [&](const v1::PushHeader& h, const std::vector<CloudClient::OutgoingBlock>& blocks,
                  TransferStats*) -> absl::StatusOr<uint64_t> {
    pushed.push_back(h.plan_id() + ":" + blocks.at(0).bytes);
    EXPECT_EQ(h.base_version(), 3u);
    EXPECT_EQ(blocks.at(0).replaces_digest, std::string(64, '0'));
    return ++version;
  };
  std::vector<uint64_t> delivered;
  ASSERT_TRUE(f.outbox.Flush(push, [&](const Delivered& d) { delivered.push_back(d.version); }).ok());
  EXPECT_EQ(pushed, (std::vector<std::string>{"plan-w1:one", "plan-w2:two"}));
  EXPECT_EQ(delivered, (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(f.outbox.size(), 0u);
  ASSERT_TRUE(f.outbox.Flush(push, nullptr).ok());
  EXPECT_EQ(pushed.size(), 2u);  // nothing pushed twice
}

TEST(Outbox, KeepsEverythingWhileTheCloudIsAway) {
  Fixture f;
  ASSERT_TRUE(f.outbox.Add(f.Entry("w1", "one")).ok());
  auto away = [](const v1::PushHeader&, const std::vector<CloudClient::OutgoingBlock>&,
                 TransferStats*) -> absl::StatusOr<uint64_t> { return absl::UnavailableError("connection refused"); };
  absl::Status s = f.outbox.Flush(away, nullptr);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(f.outbox.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(f.outbox.rejected_dir()));
}

TEST(Outbox, PermanentRefusalsAndDamagedFilesMoveToRejectedWithTheReason) {
  Fixture f;
  ASSERT_TRUE(f.outbox.Add(f.Entry("refused", "one")).ok());
  f.clock = 1001;
  // Damaged files of three kinds, between and after good ones.
  ASSERT_TRUE(WriteFileAtomically(f.dir.Path("outbox/00000000000000001001-000000-junk.json"), "{not json").ok());
  ASSERT_TRUE(WriteFileAtomically(f.dir.Path("outbox/00000000000000001001-000001-fields.json"),
                                  R"({"window_id": "x", "blocks": []})").ok());
  OutboxEntry gone = f.Entry("gone", "three");
  gone.blocks[0].digest = std::string(64, 'f');  // a block file that is not in the store
  ASSERT_TRUE(f.outbox.Add(gone).ok());
  f.clock = 1002;
  ASSERT_TRUE(f.outbox.Add(f.Entry("good", "two")).ok());

  std::vector<std::string> pushed;
  auto push = [&](const v1::PushHeader& h, const std::vector<CloudClient::OutgoingBlock>&,
                  TransferStats*) -> absl::StatusOr<uint64_t> {
    pushed.push_back(h.plan_id());
    if (h.plan_id() == "plan-refused") return absl::FailedPreconditionError("base version 3 is stale");
    return uint64_t{4};
  };
  ASSERT_TRUE(f.outbox.Flush(push, nullptr).ok());
  EXPECT_EQ(pushed, (std::vector<std::string>{"plan-refused", "plan-good"}));
  EXPECT_EQ(f.outbox.size(), 0u);
  const std::vector<std::string> rejected = Files(f.outbox.rejected_dir());
  ASSERT_EQ(rejected.size(), 8u);  // four files, each with its reason
  auto reason_of = [&](const std::string& suffix) -> std::string {
    for (const std::string& name : rejected) {
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return *ReadFileToString(f.outbox.rejected_dir() + "/" + name);
      }
    }
    return "";
  };
  EXPECT_NE(reason_of("refused.json.reason.txt").find("stale"), std::string::npos);
  EXPECT_NE(reason_of("junk.json.reason.txt").find("damaged"), std::string::npos);
  EXPECT_NE(reason_of("fields.json.reason.txt").find("damaged"), std::string::npos);
  EXPECT_NE(reason_of("gone.json.reason.txt").find("block is gone"), std::string::npos);
}

TEST(OutboxEntry, RoundTripsAndRejectsBadDigests) {
  OutboxEntry e;
  e.window_id = "w";
  e.plan_id = "p";
  e.blocks.push_back({"embed", std::string(64, 'a'), std::string(64, 'b')});
  auto back = OutboxEntry::FromJson(e.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->blocks[0].digest, e.blocks[0].digest);
  e.blocks[0].digest = "../../pwn";
  EXPECT_FALSE(OutboxEntry::FromJson(e.ToJson()).ok());
}

}  // namespace
}  // namespace bt
