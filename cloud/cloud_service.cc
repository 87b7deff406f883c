#include "cloud/cloud_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/config/config.h"
#include "common/base/file_util.h"
#include "common/wire/grpc_status.h"
#include "common/wire/wire.h"
#include "common/base/sha256.h"
#include "cloud/handlers.h"
#include "cloud/planning.h"
#include "cloud/update_merger.h"
#include "common/plan/window_plan.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace v1 = blocktrainer::v1;

namespace {

constexpr size_t kMaxChunk = 1 << 20;
// Blocks one PullBlocks may name: a version's blocks, a few times over (each distinct block is mapped once).
constexpr int kMaxPullItems = 4096;


// The edge the call's bearer token belongs to; `claimed` (the request's edge_id) must be that edge.
absl::StatusOr<std::string> Authenticate(const CloudContext* ctx, grpc::CallbackServerContext* context,
                                         const std::string& claimed) {
  ASSIGN_OR_RETURN(std::string token, BearerToken(context));
  auto edge = ctx->registry->EdgeForTokenHash(Sha256Hex(token));
  if (!edge.ok()) {
    if (absl::IsNotFound(edge.status())) return absl::UnauthenticatedError("unknown token");
    return edge.status();
  }
  if (!claimed.empty() && claimed != *edge) {
    return absl::PermissionDeniedError(absl::StrCat("the token belongs to edge '", *edge, "', not '", claimed, "'"));
  }
  return *edge;
}


BlockDigests FoundationManifest(const ModelStore& model) {
  BlockDigests out;
  for (const BlockEntry& b : model.manifest().blocks) out.emplace_back(b.name, b.digest);
  return out;
}

// Makes sure the block store holds `digest`: foundation blocks are materialised from the checkpoint on demand.
absl::Status EnsureStored(const CloudContext* ctx, const std::string& digest) {
  if (ctx->blocks->Has(digest)) return absl::OkStatus();
  for (const BlockEntry& b : ctx->model->manifest().blocks) {
    if (b.digest == digest) {
      ASSIGN_OR_RETURN(std::string bytes, ctx->model->BlockBytes(b.name));
      return ctx->blocks->Put(bytes, digest).status();
    }
  }
  return absl::NotFoundError(absl::StrCat("block ", digest.substr(0, 16), "… is not in the store"));
}

// ---- PullBlocks: streams the requested blocks from the store, chunk by chunk ----------------------------------
class PullReactor : public grpc::ServerWriteReactor<v1::BlockChunk> {
 public:
  PullReactor(const CloudContext* ctx, StreamWatch* streams, grpc::CallbackServerContext* context,
              const v1::PullBlocksRequest* request)
      : ctx_(ctx), context_(context), slot_(streams->Open(context)) {
    if (slot_ == nullptr) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many open streams; retry later"));
      return;
    }
    absl::Status status = Prepare(request);
    if (!status.ok()) {
      Finish(ToPeerStatus(status));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away or stopped reading"));
      return;
    }
    slot_->Touch();
    Next();
  }
  void OnDone() override {
    if (slot_) slot_->Done();
    delete this;
  }

 private:
  struct Item {
    std::string digest;
    uint64_t offset;
    std::unique_ptr<MappedFile> file;
  };

  absl::Status Prepare(const v1::PullBlocksRequest* request) {
    ASSIGN_OR_RETURN(std::string edge, Authenticate(ctx_, context_, request->edge_id()));
    chunk_ = request->chunk_bytes() == 0 ? kMaxChunk : std::min<size_t>(request->chunk_bytes(), kMaxChunk);
    if (request->blocks_size() > kMaxPullItems) {
      return absl::InvalidArgumentError(absl::StrCat("PullBlocks names ", request->blocks_size(), " blocks, at most ",
                                                     kMaxPullItems));
    }
    std::set<std::string> requested;
    for (const v1::BlockRequest& b : request->blocks()) {
      if (!requested.insert(b.digest()).second) continue;  // each block once, at its first offset
      if (!IsDigest(b.digest())) {
        return absl::InvalidArgumentError(absl::StrCat("'", b.digest(), "' is not a SHA-256 digest"));
      }
      ASSIGN_OR_RETURN(bool allowed, ctx_->registry->EdgeMayRead(edge, b.digest()));
      if (!allowed) {
        return absl::PermissionDeniedError(
            absl::StrCat("block ", b.digest().substr(0, 16), "… is not on edge '", edge, "''s branch"));
      }
      RETURN_IF_ERROR(EnsureStored(ctx_, b.digest()));
      auto file = ctx_->blocks->Get(b.digest());
      if (!file.ok()) {  // the detail (a server path) stays in the cloud's log
        spdlog::warn("PullBlocks from '{}': {}", edge, std::string(file.status().message()));
        return absl::InternalError(absl::StrCat("block ", b.digest().substr(0, 16), "… cannot be read on the cloud"));
      }
      if (b.offset() > (*file)->size()) {
        return absl::OutOfRangeError(absl::StrCat("offset ", b.offset(), " is past the end of block ",
                                                  b.digest().substr(0, 16), "… (", (*file)->size(), " bytes)"));
      }
      items_.push_back({b.digest(), b.offset(), std::move(*file)});
    }
    return absl::OkStatus();
  }

