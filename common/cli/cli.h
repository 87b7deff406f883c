// What both command lines (bt-cloud, bt-edge) share: the global flags (-c/--config, --log-level, --version), loading
// the config and setting up logging from them, reporting an error and choosing the exit status, and the one way a
// daemon is stopped (SIGINT/SIGTERM cancel a token; the daemon then stops its parts in order within a deadline; a
// second signal exits at once with status 130). Torch-free.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

struct GlobalFlags {
  std::string config_path;
  std::string log_level;
};

// Adds -c/--config, --log-level and --version to `app`; `level_key` names the config key --log-level overrides.
void AddGlobalFlags(CLI::App* app, GlobalFlags* flags, const std::string& level_key, const std::string& version);

absl::StatusOr<CloudConfig> LoadCloudConfigAndLogging(const GlobalFlags& flags);
absl::StatusOr<EdgeConfig> LoadEdgeConfigAndLogging(const GlobalFlags& flags);

// 0 for OK; otherwise prints "<program>: error: <message>" to stderr and returns 130 for a cancelled job, 1 else.
int ExitStatus(const char* program, const absl::Status& status);

// Blocks until `cancel` fires (polling every 100 ms): the daemons' wait for a shutdown signal.
void WaitUntilCancelled(const CancelToken& cancel);

// "3m02s ago", or "never" for 0.
std::string Ago(int64_t unix_seconds);

}  // namespace bt
