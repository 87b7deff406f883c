// The registry: branches of versions per edge, commits that fail (changing nothing) when the head moved, plans
// completed by their push, and the one-query edge summary `bt-cloud status` shows.
#include "cloud/store/registry.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/testing/test_dir.h"

namespace bt {
namespace {

const BlockDigests kFoundation = {{"embed", std::string(64, 'a')}, {"head", std::string(64, 'b')}};

std::unique_ptr<Registry> OpenWithEdge(const TestDir& dir, const std::string& edge) {
  auto registry = Registry::Open(dir.Path("blocktrainer.db"));
  EXPECT_TRUE(registry.ok()) << registry.status();
  EdgeRecord record;
  record.id = edge;
  record.memory_budget = 1 << 20;
  EXPECT_TRUE((*registry)->RegisterEdge(record, kFoundation, 100).ok());
  return std::move(*registry);
}

TEST(Registry, ACommitFromAStaleHeadChangesNothing) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  BlockDigests next = kFoundation;
  next[1].second = std::string(64, 'c');
  auto v1 = registry->CommitVersion("e1", 0, 0, next, "window 1", "", 0.4, 0.6, 200);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1u);
  // A second update based on version 0 (a concurrent push, or one made before a rollback) loses.
  BlockDigests other = kFoundation;
  other[0].second = std::string(64, 'd');
  auto stale = registry->CommitVersion("e1", 0, 0, other, "window 1 again", "", 0.4, 0.7, 201);
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  auto head = registry->Head("e1");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->version, 1u);
  EXPECT_EQ(head->blocks, next);
  auto versions = registry->ListVersions("e1");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);
  // The head survives a reopen.
  registry.reset();
  auto reopened = Registry::Open(dir.Path("blocktrainer.db"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Head("e1")->version, 1u);
}

TEST(Registry, APushCompletesItsPlanAndTheSummaryShowsTheLastResult) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  EdgeRecord second;
  second.id = "e2";
  ASSERT_TRUE(registry->RegisterEdge(second, kFoundation, 100).ok());
  for (int w = 1; w <= 2; ++w) {
    PlanRecord plan;
    plan.plan_id = "p" + std::to_string(w);
    plan.edge_id = "e1";
    plan.window_id = "w" + std::to_string(w);
    plan.base_version = static_cast<uint64_t>(w - 1);
    plan.trainable_blocks = {"head"};
    plan.predicted_accuracy = 0.5 + 0.1 * w;
    plan.created = 100 + w;
    ASSERT_TRUE(registry->SavePlan(plan).ok());
    BlockDigests next = kFoundation;
    next[1].second = std::string(64, static_cast<char>('c' + w));
    ASSERT_TRUE(registry->CommitVersion("e1", plan.base_version, plan.base_version, next, "w", plan.plan_id, 0.3 * w, 0.4 * w, 200).ok());
  }
  auto plan = registry->GetPlan("p2");
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->completed);
  EXPECT_EQ(plan->result_version, 2u);
  auto summaries = registry->ListEdgeSummaries();
  ASSERT_TRUE(summaries.ok()) << summaries.status();
  ASSERT_EQ(summaries->size(), 2u);
  const EdgeSummary& e1 = (*summaries)[0];
  EXPECT_EQ(e1.edge.id, "e1");
  EXPECT_EQ(e1.head, 2u);
  EXPECT_TRUE(e1.has_result);
  EXPECT_DOUBLE_EQ(e1.last_accuracy_before, 0.6);
  EXPECT_DOUBLE_EQ(e1.last_accuracy_after, 0.8);
  EXPECT_DOUBLE_EQ(e1.last_predicted_accuracy, 0.7);
  const EdgeSummary& e2 = (*summaries)[1];
  EXPECT_EQ(e2.head, 0u);
  EXPECT_FALSE(e2.has_result);
}