  void Next() {
    while (index_ < items_.size() && items_[index_].offset >= items_[index_].file->size()) ++index_;
    if (index_ >= items_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    Item& item = items_[index_];
    const size_t n = std::min<size_t>(chunk_, item.file->size() - item.offset);
    message_.Clear();
    message_.set_digest(item.digest);
    message_.set_offset(item.offset);
    message_.set_total_bytes(item.file->size());
    message_.set_data(reinterpret_cast<const char*>(item.file->data()) + item.offset, n);
    item.offset += n;
    StartWrite(&message_);
  }

  const CloudContext* ctx_;
  grpc::CallbackServerContext* context_;
  std::shared_ptr<StreamWatch::Slot> slot_;
  std::vector<Item> items_;
  size_t index_ = 0;
  size_t chunk_ = kMaxChunk;
  v1::BlockChunk message_;
};

// ---- PushUpdate: the stream fed to an UpdateMerger, which validates everything, then stores and commits ------
class PushReactor : public grpc::ServerReadReactor<v1::PushMessage> {
 public:
  PushReactor(const CloudContext* ctx, StreamWatch* streams, grpc::CallbackServerContext* context,
              v1::PushResponse* response)
      : ctx_(ctx), context_(context), response_(response), merger_(ctx), slot_(streams->Open(context)) {
    if (slot_ == nullptr) {
      Complete(absl::ResourceExhaustedError("too many open streams; retry later"));
      return;
    }
    // The token is checked before a byte is read: a stream without a valid one is closed at once.
    auto edge = Authenticate(ctx_, context_, "");
    if (!edge.ok()) {
      Complete(edge.status());
      return;
    }
    edge_ = *edge;
    StartRead(&message_);
  }
  void OnReadDone(bool ok) override {
    if (failed_) return;
    if (!ok && (slot_->cancelled() || context_->IsCancelled())) {  // cut off (idle, or the client cancelled)
      Complete(absl::CancelledError("the push stalled or was cancelled; nothing was stored"));
      return;
    }
    slot_->Touch();
    if (!ok) {  // the client finished sending
      auto version = merger_.begun() ? merger_.Commit() : absl::StatusOr<uint64_t>(absl::InvalidArgumentError("empty push"));
      if (version.ok()) response_->set_version(*version);
      Complete(version.status());
      return;
    }
    absl::Status status = Handle();
    if (!status.ok()) {
      Complete(status);
      return;
    }
    StartRead(&message_);
  }
  void OnDone() override {
    if (slot_) slot_->Done();
    delete this;
  }

 private:
  void Complete(const absl::Status& status) {
    failed_ = !status.ok();
    if (!status.ok()) {
      spdlog::warn("push from '{}' rejected: {}", edge_.empty() ? context_->peer() : edge_, std::string(status.message()));
    }
    Finish(ToPeerStatus(status));
  }

  absl::Status Handle() {
    if (message_.has_header()) {
      if (merger_.begun()) return absl::InvalidArgumentError("a second push header");
      const std::string& claimed = message_.header().edge_id();
      if (!claimed.empty() && claimed != edge_) {
        return absl::PermissionDeniedError(absl::StrCat("the token belongs to edge '", edge_, "', not '", claimed, "'"));
      }
      return merger_.Begin(edge_, message_.header());
    }
    if (!merger_.begun()) return absl::InvalidArgumentError("the push must start with a header");
    if (!message_.has_chunk()) return absl::InvalidArgumentError("empty push message");
    return merger_.AddChunk(message_.chunk());
  }

  const CloudContext* ctx_;
  grpc::CallbackServerContext* context_;
  v1::PushResponse* response_;
  UpdateMerger merger_;
  std::shared_ptr<StreamWatch::Slot> slot_;
  v1::PushMessage message_;
  bool failed_ = false;
  std::string edge_;
};

}  // namespace

