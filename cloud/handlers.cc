#include "cloud/handlers.h"

#include <string_view>

#include "common/wire/grpc_status.h"

namespace bt {

namespace v1 = blocktrainer::v1;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToPeerStatus(status));
  return reactor;
}

absl::StatusOr<std::string> BearerToken(grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  std::string value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.compare(0, kBearer.size(), kBearer) != 0 || value.size() == kBearer.size()) {
    return absl::UnauthenticatedError("authorization metadata is not 'Bearer <token>'");
  }
  return value.substr(kBearer.size());
}

void FillManifest(const CloudContext* ctx, const BlockDigests& version, v1::Manifest* out) {
  out->set_model_name(ctx->model_name);
  for (const BlockEntry& block : ctx->model->manifest().blocks) {
    v1::BlockInfo* b = out->add_blocks();
    b->set_name(block.name);
    b->set_bytes(block.bytes);
    b->set_parameters(static_cast<uint64_t>(block.parameters));
    b->set_digest(block.digest);
    for (const auto& [name, digest] : version) {
      if (name == block.name) b->set_digest(digest);
    }
    for (const ParamEntry& p : block.params) {
      v1::ParamInfo* param = b->add_params();
      param->set_name(p.name);
      param->set_dtype(DTypeName(p.dtype));
      for (int64_t d : p.shape) param->add_shape(d);
      param->set_bytes(p.bytes);
    }
  }
}

}  // namespace bt
