// `bt-edge status` and `bt-edge retrain --now`: talk to a running daemon over its admin address (edge/admin_service.h).
#pragma once

#include <string>

#include "common/base/status.h"

namespace bt {

// Prints state, the window running (progress, ETA), budget use, unsent updates and the last results; `json`: the
// same as JSON (each result as in results.jsonl).
absl::Status PrintEdgeStatus(const std::string& address, bool json);
// Asks for a window now and prints the daemon's answer; FAILED_PRECONDITION when one is running or queued.
absl::Status RequestRetrainNow(const std::string& address);

}  // namespace bt