CloudService::CloudService(const CloudContext* context)
    : ctx_(context),
      planning_(context),
      started_(std::chrono::steady_clock::now()),
      streams_(context->stream_idle_timeout, context->max_streams) {}

grpc::ServerUnaryReactor* CloudService::GetStatus(grpc::CallbackServerContext* context,
                                                  const v1::GetStatusRequest*, v1::GetStatusResponse* response) {
  const BlockManifest& manifest = ctx_->model->manifest();
  response->set_server_version(BT_VERSION);
  response->set_model_name(ctx_->model_name);
  response->set_block_count(static_cast<uint32_t>(manifest.blocks.size()));
  response->set_parameter_count(static_cast<uint64_t>(manifest.TotalParameters()));
  response->set_model_bytes(manifest.TotalBytes());
  response->set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CloudService::GetManifest(grpc::CallbackServerContext* context,
                                                    const v1::GetManifestRequest*, v1::Manifest* response) {
  FillManifest(ctx_, FoundationManifest(*ctx_->model), response);
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CloudService::Register(grpc::CallbackServerContext* context,
                                                 const v1::RegisterRequest* request, v1::RegisterResponse* response) {
  auto run = [&]() -> absl::Status {
    if (!IsValidEdgeId(request->edge_id())) {
      return absl::InvalidArgumentError(absl::StrCat("edge_id '", request->edge_id(), "' must be ", kEdgeIdRule));
    }
    ASSIGN_OR_RETURN(std::string edge, Authenticate(ctx_, context, request->edge_id()));
    EdgeRecord record;
    record.id = edge;
    record.hardware = request->hardware();
    record.memory_budget = request->memory_budget_bytes();
    record.windows.assign(request->windows().begin(), request->windows().end());
    RETURN_IF_ERROR(ctx_->registry->RegisterEdge(record, FoundationManifest(*ctx_->model), NowSeconds(ctx_)));
    ASSIGN_OR_RETURN(VersionRecord head, ctx_->registry->Head(edge));
    response->set_version(head.version);
    FillManifest(ctx_, head.blocks, response->mutable_manifest());
    // The resolved architecture (a foreign checkpoint has no BlockTrainer metadata of its own).
    for (const auto& [key, value] : ctx_->model->architecture().ToMetadata()) (*response->mutable_architecture())[key] = value;
    response->set_source_stats(ctx_->source_stats_json);
    response->set_tokenizer(ctx_->model->tokenizer());
    spdlog::info("edge '{}' registered from {} ({}, budget {} bytes), branch at version {}", edge, context->peer(),
                 request->hardware(), request->memory_budget_bytes(), head.version);
    return absl::OkStatus();
  };
  return Done(context, run());
}

grpc::ServerUnaryReactor* CloudService::Heartbeat(grpc::CallbackServerContext* context,
                                                  const v1::HeartbeatRequest* request,
                                                  v1::HeartbeatResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string edge, Authenticate(ctx_, context, request->edge_id()));
    RETURN_IF_ERROR(ValidateHeartbeat(*request));
    RETURN_IF_ERROR(ctx_->registry->Heartbeat(edge, request->state(), request->window_id(), request->progress(),
                                              request->unsent_updates(), request->serving_version(), NowSeconds(ctx_)));
    response->set_server_time(NowSeconds(ctx_));
    ASSIGN_OR_RETURN(VersionRecord head, ctx_->registry->Head(edge));
    response->set_branch_version(head.version);
    return absl::OkStatus();
  };
  return Done(context, run());
}

grpc::ServerUnaryReactor* CloudService::ReportProbes(grpc::CallbackServerContext* context,
                                                     const v1::ReportProbesRequest* request,
                                                     v1::PlanResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string edge, Authenticate(ctx_, context, request->edge_id()));
    ASSIGN_OR_RETURN(*response, planning_.Plan(edge, *request));
    return absl::OkStatus();
  };
  return Done(context, run());
}

grpc::ServerWriteReactor<v1::BlockChunk>* CloudService::PullBlocks(grpc::CallbackServerContext* context,
                                                                  const v1::PullBlocksRequest* request) {
  return new PullReactor(ctx_, &streams_, context, request);
}

grpc::ServerReadReactor<v1::PushMessage>* CloudService::PushUpdate(grpc::CallbackServerContext* context,
                                                                  v1::PushResponse* response) {
  return new PushReactor(ctx_, &streams_, context, response);
}

}  // namespace bt
