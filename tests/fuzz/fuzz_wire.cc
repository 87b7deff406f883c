// Fuzz target: what one daemon accepts from the other. The first byte picks the message; the rest is its wire
// bytes: a probe report (validated, then planned as the cloud would), a push header, a heartbeat, or a plan with its
// race alternatives (validated as the edge does against a 4-block model).
#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/plan/window_plan.h"
#include "common/wire/wire.h"

namespace v1 = blocktrainer::v1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field is a parse failure; protobuf also logs each one, which is only noise here.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t kind = data[0] % 4;
  const void* bytes = data + 1;
  const int n = static_cast<int>(size - 1);
  switch (kind) {
    case 0: {
      v1::ProbeReportMsg msg;
      if (!msg.ParseFromArray(bytes, n)) return 0;
      auto report = bt::ProbeReportFromProto(msg);
      if (!report.ok()) return 0;
      bt::WindowPlanRequest request;
      request.memory_budget = 8ull << 20;
      request.train_seconds = 60;
      request.iteration_grid = {25, 100};
      (void)bt::PlanFromProbes(*report, nullptr, request);
      return 0;
    }
    case 1: {
      v1::PushHeader msg;
      if (msg.ParseFromArray(bytes, n)) (void)bt::ValidatePushHeader(msg);
      return 0;
    }
    case 2: {
      v1::HeartbeatRequest msg;
      if (msg.ParseFromArray(bytes, n)) (void)bt::ValidateHeartbeat(msg);
      return 0;
    }
    default: {
      v1::PlanResponse msg;
      if (!msg.ParseFromArray(bytes, n)) return 0;
      const std::vector<std::string> blocks = {"embed", "encoder_layer_0", "encoder_layer_1", "head"};
      (void)bt::PlanFromProto(msg, blocks, 64);
      (void)bt::AlternativesFromProto(msg, blocks, 64);
      return 0;
    }
  }
}
