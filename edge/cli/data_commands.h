// bt-edge subcommands for the edge's data path: stream a scenario into the sample buffer, ingest the spool, and
// summarise the buffer.
#pragma once

#include <chrono>
#include <string>

#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

// Streams `scenario_path` (default: simulator.scenario) into the edge's buffer at `rate` (negative = config).
absl::Status RunFeedCommand(const EdgeConfig& config, const std::string& scenario_path, double rate,
                            const CancelToken* cancel);

// Ingests the spool once, or keeps polling it until cancelled when `watch`.
absl::Status RunIngestSpoolCommand(const EdgeConfig& config, const std::string& dir, bool watch,
                                   const CancelToken* cancel);

// Prints the buffer's size, labeled share and samples per source.
absl::Status RunBufferCommand(const EdgeConfig& config, bool json);

}  // namespace bt
