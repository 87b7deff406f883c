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
#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

struct ExportedVersion {
  uint64_t version = 0;
  size_t blocks = 0;
  uint64_t bytes = 0;
  std::string dtypes;  // of the tensors written: "F32", "F16", "BF16+F32"
};

struct ExportOptions {
  // Every float tensor in this dtype; empty ("keep"): each in the foundation's dtype, so a half-precision
  // checkpoint leaves half precision although its trained blocks came back from the edge in F32.
  std::optional<DType> dtype;
};

// `bt-cloud export --dtype`: keep, f32, f16 or bf16.
absl::StatusOr<std::optional<DType>> ParseExportDType(const std::string& name);

// Writes the checkpoint to `out` atomically (nothing is left behind on failure). `version` empty: the branch head.
// Every block's bytes are checked against its digest.
absl::StatusOr<ExportedVersion> ExportVersion(const CloudConfig& config, const std::string& edge,
                                              std::optional<uint64_t> version, const std::string& out,
                                              const ExportOptions& options = {});

// `bt-cloud export`: ExportVersion, then one line (or JSON) saying what was written.
absl::Status RunExportCommand(const CloudConfig& config, const std::string& edge, std::optional<uint64_t> version,
                              const std::string& out, const ExportOptions& options, bool json);

}  // namespace bt
