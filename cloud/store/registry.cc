// ~400 lines: the schema and every query of the registry, kept together so that each transaction reads in one place.
#include "cloud/store/registry.h"

#include <sqlite3.h>

#include "nlohmann/json.hpp"

namespace bt {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS edges (
  id TEXT PRIMARY KEY,
  hardware TEXT NOT NULL DEFAULT '',
  memory_budget INTEGER NOT NULL DEFAULT 0,
  windows TEXT NOT NULL DEFAULT '[]',
  registered INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'registered',
  window_id TEXT NOT NULL DEFAULT '',
  progress REAL NOT NULL DEFAULT 0,
  unsent_updates INTEGER NOT NULL DEFAULT 0,
  serving_version INTEGER NOT NULL DEFAULT 0,
  head INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
  edge_id TEXT NOT NULL REFERENCES edges(id),
  version INTEGER NOT NULL,
  parent INTEGER NOT NULL,
  created INTEGER NOT NULL,
  note TEXT NOT NULL,
  blocks TEXT NOT NULL,
  PRIMARY KEY (edge_id, version)
);
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY,
  edge_id TEXT NOT NULL REFERENCES edges(id),
  window_id TEXT NOT NULL,
  base_version INTEGER NOT NULL,
  trainable TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  predicted_accuracy REAL NOT NULL,
  created INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  accuracy_before REAL NOT NULL DEFAULT 0,
  accuracy_after REAL NOT NULL DEFAULT 0,
  result_version INTEGER NOT NULL DEFAULT 0,
  head_version INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS tokens (
  edge_id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS plans_by_edge ON plans(edge_id, created);
)sql";

// An SQLite failure as a status: a full disk is RESOURCE_EXHAUSTED (the caller may retry later; a peer is told so),
// anything else INTERNAL (its text stays in the cloud's log).
absl::Status SqlError(int rc, const std::string& message) {
  if ((rc & 0xff) == SQLITE_FULL) return absl::ResourceExhaustedError("the cloud's storage is full; retry later");
  return absl::InternalError(absl::StrCat("sqlite: ", message));
}

// A prepared statement that finalises itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  absl::Status status() const {
    return rc_ == SQLITE_OK ? absl::OkStatus() : SqlError(rc_, sqlite3_errmsg(db_));
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW → true, SQLITE_DONE → false, else an error.
  absl::StatusOr<bool> Step() {
    RETURN_IF_ERROR(status());
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(rc, sqlite3_errmsg(db_));
  }
  absl::Status Run() { return Step().status(); }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// A version's blocks as stored (written by BlockDigestsToJson; a damaged row reads as no blocks, which every caller
// rejects as a version that does not fit the model).
BlockDigests DigestsFromRow(const std::string& text) { return BlockDigestsFromJson(text).value_or(BlockDigests{}); }

constexpr const char* kEdgeColumns =
    "id, hardware, memory_budget, windows, registered, last_seen, state, window_id, progress, unsent_updates, "
    "serving_version";

EdgeRecord ReadEdge(const Stmt& s) {
  EdgeRecord e;
  e.id = s.Text(0);
  e.hardware = s.Text(1);
  e.memory_budget = static_cast<uint64_t>(s.Int(2));
  nlohmann::json w = nlohmann::json::parse(s.Text(3), nullptr, false);
  if (w.is_array()) e.windows = w.get<std::vector<std::string>>();
  e.registered = s.Int(4);
  e.last_seen = s.Int(5);
  e.state = s.Text(6);
  e.window_id = s.Text(7);
  e.progress = s.Real(8);
  e.unsent_updates = static_cast<uint32_t>(s.Int(9));
  e.serving_version = static_cast<uint64_t>(s.Int(10));
  return e;
}

constexpr const char* kPlanColumns =
    "plan_id, edge_id, window_id, base_version, trainable, plan_json, predicted_accuracy, created, completed, "
    "accuracy_before, accuracy_after, result_version, head_version";

PlanRecord ReadPlan(const Stmt& s) {
  PlanRecord p;
  p.plan_id = s.Text(0);
  p.edge_id = s.Text(1);
  p.window_id = s.Text(2);
  p.base_version = static_cast<uint64_t>(s.Int(3));
  nlohmann::json t = nlohmann::json::parse(s.Text(4), nullptr, false);
  if (t.is_array()) p.trainable_blocks = t.get<std::vector<std::string>>();
  p.plan_json = s.Text(5);
  p.predicted_accuracy = s.Real(6);
  p.created = s.Int(7);
  p.completed = s.Int(8) != 0;
  p.accuracy_before = s.Real(9);
  p.accuracy_after = s.Real(10);
  p.result_version = static_cast<uint64_t>(s.Int(11));
  p.head_version = s.Int(12) < 0 ? p.base_version : static_cast<uint64_t>(s.Int(12));  // older rows: base = head
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Registry>> Registry::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat(path, ": cannot open the database: ", message));
  }
  std::unique_ptr<Registry> r(new Registry(db));
  sqlite3_busy_timeout(db, 5000);
  {
    MutexLock lock(&r->mu_);
    RETURN_IF_ERROR(Annotate(r->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"),
                             path));
    RETURN_IF_ERROR(Annotate(r->Exec(kSchema), path));
    // Databases made before plans could start from an older version than the head lack plans.head_version.
    Stmt columns(r->db_, "SELECT COUNT(*) FROM pragma_table_info('plans') WHERE name = 'head_version'");
    ASSIGN_OR_RETURN(bool row, columns.Step());
    if (row && columns.Int(0) == 0) {
      RETURN_IF_ERROR(Annotate(r->Exec("ALTER TABLE plans ADD COLUMN head_version INTEGER NOT NULL DEFAULT -1"), path));
    }
  }
  return r;
}

