#include "edge/cli/data_commands.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "common/data/dataset.h"
#include "common/config/scenario.h"
#include "common/base/units.h"
#include "edge/intake/sample_buffer.h"
#include "edge/intake/scenario_feeder.h"
#include "edge/intake/spool.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

absl::StatusOr<std::unique_ptr<SampleBuffer>> OpenBuffer(const EdgeConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.edge.data_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", config.edge.data_dir, "': ", ec.message()));
  SampleBufferOptions options;
  options.path = config.BufferPath();
  options.max_samples = config.buffer.max_samples;
  options.max_bytes = config.buffer.max_bytes;
  options.sync_every = config.buffer.sync_every;
  return SampleBuffer::Open(options);
}

}  // namespace

absl::Status RunFeedCommand(const EdgeConfig& config, const std::string& scenario_override, double rate_override,
                            const CancelToken* cancel) {
  const std::string path = scenario_override.empty() ? config.simulator.scenario : scenario_override;
  if (path.empty()) return absl::InvalidArgumentError("no scenario: pass --scenario or set simulator.scenario");
  const double rate = rate_override >= 0 ? rate_override : config.simulator.rate;
  ASSIGN_OR_RETURN(Scenario scenario, LoadScenario(path));
  ASSIGN_OR_RETURN(ImageDataset source, LoadFashionMnist(config.simulator.dataset_dir, "test"));
  ASSIGN_OR_RETURN(auto buffer, OpenBuffer(config));
  ASSIGN_OR_RETURN(auto feeder, ScenarioFeeder::Create(scenario, source, buffer.get(), rate));
  spdlog::info("feed: scenario '{}' ({} samples in {} domains) into {} at {}", scenario.name,
               scenario.StreamSamples(), scenario.domains.size(), config.BufferPath(),
               rate > 0 ? absl::StrCat(rate, " samples/s") : std::string("full speed"));
  ASSIGN_OR_RETURN(FeedResult result, feeder->Run(cancel));
  std::printf("fed %lld samples (%lld labeled) in %.1fs%s; buffer holds %zu samples, %s\n",
              static_cast<long long>(result.samples), static_cast<long long>(result.labeled), result.seconds,
              result.cancelled ? " (cancelled)" : "", buffer->size(), FormatBytes(buffer->bytes()).c_str());
  return absl::OkStatus();
}

absl::Status RunIngestSpoolCommand(const EdgeConfig& config, const std::string& dir_override, bool watch,
                                   const CancelToken* cancel) {
  SpoolOptions options;
  options.dir = dir_override.empty() ? config.spool.dir : dir_override;
  if (options.dir.empty()) return absl::InvalidArgumentError("no spool: pass --dir or set spool.dir");
  ASSIGN_OR_RETURN(auto buffer, OpenBuffer(config));
  ASSIGN_OR_RETURN(auto spool, Spool::Create(options, buffer.get()));
  SpoolScanResult total;
  do {
    ASSIGN_OR_RETURN(SpoolScanResult scan, spool->ScanOnce());
    total.accepted += scan.accepted;
    total.rejected += scan.rejected;
    if (scan.accepted + scan.rejected > 0) {
      spdlog::info("spool: {} accepted, {} rejected (buffer: {} samples)", scan.accepted, scan.rejected,
                   buffer->size());
    }
    if (!watch) break;
    auto deadline = std::chrono::steady_clock::now() + config.spool.poll_interval;
    while (std::chrono::steady_clock::now() < deadline && !(cancel && cancel->cancelled())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } while (!(cancel && cancel->cancelled()));
  RETURN_IF_ERROR(buffer->Sync());
  std::printf("spool %s: %d accepted, %d rejected (see %s/rejected/); buffer holds %zu samples\n",
              options.dir.c_str(), total.accepted, total.rejected, options.dir.c_str(), buffer->size());
  return absl::OkStatus();
}

absl::Status RunBufferCommand(const EdgeConfig& config, bool json) {
  ASSIGN_OR_RETURN(auto buffer, OpenBuffer(config));
  std::vector<Sample> samples = buffer->Recent(buffer->size());
  std::map<std::string, std::pair<int64_t, int64_t>> by_source;  // source domain -> (samples, labeled)
  for (const Sample& s : samples) {
    std::string key = s.source.rfind("spool:", 0) == 0 ? "spool" : s.source;
    by_source[key].first += 1;
    by_source[key].second += s.labeled();
  }
  if (json) {
    nlohmann::ordered_json out = {{"path", config.BufferPath()},
                                  {"samples", samples.size()},
                                  {"labeled", buffer->labeled_count()},
                                  {"bytes", buffer->bytes()},
                                  {"recovered_bytes", buffer->recovered_bytes()}};
    out["sources"] = nlohmann::ordered_json::object();
    for (const auto& [source, counts] : by_source) {
      out["sources"][source] = {{"samples", counts.first}, {"labeled", counts.second}};
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("buffer %s: %zu samples (%zu labeled), %s (bounds: %lld samples, %s)\n", config.BufferPath().c_str(),
              samples.size(), buffer->labeled_count(), FormatBytes(buffer->bytes()).c_str(),
              static_cast<long long>(config.buffer.max_samples), FormatBytes(config.buffer.max_bytes).c_str());
  std::printf("%-28s %8s %8s\n", "source", "samples", "labeled");
  for (const auto& [source, counts] : by_source) {
    std::printf("%-28s %8lld %8lld\n", source.c_str(), static_cast<long long>(counts.first),
                static_cast<long long>(counts.second));
  }
  return absl::OkStatus();
}

}  // namespace bt
