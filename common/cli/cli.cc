#include "common/cli/cli.h"

#include <cstdio>
#include <ctime>
#include <thread>

#include "common/base/logging.h"
#include "common/base/units.h"

namespace bt {

void AddGlobalFlags(CLI::App* app, GlobalFlags* flags, const std::string& level_key, const std::string& version) {
  app->add_option("-c,--config", flags->config_path, "YAML config file (default: embedded defaults)")
      ->check(CLI::ExistingFile);
  app->add_option("--log-level", flags->log_level, "trace|debug|info|warn|error (default: " + level_key + ")");
  app->set_version_flag("--version", version);
}

absl::StatusOr<CloudConfig> LoadCloudConfigAndLogging(const GlobalFlags& flags) {
  ASSIGN_OR_RETURN(CloudConfig config, LoadCloudConfig(flags.config_path));
  RETURN_IF_ERROR(InitLogging(flags.log_level.empty() ? config.cloud.log_level : flags.log_level));
  return config;
}

absl::StatusOr<EdgeConfig> LoadEdgeConfigAndLogging(const GlobalFlags& flags) {
  ASSIGN_OR_RETURN(EdgeConfig config, LoadEdgeConfig(flags.config_path));
  RETURN_IF_ERROR(InitLogging(flags.log_level.empty() ? config.edge.log_level : flags.log_level));
  return config;
}

int ExitStatus(const char* program, const absl::Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s: error: %s\n", program, std::string(status.message()).c_str());
  return absl::IsCancelled(status) ? 130 : 1;
}

void WaitUntilCancelled(const CancelToken& cancel) {
  while (!cancel.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

std::string Ago(int64_t then) {
  if (then <= 0) return "never";
  const int64_t s = std::max<int64_t>(0, static_cast<int64_t>(std::time(nullptr)) - then);
  return FormatDuration(std::chrono::seconds(s)) + " ago";
}

}  // namespace bt