Registry::~Registry() { sqlite3_close(db_); }

absl::Status Registry::Exec(const std::string& sql) const {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return SqlError(rc, message);
  }
  return absl::OkStatus();
}

absl::Status Registry::RegisterEdge(const EdgeRecord& edge, const BlockDigests& foundation, int64_t now) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::Status {
    Stmt exists(db_, "SELECT 1 FROM edges WHERE id = ?");
    exists.Bind(1, edge.id);
    ASSIGN_OR_RETURN(bool known, exists.Step());
    if (known) {
      Stmt update(db_, "UPDATE edges SET hardware = ?, memory_budget = ?, windows = ?, last_seen = ? WHERE id = ?");
      update.Bind(1, edge.hardware).Bind(2, edge.memory_budget).Bind(3, nlohmann::json(edge.windows).dump());
      update.Bind(4, now).Bind(5, edge.id);
      return update.Run();
    }
    Stmt insert(db_, "INSERT INTO edges (id, hardware, memory_budget, windows, registered, last_seen) VALUES "
                     "(?, ?, ?, ?, ?, ?)");
    insert.Bind(1, edge.id).Bind(2, edge.hardware).Bind(3, edge.memory_budget);
    insert.Bind(4, nlohmann::json(edge.windows).dump()).Bind(5, now).Bind(6, now);
    RETURN_IF_ERROR(insert.Run());
    Stmt version(db_, "INSERT INTO versions (edge_id, version, parent, created, note, blocks) VALUES "
                      "(?, 0, 0, ?, 'foundation', ?)");
    version.Bind(1, edge.id).Bind(2, now).Bind(3, BlockDigestsToJson(foundation));
    return version.Run();
  };
  absl::Status s = body();
  RETURN_IF_ERROR(Exec(s.ok() ? "COMMIT" : "ROLLBACK"));
  return s;
}

absl::Status Registry::SetTokenHash(const std::string& edge_id, const std::string& token_sha256) {
  MutexLock lock(&mu_);
  Stmt s(db_, "INSERT INTO tokens (edge_id, token_sha256) VALUES (?, ?) "
              "ON CONFLICT(edge_id) DO UPDATE SET token_sha256 = excluded.token_sha256");
  s.Bind(1, edge_id).Bind(2, token_sha256);
  return s.Run();
}

