#include "edge/cli/status_command.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "common/base/units.h"
#include "edge/admin_service.h"
#include "edge/status_board.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace v1 = blocktrainer::v1;

absl::Status PrintEdgeStatus(const std::string& address, bool json) {
  ASSIGN_OR_RETURN(const v1::EdgeStatus s, QueryEdgeStatus(address));
  if (json) {
    nlohmann::ordered_json out = {{"edge_id", s.edge_id()},
                                  {"state", s.state()},
                                  {"window_id", s.window_id()},
                                  {"progress", s.progress()},
                                  {"eta_seconds", s.eta_seconds()},
                                  {"memory_budget_bytes", s.memory_budget_bytes()},
                                  {"peak_memory_bytes", s.peak_memory_bytes()},
                                  {"serving_version", s.serving_version()},
                                  {"cloud_connected", s.cloud_connected()},
                                  {"unsent_updates", s.unsent_updates()},
                                  {"buffered_samples", s.buffered_samples()},
                                  {"next_window", s.next_window()},
                                  {"recent", nlohmann::ordered_json::array()}};
    for (const auto& r : s.recent()) {
      out["recent"].push_back(WindowResultJson(r));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("edge %s: %s%s, cloud %s, serving version %llu\n", s.edge_id().c_str(), s.state().c_str(),
              s.window_id().empty() ? ""
                                    : absl::StrFormat(" (window %s, %.0f%%, ETA %s)", s.window_id(), 100 * s.progress(),
                                                      FormatDuration(std::chrono::seconds(
                                                          static_cast<int64_t>(s.eta_seconds()))))
                                          .c_str(),
              s.cloud_connected() ? "connected" : "DISCONNECTED", static_cast<unsigned long long>(s.serving_version()));
  std::printf("memory budget %s (peak so far %s), %lld buffered samples, %u unsent update(s)\nwindows: %s\n\n",
              FormatBytes(s.memory_budget_bytes()).c_str(),
              FormatBytes(static_cast<uint64_t>(s.peak_memory_bytes())).c_str(),
              static_cast<long long>(s.buffered_samples()), s.unsent_updates(), s.next_window().c_str());
  if (s.recent_size() == 0) return absl::OkStatus();
  std::printf("%-16s %-12s %8s %8s %9s %10s %10s %8s  %s\n", "window", "domain", "before", "after", "predicted",
              "peak mem", "pred. mem", "version", "outcome / plan");
  for (const auto& r : s.recent()) {
    std::printf("%-16s %-12s %7.1f%% %7.1f%% %8.1f%% %10s %10s %8llu  %s: %s\n", r.window_id().c_str(),
                r.domain_hint().c_str(), 100 * r.accuracy_before(), 100 * r.accuracy_after(),
                100 * r.predicted_accuracy(), FormatBytes(static_cast<uint64_t>(r.peak_memory_bytes())).c_str(),
                FormatBytes(r.predicted_memory_bytes()).c_str(), static_cast<unsigned long long>(r.version()),
                r.outcome().c_str(), r.plan().c_str());
  }
  return absl::OkStatus();
}

absl::Status RequestRetrainNow(const std::string& address) {
  ASSIGN_OR_RETURN(std::string message, StartWindowNow(address));
  std::printf("%s\n", message.c_str());
  return absl::OkStatus();
}

}  // namespace bt
