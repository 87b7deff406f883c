// The cloud's metadata in SQLite (WAL): edges, windows and their plans (predicted vs realised accuracy), and every
// edge's branch of versions. A version is a manifest of block digests (the blocks live in the BlockStore); version
// 0 of every branch is the foundation model. Every change is one transaction: a reader never sees half a commit.
// Thread-safe (one connection behind a mutex; SQLite serialises writers anyway). Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/status.h"
#include "common/format/manifest.h"

struct sqlite3;

namespace bt {

struct EdgeRecord {
  std::string id;
  std::string hardware;
  uint64_t memory_budget = 0;
  std::vector<std::string> windows;
  int64_t registered = 0;  // Unix seconds
  int64_t last_seen = 0;
  std::string state = "registered";
  std::string window_id;
  double progress = 0;
  uint32_t unsent_updates = 0;
  uint64_t serving_version = 0;
};

// An edge with its branch head and its last completed window, for `bt-cloud status`.
struct EdgeSummary {
  EdgeRecord edge;
  uint64_t head = 0;
  bool has_result = false;  // a window of this edge completed (pushed)
  double last_accuracy_before = 0, last_accuracy_after = 0, last_predicted_accuracy = 0;
};


// Plans kept per edge (the newest); SavePlan drops older ones.
inline constexpr size_t kPlansKeptPerEdge = 1000;

struct VersionRecord {
  uint64_t version = 0;
  uint64_t parent = 0;
  int64_t created = 0;
  std::string note;
  BlockDigests blocks;
};

struct PlanRecord {
  std::string plan_id;
  std::string edge_id;
  std::string window_id;
  uint64_t base_version = 0;                  // the version the window trains from (the head or an older one)
  uint64_t head_version = 0;                  // the branch head when the plan was made
  std::vector<std::string> trainable_blocks;  // blocks the edge may push back
  std::string plan_json;                      // the plan as sent (for status and audits)
  double predicted_accuracy = 0;
  int64_t created = 0;
  // Set when the edge pushes the result.
  bool completed = false;
  double accuracy_before = 0;
  double accuracy_after = 0;
  uint64_t result_version = 0;
};

class Registry {
 public:
  // Opens (creating) the database at `path` with WAL journaling and the schema.
  static absl::StatusOr<std::unique_ptr<Registry>> Open(const std::string& path);
  ~Registry();

  // Creates or updates the edge; creates its branch at version 0 = `foundation` when new.
  absl::Status RegisterEdge(const EdgeRecord& edge, const BlockDigests& foundation, int64_t now);
  // Edge tokens are stored as SHA-256 hashes; one token per edge (setting a new one revokes the old).
  absl::Status SetTokenHash(const std::string& edge_id, const std::string& token_sha256);
  // The edge a token hash belongs to, or NotFound.
  absl::StatusOr<std::string> EdgeForTokenHash(const std::string& token_sha256) const;

  absl::Status Heartbeat(const std::string& edge_id, const std::string& state, const std::string& window_id,
                         double progress, uint32_t unsent_updates, uint64_t serving_version, int64_t now);
  absl::StatusOr<EdgeRecord> GetEdge(const std::string& edge_id) const;
  absl::StatusOr<std::vector<EdgeRecord>> ListEdges() const;
  // Every edge with its head and last completed plan, in one query (ordered by id).
  absl::StatusOr<std::vector<EdgeSummary>> ListEdgeSummaries() const;

  absl::StatusOr<VersionRecord> Head(const std::string& edge_id) const;
  absl::StatusOr<VersionRecord> GetVersion(const std::string& edge_id, uint64_t version) const;
  absl::StatusOr<std::vector<VersionRecord>> ListVersions(const std::string& edge_id) const;
  // Every digest any version of any edge holds: the blocks the store must keep. A row that does not parse is an
  // error (DATA_LOSS), so that a sweep never guesses.
  absl::StatusOr<std::set<std::string>> ReferencedDigests() const;
  // Whether any version of the edge's branch (or a plan's base) holds `digest`: what the edge may pull.
  absl::StatusOr<bool> EdgeMayRead(const std::string& edge_id, const std::string& digest) const;

  // Stores a plan; the edge's plans beyond the newest kPlansKeptPerEdge are deleted in the same call.
  absl::Status SavePlan(const PlanRecord& plan);

  // The operator's prune (`bt-cloud prune`): deletes the edge's versions except the foundation (0), the head and the
  // newest `keep`, in one transaction, and returns the versions deleted. Their block files go at the next start-up
  // sweep; a plan or push based on a deleted version is refused from then on.
  absl::StatusOr<std::vector<uint64_t>> PruneVersions(const std::string& edge_id, size_t keep);
  absl::StatusOr<PlanRecord> GetPlan(const std::string& plan_id) const;
  // The most recent plans of an edge, newest first.
  absl::StatusOr<std::vector<PlanRecord>> RecentPlans(const std::string& edge_id, int limit) const;

  // Commits a new head for the edge's branch, its parent `parent` (the version it was trained from: the head, or an
  // older version the window started from), in one transaction: fails with Aborted (changing nothing) when the
  // head is no longer `expected_head` (a concurrent push or a rollback won), NotFound when `parent` is not a version
  // of the branch. When `plan_id` is set the plan is marked completed with the outcome. Returns the new version.
  absl::StatusOr<uint64_t> CommitVersion(const std::string& edge_id, uint64_t expected_head, uint64_t parent,
                                         const BlockDigests& blocks,
                                         const std::string& note, const std::string& plan_id, double accuracy_before,
                                         double accuracy_after, int64_t now);

 private:
  explicit Registry(sqlite3* db) : db_(db) {}
  absl::Status Exec(const std::string& sql) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);  // one connection; every statement runs under mu_
};

}  // namespace bt