absl::StatusOr<std::string> Registry::EdgeForTokenHash(const std::string& token_sha256) const {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT edge_id FROM tokens WHERE token_sha256 = ?");
  s.Bind(1, token_sha256);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError("unknown token");
  return s.Text(0);
}

absl::Status Registry::Heartbeat(const std::string& edge_id, const std::string& state, const std::string& window_id,
                                 double progress, uint32_t unsent_updates, uint64_t serving_version, int64_t now) {
  MutexLock lock(&mu_);
  Stmt s(db_, "UPDATE edges SET state = ?, window_id = ?, progress = ?, unsent_updates = ?, serving_version = ?, "
              "last_seen = ? WHERE id = ?");
  s.Bind(1, state).Bind(2, window_id).Bind(3, progress).Bind(4, static_cast<int64_t>(unsent_updates));
  s.Bind(5, serving_version).Bind(6, now).Bind(7, edge_id);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
  return absl::OkStatus();
}

absl::StatusOr<EdgeRecord> Registry::GetEdge(const std::string& edge_id) const {
  MutexLock lock(&mu_);
  Stmt s(db_, absl::StrCat("SELECT ", kEdgeColumns, " FROM edges WHERE id = ?").c_str());
  s.Bind(1, edge_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
  return ReadEdge(s);
}

absl::StatusOr<std::vector<EdgeRecord>> Registry::ListEdges() const {
  MutexLock lock(&mu_);
  Stmt s(db_, absl::StrCat("SELECT ", kEdgeColumns, " FROM edges ORDER BY id").c_str());
  std::vector<EdgeRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadEdge(s));
  }
  return out;
}

absl::StatusOr<std::vector<EdgeSummary>> Registry::ListEdgeSummaries() const {
  MutexLock lock(&mu_);
  // The edge columns (prefixed: plans has a window_id too), the head, and the newest completed plan if any.
  Stmt s(db_,
         "SELECT e.id, e.hardware, e.memory_budget, e.windows, e.registered, e.last_seen, e.state, e.window_id, "
         "e.progress, e.unsent_updates, e.serving_version, e.head, p.plan_id, p.accuracy_before, p.accuracy_after, "
         "p.predicted_accuracy FROM edges e LEFT JOIN plans p ON p.plan_id = (SELECT plan_id FROM plans WHERE "
         "edge_id = e.id AND completed = 1 ORDER BY created DESC, rowid DESC LIMIT 1) ORDER BY e.id");
  std::vector<EdgeSummary> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    EdgeSummary e;
    e.edge = ReadEdge(s);
    e.head = static_cast<uint64_t>(s.Int(11));
    e.has_result = !s.Text(12).empty();
    e.last_accuracy_before = s.Real(13);
    e.last_accuracy_after = s.Real(14);
    e.last_predicted_accuracy = s.Real(15);
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<VersionRecord> Registry::Head(const std::string& edge_id) const {
  uint64_t head = 0;
  {
    MutexLock lock(&mu_);
    Stmt s(db_, "SELECT head FROM edges WHERE id = ?");
    s.Bind(1, edge_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
    head = static_cast<uint64_t>(s.Int(0));
  }
  return GetVersion(edge_id, head);
}

absl::StatusOr<VersionRecord> Registry::GetVersion(const std::string& edge_id, uint64_t version) const {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT version, parent, created, note, blocks FROM versions WHERE edge_id = ? AND version = ?");
  s.Bind(1, edge_id).Bind(2, version);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' has no version ", version));
  return VersionRecord{static_cast<uint64_t>(s.Int(0)), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Text(3),
                       DigestsFromRow(s.Text(4))};
}

absl::StatusOr<std::set<std::string>> Registry::ReferencedDigests() const {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT edge_id, version, blocks FROM versions");
  std::set<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    auto blocks = BlockDigestsFromJson(s.Text(2));
    if (!blocks.ok()) {
      return absl::DataLossError(absl::StrCat("registry: version ", s.Int(1), " of edge '", s.Text(0),
                                              "' has unreadable blocks: ", blocks.status().message()));
    }
    for (const auto& [name, digest] : *blocks) out.insert(digest);
  }
  return out;
}

absl::StatusOr<std::vector<VersionRecord>> Registry::ListVersions(const std::string& edge_id) const {
  MutexLock lock(&mu_);
  Stmt s(db_, "SELECT version, parent, created, note, blocks FROM versions WHERE edge_id = ? ORDER BY version");
  s.Bind(1, edge_id);
  std::vector<VersionRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({static_cast<uint64_t>(s.Int(0)), static_cast<uint64_t>(s.Int(1)), s.Int(2), s.Text(3),
                   DigestsFromRow(s.Text(4))});
  }
  if (out.empty()) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
  return out;
}

