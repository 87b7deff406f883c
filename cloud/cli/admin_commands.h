// The operator's commands: `bt-cloud status`, `versions` and `rollback` talk to a running bt-cloud over its admin
// address (cloud.admin_listen unless `address` is given); `add-edge` writes an edge's token into the registry
// directly (it works with the daemon stopped or running). Every command prints a table, or JSON with `json`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

// The branch as a tree, for `bt-cloud versions`: (index into `versions`, its drawing prefix) in depth-first order
// from the roots (a version whose parent is itself or absent), children in version order. `versions`: (version,
// parent) pairs. A window that started from an older version (the version zoo) opens a side branch.
std::vector<std::pair<size_t, std::string>> VersionTree(const std::vector<std::pair<uint64_t, uint64_t>>& versions);

absl::Status PrintEdges(const CloudConfig& config, const std::string& address, bool json);
absl::Status PrintVersions(const CloudConfig& config, const std::string& address, const std::string& edge, bool json);
absl::Status RollbackEdge(const CloudConfig& config, const std::string& address, const std::string& edge,
                          uint64_t to);
// Deletes an edge's versions except the foundation, the head and the newest `keep` (the registry directly, like
// add-edge); prints them. Their block files are removed by the next `bt-cloud serve` start-up.
absl::Status PruneEdge(const CloudConfig& config, const std::string& edge, int64_t keep);
// Creates (or replaces) an edge's token: stores its SHA-256 in the registry, writes the token to `out` (mode 0600;
// empty: stdout). Any previous token of the edge stops working.
absl::Status AddEdgeToken(const CloudConfig& config, const std::string& edge, const std::string& out);

}  // namespace bt
