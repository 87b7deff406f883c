// `bt-cloud serve`: opens the model (memory-mapped), the block store, the registry and the per-edge laws, starts
// the gRPC servers (Cloud on cloud.listen, CloudAdmin on cloud.admin_listen) and serves until `cancel` fires
// (SIGINT/SIGTERM), then stops the servers, giving calls in flight 10 s.
#pragma once

#include <string>

#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

absl::Status RunServeCommand(const CloudConfig& config, const std::string& listen_override, const CancelToken* cancel);

}  // namespace bt
