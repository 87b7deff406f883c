// CloudAdminService: the operator's calls (ListEdges, ListVersions, Rollback) on the loopback admin address.
#include <spdlog/spdlog.h>

#include <map>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "cloud/cloud_service.h"
#include "cloud/handlers.h"

namespace bt {

namespace v1 = blocktrainer::v1;

// ---- admin --------------------------------------------------------------------------------------------------------

absl::StatusOr<std::string> LoadOrCreateAdminToken(const std::string& data_dir) {
  const std::string path = AdminTokenPath(data_dir);
  if (std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(std::string token, ReadFileToString(path));
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.size() < 32) return absl::FailedPreconditionError(absl::StrCat(path, ": the admin token is too short"));
    return token;
  }
  ASSIGN_OR_RETURN(std::string random, ReadRandomBytes(32));
  std::string token;
  for (unsigned char c : random) absl::StrAppendFormat(&token, "%02x", c);
  RETURN_IF_ERROR(WriteFileAtomically(path, token + "\n", 0600));
  return token;
}

namespace {

// Every admin call presents the admin token: loopback is not a permission (any local user can reach it).
absl::Status AuthenticateAdmin(const CloudContext* ctx, grpc::CallbackServerContext* context) {
  if (ctx->admin_token_sha256.empty()) return absl::PermissionDeniedError("this cloud has no admin token configured");
  auto token = BearerToken(context);
  if (!token.ok()) {
    return Annotate(token.status(), "admin calls need the admin token (bt-cloud reads it from the data directory's "
                                    "admin.token)");
  }
  if (Sha256Hex(*token) != ctx->admin_token_sha256) return absl::UnauthenticatedError("wrong admin token");
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* CloudAdminService::ListEdges(grpc::CallbackServerContext* context,
                                                       const v1::ListEdgesRequest*, v1::ListEdgesResponse* response) {
  auto run = [&]() -> absl::Status {
    RETURN_IF_ERROR(AuthenticateAdmin(ctx_, context));
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
    RETURN_IF_ERROR(AuthenticateAdmin(ctx_, context));
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
    RETURN_IF_ERROR(AuthenticateAdmin(ctx_, context));
    ASSIGN_OR_RETURN(VersionRecord target, ctx_->registry->GetVersion(request->edge_id(), request->to_version()));
    ASSIGN_OR_RETURN(VersionRecord head, ctx_->registry->Head(request->edge_id()));
    ASSIGN_OR_RETURN(uint64_t version,
                     ctx_->registry->CommitVersion(request->edge_id(), head.version, head.version, target.blocks,
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

}  // namespace bt
