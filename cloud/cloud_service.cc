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
#include "common/base/sha256.h"
#include "cloud/planning.h"
#include "cloud/update_merger.h"
#include "common/plan/window_plan.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace v1 = blocktrainer::v1;

namespace {

constexpr size_t kMaxChunk = 1 << 20;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The edge the call's bearer token belongs to; `claimed` (the request's edge_id) must be that edge.
absl::StatusOr<std::string> Authenticate(const CloudContext* ctx, grpc::CallbackServerContext* context,
                                         const std::string& claimed) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  std::string value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.compare(0, kBearer.size(), kBearer) != 0 || value.size() == kBearer.size()) {
    return absl::UnauthenticatedError("authorization metadata is not 'Bearer <token>'");
  }
  auto edge = ctx->registry->EdgeForTokenHash(Sha256Hex(value.substr(kBearer.size())));
  if (!edge.ok()) {
    if (absl::IsNotFound(edge.status())) return absl::UnauthenticatedError("unknown token");
    return edge.status();
  }
  if (!claimed.empty() && claimed != *edge) {
    return absl::PermissionDeniedError(absl::StrCat("the token belongs to edge '", *edge, "', not '", claimed, "'"));
  }
  return *edge;
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
  PullReactor(const CloudContext* ctx, grpc::CallbackServerContext* context, const v1::PullBlocksRequest* request)
      : ctx_(ctx), context_(context) {
    absl::Status status = Prepare(request);
    if (!status.ok()) {
      Finish(ToGrpcStatus(status));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  struct Item {
    std::string digest;
    uint64_t offset;
    std::unique_ptr<MappedFile> file;
  };

  absl::Status Prepare(const v1::PullBlocksRequest* request) {
    ASSIGN_OR_RETURN(std::string edge, Authenticate(ctx_, context_, request->edge_id()));
    chunk_ = request->chunk_bytes() == 0 ? kMaxChunk : std::min<size_t>(request->chunk_bytes(), kMaxChunk);
    for (const v1::BlockRequest& b : request->blocks()) {
      if (!IsDigest(b.digest())) {
        return absl::InvalidArgumentError(absl::StrCat("'", b.digest(), "' is not a SHA-256 digest"));
      }
      ASSIGN_OR_RETURN(bool allowed, ctx_->registry->EdgeMayRead(edge, b.digest()));
      if (!allowed) {
        return absl::PermissionDeniedError(
            absl::StrCat("block ", b.digest().substr(0, 16), "… is not on edge '", edge, "''s branch"));
      }
      RETURN_IF_ERROR(EnsureStored(ctx_, b.digest()));
      ASSIGN_OR_RETURN(auto file, ctx_->blocks->Get(b.digest()));
      if (b.offset() > file->size()) {
        return absl::OutOfRangeError(absl::StrCat("offset ", b.offset(), " is past the end of block ",
                                                  b.digest().substr(0, 16), "… (", file->size(), " bytes)"));
      }
      items_.push_back({b.digest(), b.offset(), std::move(file)});
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
  std::vector<Item> items_;
  size_t index_ = 0;
  size_t chunk_ = kMaxChunk;
  v1::BlockChunk message_;
};

// ---- PushUpdate: the stream fed to an UpdateMerger, which validates everything, then stores and commits ------
class PushReactor : public grpc::ServerReadReactor<v1::PushMessage> {
 public:
  PushReactor(const CloudContext* ctx, grpc::CallbackServerContext* context, v1::PushResponse* response)
      : ctx_(ctx), context_(context), response_(response), merger_(ctx) {
    StartRead(&message_);
  }
  void OnReadDone(bool ok) override {
    if (failed_) return;
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
  void OnDone() override { delete this; }

 private:
  void Complete(const absl::Status& status) {
    failed_ = !status.ok();
    if (!status.ok()) {
      spdlog::warn("push from '{}' rejected: {}", edge_.empty() ? context_->peer() : edge_, std::string(status.message()));
    }
    Finish(ToGrpcStatus(status));
  }

  absl::Status Handle() {
    if (message_.has_header()) {
      if (merger_.begun()) return absl::InvalidArgumentError("a second push header");
      ASSIGN_OR_RETURN(edge_, Authenticate(ctx_, context_, message_.header().edge_id()));
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
  v1::PushMessage message_;
  bool failed_ = false;
  std::string edge_;
};

}  // namespace

CloudService::CloudService(const CloudContext* context)
    : ctx_(context), planning_(context), started_(std::chrono::steady_clock::now()) {}

grpc::ServerUnaryReactor* CloudService::GetStatus(grpc::CallbackServerContext* context,
                                                  const v1::GetStatusRequest*, v1::GetStatusResponse* response) {
  const BlockManifest& manifest = ctx_->model->manifest();
  response->set_server_version(BT_VERSION);
  response->set_model_name(ctx_->model_name);
  response->set_model_path(ctx_->model->path());
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
    for (const auto& [key, value] : ctx_->model->checkpoint().metadata()) (*response->mutable_architecture())[key] = value;
    response->set_source_stats(ctx_->source_stats_json);
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
  return new PullReactor(ctx_, context, request);
}

grpc::ServerReadReactor<v1::PushMessage>* CloudService::PushUpdate(grpc::CallbackServerContext* context,
                                                                  v1::PushResponse* response) {
  return new PushReactor(ctx_, context, response);
}

// ---- admin --------------------------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* CloudAdminService::ListEdges(grpc::CallbackServerContext* context,
                                                       const v1::ListEdgesRequest*, v1::ListEdgesResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<EdgeSummary> edges, ctx_->registry->ListEdgeSummaries());
    for (const EdgeSummary& summary : edges) {
      const EdgeRecord& e = summary.edge;
      v1::EdgeSummary* s = response->add_edges();
      s->set_edge_id(e.id);
      s->set_hardware(e.hardware);
      s->set_memory_budget_bytes(e.memory_budget);
      s->set_last_seen(e.last_seen);
      s->set_state(e.state);
      s->set_window_id(e.window_id);
      s->set_progress(e.progress);
      s->set_unsent_updates(e.unsent_updates);
      s->set_version(summary.head);
      if (summary.has_result) {
        s->set_last_accuracy_before(summary.last_accuracy_before);
        s->set_last_accuracy_after(summary.last_accuracy_after);
        s->set_last_predicted_accuracy(summary.last_predicted_accuracy);
      }
    }
    return absl::OkStatus();
  };
  return Done(context, run());
}

grpc::ServerUnaryReactor* CloudAdminService::ListVersions(grpc::CallbackServerContext* context,
                                                          const v1::ListVersionsRequest* request,
                                                          v1::ListVersionsResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<VersionRecord> versions, ctx_->registry->ListVersions(request->edge_id()));
    std::map<uint64_t, const VersionRecord*> by_version;
    for (const VersionRecord& v : versions) by_version[v.version] = &v;
    for (const VersionRecord& v : versions) {
      v1::VersionInfo* info = response->add_versions();
      info->set_version(v.version);
      info->set_parent(v.parent);
      info->set_created(v.created);
      info->set_note(v.note);
      auto parent = by_version.find(v.parent);
      if (v.version != 0 && parent != by_version.end()) {
        const BlockDigests& p = parent->second->blocks;
        for (size_t k = 0; k < v.blocks.size() && k < p.size(); ++k) {
          if (v.blocks[k].second != p[k].second) info->add_changed_blocks(v.blocks[k].first);
        }
      }
      FillManifest(ctx_, v.blocks, info->mutable_manifest());
    }
    return absl::OkStatus();
  };
  return Done(context, run());
}

