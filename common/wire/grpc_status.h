// Conversion between absl::Status and grpc::Status. The codes are the same numbers by design.
// Header-only so that bt_core stays free of gRPC; include it only from code that already uses gRPC.
#pragma once

#include <grpcpp/support/status.h>
#include <spdlog/spdlog.h>

#include <string>

#include "common/base/status.h"

namespace bt {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// What a server tells a peer: the status as it is, except that internal failures (INTERNAL, UNKNOWN, DATA_LOSS) —
// whose messages may carry server paths or SQL — are logged here and reach the peer as a generic message.
inline grpc::Status ToPeerStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      spdlog::error("internal error answered to a peer: {}", std::string(status.message()));
      return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                          "internal error on the server (the details are in its log)");
    default:
      return ToGrpcStatus(status);
  }
}

inline absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& peer = "") {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (!peer.empty()) message = absl::StrCat(peer, ": ", message);
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

}  // namespace bt