absl::StatusOr<bool> Registry::EdgeMayRead(const std::string& edge_id, const std::string& digest) const {
  ASSIGN_OR_RETURN(std::vector<VersionRecord> versions, ListVersions(edge_id));
  for (const VersionRecord& v : versions) {
    for (const auto& [name, d] : v.blocks) {
      if (d == digest) return true;
    }
  }
  return false;
}

absl::Status Registry::SavePlan(const PlanRecord& p) {
  MutexLock lock(&mu_);
  Stmt s(db_, "INSERT INTO plans (plan_id, edge_id, window_id, base_version, trainable, plan_json, "
              "predicted_accuracy, created, head_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, p.plan_id).Bind(2, p.edge_id).Bind(3, p.window_id).Bind(4, p.base_version);
  s.Bind(5, nlohmann::json(p.trainable_blocks).dump()).Bind(6, p.plan_json).Bind(7, p.predicted_accuracy);
  s.Bind(8, p.created).Bind(9, p.head_version);
  RETURN_IF_ERROR(s.Run());
  // Retention: an edge's newest kPlansKeptPerEdge plans stay (status, audits, pushes of unsent updates); older
  // ones go, so that a chatty or hostile edge cannot grow the database without bound. Versions are never pruned
  // here.
  Stmt prune(db_, "DELETE FROM plans WHERE edge_id = ? AND plan_id NOT IN (SELECT plan_id FROM plans WHERE "
                  "edge_id = ? ORDER BY created DESC, rowid DESC LIMIT ?)");
  prune.Bind(1, p.edge_id).Bind(2, p.edge_id).Bind(3, static_cast<int64_t>(kPlansKeptPerEdge));
  return prune.Run();
}

absl::StatusOr<std::vector<uint64_t>> Registry::PruneVersions(const std::string& edge_id, size_t keep) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::vector<uint64_t> pruned;
  auto body = [&]() -> absl::Status {
    Stmt head(db_, "SELECT head FROM edges WHERE id = ?");
    head.Bind(1, edge_id);
    ASSIGN_OR_RETURN(bool row, head.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
    const int64_t head_version = head.Int(0);
    Stmt doomed(db_, "SELECT version FROM versions WHERE edge_id = ? AND version != 0 AND version != ? AND version "
                     "NOT IN (SELECT version FROM versions WHERE edge_id = ? ORDER BY version DESC LIMIT ?) "
                     "ORDER BY version");
    doomed.Bind(1, edge_id).Bind(2, head_version).Bind(3, edge_id).Bind(4, static_cast<int64_t>(keep));
    while (true) {
      ASSIGN_OR_RETURN(bool more, doomed.Step());
      if (!more) break;
      pruned.push_back(static_cast<uint64_t>(doomed.Int(0)));
    }
    for (uint64_t v : pruned) {
      Stmt del(db_, "DELETE FROM versions WHERE edge_id = ? AND version = ?");
      del.Bind(1, edge_id).Bind(2, v);
      RETURN_IF_ERROR(del.Run());
    }
    return absl::OkStatus();
  };
  absl::Status s = body();
  RETURN_IF_ERROR(Exec(s.ok() ? "COMMIT" : "ROLLBACK"));
  if (!s.ok()) return s;
  return pruned;
}

absl::StatusOr<PlanRecord> Registry::GetPlan(const std::string& plan_id) const {
  MutexLock lock(&mu_);
  Stmt s(db_, absl::StrCat("SELECT ", kPlanColumns, " FROM plans WHERE plan_id = ?").c_str());
  s.Bind(1, plan_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no plan '", plan_id, "'"));
  return ReadPlan(s);
}

absl::StatusOr<std::vector<PlanRecord>> Registry::RecentPlans(const std::string& edge_id, int limit) const {
  MutexLock lock(&mu_);
  Stmt s(db_, absl::StrCat("SELECT ", kPlanColumns, " FROM plans WHERE edge_id = ? ORDER BY created DESC, rowid "
                           "DESC LIMIT ?").c_str());
  s.Bind(1, edge_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<PlanRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadPlan(s));
  }
  return out;
}

absl::StatusOr<uint64_t> Registry::CommitVersion(const std::string& edge_id, uint64_t expected_head, uint64_t parent,
                                                 const BlockDigests& blocks, const std::string& note,
                                                 const std::string& plan_id, double accuracy_before,
                                                 double accuracy_after, int64_t now) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  uint64_t version = 0;
  auto body = [&]() -> absl::Status {
    Stmt head(db_, "SELECT head FROM edges WHERE id = ?");
    head.Bind(1, edge_id);
    ASSIGN_OR_RETURN(bool row, head.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' is not registered"));
    if (static_cast<uint64_t>(head.Int(0)) != expected_head) {
      return absl::AbortedError(absl::StrCat("edge '", edge_id, "': the branch head is version ", head.Int(0),
                                             ", not ", expected_head, " (the branch moved since the update was planned)"));
    }
    Stmt has_parent(db_, "SELECT 1 FROM versions WHERE edge_id = ? AND version = ?");
    has_parent.Bind(1, edge_id).Bind(2, parent);
    ASSIGN_OR_RETURN(bool parent_row, has_parent.Step());
    if (!parent_row) return absl::NotFoundError(absl::StrCat("edge '", edge_id, "' has no version ", parent));
    Stmt last(db_, "SELECT MAX(version) FROM versions WHERE edge_id = ?");
    last.Bind(1, edge_id);
    RETURN_IF_ERROR(last.Step().status());
    version = static_cast<uint64_t>(last.Int(0)) + 1;
    Stmt insert(db_, "INSERT INTO versions (edge_id, version, parent, created, note, blocks) VALUES (?, ?, ?, ?, ?, ?)");
    insert.Bind(1, edge_id).Bind(2, version).Bind(3, parent).Bind(4, now).Bind(5, note).Bind(6, BlockDigestsToJson(blocks));
    RETURN_IF_ERROR(insert.Run());
    Stmt move(db_, "UPDATE edges SET head = ? WHERE id = ?");
    move.Bind(1, version).Bind(2, edge_id);
    RETURN_IF_ERROR(move.Run());
    if (!plan_id.empty()) {
      Stmt plan(db_, "UPDATE plans SET completed = 1, accuracy_before = ?, accuracy_after = ?, result_version = ? "
                     "WHERE plan_id = ? AND edge_id = ?");
      plan.Bind(1, accuracy_before).Bind(2, accuracy_after).Bind(3, version).Bind(4, plan_id).Bind(5, edge_id);
      RETURN_IF_ERROR(plan.Run());
    }
    return absl::OkStatus();
  };
  absl::Status s = body();
  RETURN_IF_ERROR(Exec(s.ok() ? "COMMIT" : "ROLLBACK"));
  if (!s.ok()) return s;
  return version;
}

}  // namespace bt
