// `bt-cloud export`: an edge's version of the model as one ordinary checkpoint — every block of that version from
// the block store (blocks the edge never changed come from the foundation model), with the foundation's
// architecture metadata plus the edge and version it came from. What an operator evaluates or ships elsewhere, and
// what `bt-bench --via-daemons` evaluates. Reads the registry and the block store; safe while bt-cloud runs.
// Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

struct ExportedVersion {
  uint64_t version = 0;
  size_t blocks = 0;
  uint64_t bytes = 0;
};

// Writes the checkpoint to `out` atomically (nothing is left behind on failure). `version` empty: the branch head.
// Every block's bytes are checked against its digest.
absl::StatusOr<ExportedVersion> ExportVersion(const CloudConfig& config, const std::string& edge,
                                              std::optional<uint64_t> version, const std::string& out);

// `bt-cloud export`: ExportVersion, then one line (or JSON) saying what was written.
absl::Status RunExportCommand(const CloudConfig& config, const std::string& edge, std::optional<uint64_t> version,
                              const std::string& out, bool json);

}  // namespace bt
