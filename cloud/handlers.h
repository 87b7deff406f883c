// Helpers the cloud's gRPC handlers share (cloud_service.cc, admin_service.cc): finishing a unary call with a
// Status, and filling a wire manifest for a version.
#pragma once

#include <grpcpp/grpcpp.h>

#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/cloud_context.h"
#include "common/base/status.h"

namespace bt {

// Finishes a unary call with `status` (converted to a gRPC status).
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status);

// The token of the call's "authorization: Bearer <token>" metadata; UNAUTHENTICATED naming what is missing.
absl::StatusOr<std::string> BearerToken(grpc::CallbackServerContext* context);

// The model's manifest with `version`'s digests (blocks the version does not name keep the foundation's).
void FillManifest(const CloudContext* ctx, const BlockDigests& version, blocktrainer::v1::Manifest* out);

}  // namespace bt