TEST(Registry, ReferencedDigestsAreEveryVersionsBlocks) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  BlockDigests next = kFoundation;
  next[1].second = std::string(64, 'c');
  ASSERT_TRUE(registry->CommitVersion("e1", 0, 0, next, "window 1", "", 0.4, 0.6, 200).ok());
  auto referenced = registry->ReferencedDigests();
  ASSERT_TRUE(referenced.ok()) << referenced.status();
  EXPECT_EQ(*referenced, (std::set<std::string>{std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c')}));
}

TEST(Registry, AVersionMayGrowFromAnOlderParentWhileTheHeadMovesOn) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  BlockDigests v1 = kFoundation;
  v1[1].second = std::string(64, 'c');
  ASSERT_TRUE(registry->CommitVersion("e1", 0, 0, v1, "window 1", "", 0.4, 0.6, 200).ok());
  // Window 2 started from the foundation (version 0) while the head was version 1.
  PlanRecord plan;
  plan.plan_id = "p2";
  plan.edge_id = "e1";
  plan.window_id = "w2";
  plan.base_version = 0;
  plan.head_version = 1;
  plan.created = 201;
  ASSERT_TRUE(registry->SavePlan(plan).ok());
  auto saved = registry->GetPlan("p2");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->base_version, 0u);
  EXPECT_EQ(saved->head_version, 1u);
  BlockDigests v2 = kFoundation;
  v2[0].second = std::string(64, 'd');
  EXPECT_TRUE(absl::IsNotFound(registry->CommitVersion("e1", 1, 9, v2, "w2", "p2", 0.4, 0.7, 202).status()));
  EXPECT_TRUE(absl::IsAborted(registry->CommitVersion("e1", 0, 0, v2, "w2", "p2", 0.4, 0.7, 202).status()));
  auto version = registry->CommitVersion("e1", 1, 0, v2, "w2", "p2", 0.4, 0.7, 202);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2u);
  EXPECT_EQ(registry->Head("e1")->version, 2u);
  EXPECT_EQ(registry->GetVersion("e1", 2)->parent, 0u);
  EXPECT_EQ(registry->GetVersion("e1", 2)->blocks, v2);
}

TEST(Registry, ADatabaseFromBeforeHeadVersionsOpensAndReadsItsPlans) {
  TestDir dir;
  const std::string path = dir.Path("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* old_plans =
        "CREATE TABLE plans (plan_id TEXT PRIMARY KEY, edge_id TEXT NOT NULL, window_id TEXT NOT NULL, "
        "base_version INTEGER NOT NULL, trainable TEXT NOT NULL, plan_json TEXT NOT NULL, predicted_accuracy REAL NOT "
        "NULL, created INTEGER NOT NULL, completed INTEGER NOT NULL DEFAULT 0, accuracy_before REAL NOT NULL DEFAULT "
        "0, accuracy_after REAL NOT NULL DEFAULT 0, result_version INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO plans (plan_id, edge_id, window_id, base_version, trainable, plan_json, predicted_accuracy, "
        "created) VALUES ('old', 'e1', 'w', 3, '[]', '{}', 0.5, 1);";
    ASSERT_EQ(sqlite3_exec(db, old_plans, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto registry = Registry::Open(path);
  ASSERT_TRUE(registry.ok()) << registry.status();
  auto plan = (*registry)->GetPlan("old");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->base_version, 3u);
  EXPECT_EQ(plan->head_version, 3u);  // before the zoo every plan started from the head
}

TEST(Registry, AnEdgeKeepsItsNewestPlansOnly) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  for (size_t n = 0; n < kPlansKeptPerEdge + 5; ++n) {
    PlanRecord plan;
    plan.plan_id = "p" + std::to_string(n);
    plan.edge_id = "e1";
    plan.window_id = "w";
    plan.created = static_cast<int64_t>(n);
    ASSERT_TRUE(registry->SavePlan(plan).ok());
  }
  EXPECT_TRUE(absl::IsNotFound(registry->GetPlan("p4").status()));  // the five oldest are gone
  EXPECT_TRUE(registry->GetPlan("p5").ok());
  EXPECT_TRUE(registry->GetPlan("p" + std::to_string(kPlansKeptPerEdge + 4)).ok());
  EXPECT_EQ(registry->RecentPlans("e1", 5000)->size(), kPlansKeptPerEdge);
}

TEST(Registry, PruneKeepsTheFoundationTheHeadAndTheNewest) {
  TestDir dir;
  auto registry = OpenWithEdge(dir, "e1");
  for (uint64_t v = 0; v < 6; ++v) {  // versions 1..6
    BlockDigests next = kFoundation;
    next[1].second = std::string(63, 'c') + static_cast<char>('0' + v);
    ASSERT_TRUE(registry->CommitVersion("e1", v, v, next, "w", "", 0.4, 0.6, 200).ok());
  }
  // An operator's rollback made version 7 the head with version 2's blocks: the head stays whatever its number.
  auto pruned = registry->PruneVersions("e1", 2);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, (std::vector<uint64_t>{1, 2, 3, 4}));
  std::vector<uint64_t> left;
  const auto versions = registry->ListVersions("e1");
  ASSERT_TRUE(versions.ok());
  for (const VersionRecord& v : *versions) left.push_back(v.version);
  EXPECT_EQ(left, (std::vector<uint64_t>{0, 5, 6}));
  EXPECT_EQ(registry->Head("e1")->version, 6u);
  EXPECT_TRUE(registry->PruneVersions("e1", 2)->empty());
  EXPECT_EQ(*registry->PruneVersions("e1", 0), (std::vector<uint64_t>{5}));  // the head (6) and 0 stay
  EXPECT_TRUE(absl::IsNotFound(registry->PruneVersions("nobody", 1).status()));
}

}  // namespace
}  // namespace bt
