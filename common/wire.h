// Conversions between the wire messages (proto/blocktrainer/v1) and the plain structs both daemons use.
// Torch-free; links the generated protobuf code.
#pragma once

#include "blocktrainer/v1/blocktrainer.pb.h"
#include "common/probe_report.h"
#include "common/status.h"

namespace bt {

void ProbeReportToProto(const ProbeReport& report, blocktrainer::v1::ProbeReportMsg* out);
// Validates like ProbeReport::FromJson (shapes, ranges), naming the offending field.
absl::StatusOr<ProbeReport> ProbeReportFromProto(const blocktrainer::v1::ProbeReportMsg& msg);

}  // namespace bt