grpc::ServerUnaryReactor* CloudAdminService::Rollback(grpc::CallbackServerContext* context,
                                                      const v1::RollbackRequest* request,
                                                      v1::RollbackResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(VersionRecord target, ctx_->registry->GetVersion(request->edge_id(), request->to_version()));
    ASSIGN_OR_RETURN(VersionRecord head, ctx_->registry->Head(request->edge_id()));
    ASSIGN_OR_RETURN(uint64_t version,
                     ctx_->registry->CommitVersion(request->edge_id(), head.version, target.blocks,
                                                   absl::StrCat("rollback to version ", target.version), "", 0, 0,
                                                   NowSeconds(ctx_)));
    response->set_version(version);
    spdlog::info("edge '{}': rolled back to the blocks of version {} as version {}", request->edge_id(),
                 target.version, version);
    return absl::OkStatus();
  };
  return Done(context, run());
}

// ---- server -------------------------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& s,
                                                                               const std::string& address) {
  if (s.cert_file.empty() && s.key_file.empty()) {
    if (!IsLoopbackAddress(address)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing plaintext on '", address, "': it is not a loopback address; configure tls.cert and tls.key"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (s.cert_file.empty() || s.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key");
  }
  grpc::SslServerCredentialsOptions options(s.client_ca_file.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(std::string cert, ReadFileToString(s.cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadFileToString(s.key_file));
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!s.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadFileToString(s.client_ca_file));
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::unique_ptr<CloudServer>> CloudServer::Start(const std::string& address,
                                                               const std::string& admin_address,
                                                               const CloudContext* context,
                                                               const ServerSecurity& security) {
  std::unique_ptr<CloudServer> server(new CloudServer());
  server->service_ = std::make_unique<CloudService>(context);
  server->admin_ = std::make_unique<CloudAdminService>(context);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(security, address));
  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second daemon on the same port would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", address, "' (in use or not a valid address)"));
  }
  // The admin service has a listener of its own, on loopback only: a separate server, so the edge-facing port
  // never exposes it.
  if (!admin_address.empty()) {
    if (!IsLoopbackAddress(admin_address)) {
      return absl::FailedPreconditionError(absl::StrCat("the admin address '", admin_address,
                                                        "' must be a loopback address"));
    }
    grpc::ServerBuilder admin;
    admin.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    admin.AddListeningPort(admin_address, grpc::InsecureServerCredentials(), &server->admin_port_);
    admin.RegisterService(server->admin_.get());
    server->admin_server_ = admin.BuildAndStart();
    if (server->admin_server_ == nullptr || server->admin_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on the admin address '", admin_address, "'"));
    }
  }
  return server;
}

void CloudServer::Stop(std::chrono::milliseconds deadline) {
  for (auto* s : {&admin_server_, &server_}) {
    if (*s == nullptr) continue;
    (*s)->Shutdown(std::chrono::system_clock::now() + deadline);
    (*s)->Wait();
    s->reset();
  }
}

CloudServer::~CloudServer() { Stop(); }

}  // namespace bt
