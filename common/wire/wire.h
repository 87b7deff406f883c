// Conversions between the wire messages (proto/blocktrainer/v1) and the plain structs both daemons use.
// Torch-free; links the generated protobuf code.
#pragma once

#include "blocktrainer/v1/blocktrainer.pb.h"
#include <string>
#include <vector>

#include "common/plan/planner.h"
#include "common/plan/probe_report.h"
#include "common/base/status.h"

namespace bt {

void ProbeReportToProto(const ProbeReport& report, blocktrainer::v1::ProbeReportMsg* out);
// What one probe report may hold, checked before any work is done on it (a peer decides its size): curve points,
// blocks and cost options per block.
inline constexpr int kMaxProbePoints = 2048;
inline constexpr int kMaxReportBlocks = 4096;
inline constexpr int kMaxBlockOptions = 64;
// Ids a peer names (window ids, heartbeat states) are at most this long.
inline constexpr size_t kMaxIdBytes = 128;

// Validates like ProbeReport::FromJson (shapes, ranges), naming the offending field; sizes beyond the bounds above
// are refused first.
absl::StatusOr<ProbeReport> ProbeReportFromProto(const blocktrainer::v1::ProbeReportMsg& msg);

// The numbers and ids of a heartbeat and a push header, as the cloud must see them before they reach its registry:
// finite, in range, ids within kMaxIdBytes. InvalidArgument naming the field.
absl::Status ValidateHeartbeat(const blocktrainer::v1::HeartbeatRequest& msg);
absl::Status ValidatePushHeader(const blocktrainer::v1::PushHeader& msg);

// A plan as the cloud sends it (plan_id, base_version and the blocks' digests are the caller's to set).
void PlanToProto(const Plan& plan, blocktrainer::v1::PlanResponse* out);
// The plan an edge received, checked against what it runs: one block per name of `block_names`, in order, a
// known option name, iterations in [1, 10^6], max_iterations in [0, 10^6] (below iterations: iterations), micro_batch
// in [0, batch], finite predictions. Errors name the field.
absl::StatusOr<Plan> PlanFromProto(const blocktrainer::v1::PlanResponse& msg,
                                   const std::vector<std::string>& block_names, int64_t batch);

// The plan's race alternatives, each checked like PlanFromProto; at most kMaxAlternatives, none with alternatives of
// its own, each feasible and training something. Errors name the alternative and the field.
inline constexpr int kMaxAlternatives = 8;
void AlternativesToProto(const std::vector<Plan>& alternatives, blocktrainer::v1::PlanResponse* out);
absl::StatusOr<std::vector<Plan>> AlternativesFromProto(const blocktrainer::v1::PlanResponse& msg,
                                                        const std::vector<std::string>& block_names, int64_t batch);

}  // namespace bt
