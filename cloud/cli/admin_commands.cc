#include "cloud/cli/admin_commands.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "blocktrainer/v1/blocktrainer.grpc.pb.h"
#include "cloud/cloud_context.h"
#include "cloud/store/registry.h"
#include "common/cli/cli.h"
#include "common/base/file_util.h"
#include "common/wire/grpc_status.h"
#include "common/base/sha256.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace {

std::unique_ptr<blocktrainer::v1::CloudAdmin::Stub> AdminStub(const CloudConfig& config, const std::string& address) {
  return blocktrainer::v1::CloudAdmin::NewStub(grpc::CreateChannel(
      address.empty() ? config.cloud.admin_listen : address, grpc::InsecureChannelCredentials()));
}

// The admin token bt-cloud serve wrote into its data directory (readable by the service user only).
absl::Status AuthorizeAdmin(const CloudConfig& config, grpc::ClientContext* context) {
  const std::string path = AdminTokenPath(config.cloud.data_dir);
  auto token = ReadFileToString(path);
  if (!token.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot read the admin token ", path, " (", token.status().message(),
                                                    "): run as the service user (sudo -u blocktrainer ...) or root, "
                                                    "after bt-cloud serve has started once"));
  }
  context->AddMetadata("authorization", absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
  return absl::OkStatus();
}

}  // namespace

absl::Status PrintEdges(const CloudConfig& config, const std::string& address_override, bool json) {
  const std::string address = address_override.empty() ? config.cloud.admin_listen : address_override;
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  RETURN_IF_ERROR(AuthorizeAdmin(config, &context));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  blocktrainer::v1::ListEdgesResponse response;
  grpc::Status status = stub->ListEdges(&context, blocktrainer::v1::ListEdgesRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("bt-cloud admin at ", address));
  if (json) {
    nlohmann::ordered_json out = {{"admin_address", address}, {"edges", nlohmann::ordered_json::array()}};
    for (const auto& e : response.edges()) {
      out["edges"].push_back({{"edge_id", e.edge_id()},
                              {"hardware", e.hardware()},
                              {"memory_budget_bytes", e.memory_budget_bytes()},
                              {"last_seen", e.last_seen()},
                              {"state", e.state()},
                              {"window_id", e.window_id()},
                              {"progress", e.progress()},
                              {"version", e.version()},
                              {"last_accuracy_before", e.last_accuracy_before()},
                              {"last_accuracy_after", e.last_accuracy_after()},
                              {"last_predicted_accuracy", e.last_predicted_accuracy()},
                              {"unsent_updates", e.unsent_updates()}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("%d edge(s) at bt-cloud (admin %s)\n\n", response.edges_size(), address.c_str());
  std::printf("%-14s %-16s %-10s %-24s %8s %8s %18s %7s\n", "edge", "last seen", "state", "window", "budget",
              "version", "last before→after", "unsent");
  for (const auto& e : response.edges()) {
    std::string window = e.window_id().empty() ? "-" : absl::StrFormat("%s %.0f%%", e.window_id(), 100 * e.progress());
    std::string result = e.last_accuracy_after() > 0 ? absl::StrFormat("%.1f%% → %.1f%%", 100 * e.last_accuracy_before(),
                                                                       100 * e.last_accuracy_after())
                                                     : "-";
    std::printf("%-14s %-16s %-10s %-24s %8s %8llu %18s %7u\n", e.edge_id().c_str(), Ago(e.last_seen()).c_str(),
                e.state().c_str(), window.c_str(), FormatBytes(e.memory_budget_bytes()).c_str(),
                static_cast<unsigned long long>(e.version()), result.c_str(), e.unsent_updates());
  }
  return absl::OkStatus();
}

std::vector<std::pair<size_t, std::string>> VersionTree(const std::vector<std::pair<uint64_t, uint64_t>>& versions) {
  std::map<uint64_t, size_t> index;
  for (size_t i = 0; i < versions.size(); ++i) index[versions[i].first] = i;
  std::map<uint64_t, std::vector<uint64_t>> children;
  std::vector<uint64_t> roots;
  for (const auto& [version, parent] : versions) {
    if (parent == version || index.count(parent) == 0 || parent > version) {
      roots.push_back(version);
    } else {
      children[parent].push_back(version);
    }
  }
  std::sort(roots.begin(), roots.end());
  for (auto& [parent, list] : children) std::sort(list.begin(), list.end());
  std::vector<std::pair<size_t, std::string>> out;
  // Iterative depth-first walk (a long branch must not recurse thousands deep).
  struct Item {
    uint64_t version;
    std::string indent;  // drawn for this item's children
    std::string prefix;  // drawn before this item
  };
  std::vector<Item> stack;
  for (auto r = roots.rbegin(); r != roots.rend(); ++r) stack.push_back({*r, "", ""});
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    out.emplace_back(index[item.version], item.prefix);
    const std::vector<uint64_t>& kids = children[item.version];
    // A single child continues the line at the same depth; several fork.
    if (kids.size() == 1) {
      stack.push_back({kids[0], item.indent, item.indent});
      continue;
    }
    for (size_t k = kids.size(); k-- > 0;) {
      const bool last = k + 1 == kids.size();
      stack.push_back({kids[k], item.indent + (last ? "   " : "|  "), item.indent + (last ? "`- " : "|- ")});
    }
  }
  return out;
}

absl::Status PrintVersions(const CloudConfig& config, const std::string& address, const std::string& edge,
                           bool json) {
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  RETURN_IF_ERROR(AuthorizeAdmin(config, &context));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  blocktrainer::v1::ListVersionsRequest request;
  request.set_edge_id(edge);
  blocktrainer::v1::ListVersionsResponse response;
  grpc::Status status = stub->ListVersions(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "bt-cloud admin");
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& v : response.versions()) {
      nlohmann::ordered_json blocks = nlohmann::ordered_json::object();
      for (const auto& b : v.manifest().blocks()) blocks[b.name()] = b.digest();
      out.push_back({{"version", v.version()},
                     {"parent", v.parent()},
                     {"created", v.created()},
                     {"note", v.note()},
                     {"changed_blocks", std::vector<std::string>(v.changed_blocks().begin(), v.changed_blocks().end())},
                     {"blocks", blocks}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  // The branch as a tree: a window that started from an older version forks it.
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (const auto& v : response.versions()) pairs.emplace_back(v.version(), v.parent());
  std::printf("%-16s %-7s %-18s %s\n", "version", "parent", "created", "note");
  for (const auto& [i, prefix] : VersionTree(pairs)) {
    const auto& v = response.versions(static_cast<int>(i));
    const std::string name = absl::StrCat(prefix, "v", v.version());
    std::printf("%-16s %-7llu %-18s %s\n", name.c_str(), static_cast<unsigned long long>(v.parent()),
                Ago(v.created()).c_str(), v.note().c_str());
  }
  return absl::OkStatus();
}

absl::Status RollbackEdge(const CloudConfig& config, const std::string& address, const std::string& edge,
                          uint64_t to) {
  auto stub = AdminStub(config, address);
  grpc::ClientContext context;
  RETURN_IF_ERROR(AuthorizeAdmin(config, &context));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  blocktrainer::v1::RollbackRequest request;
  request.set_edge_id(edge);
  request.set_to_version(to);
  blocktrainer::v1::RollbackResponse response;
  grpc::Status status = stub->Rollback(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "bt-cloud admin");
  std::printf("edge %s: branch head is now version %llu (the blocks of version %llu)\n", edge.c_str(),
              static_cast<unsigned long long>(response.version()), static_cast<unsigned long long>(to));
  return absl::OkStatus();
}

absl::Status PruneEdge(const CloudConfig& config, const std::string& edge, int64_t keep) {
  if (keep < 0) return absl::InvalidArgumentError("--keep: must be 0 or more");
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  ASSIGN_OR_RETURN(std::vector<uint64_t> pruned, registry->PruneVersions(edge, static_cast<size_t>(keep)));
  if (pruned.empty()) {
    std::printf("edge %s: nothing to prune (the foundation, the head and the newest %lld versions are kept)\n",
                edge.c_str(), static_cast<long long>(keep));
    return absl::OkStatus();
  }
  std::string list;
  for (uint64_t v : pruned) absl::StrAppend(&list, list.empty() ? "" : ", ", v);
  std::printf("edge %s: pruned %zu versions (%s); their blocks are removed when bt-cloud serve next starts\n",
              edge.c_str(), pruned.size(), list.c_str());
  return absl::OkStatus();
}

absl::Status AddEdgeToken(const CloudConfig& config, const std::string& edge, const std::string& out) {
  if (!IsValidEdgeId(edge)) return absl::InvalidArgumentError(absl::StrCat("--edge '", edge, "': must be ", kEdgeIdRule));
  ASSIGN_OR_RETURN(std::string random, ReadRandomBytes(32));
  std::string token;
  for (unsigned char c : random) absl::StrAppendFormat(&token, "%02x", c);
  std::error_code ec;
  std::filesystem::create_directories(config.cloud.data_dir, ec);
  ASSIGN_OR_RETURN(auto registry, Registry::Open(config.cloud.data_dir + "/blocktrainer.db"));
  if (!out.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(out, token + "\n", 0600));
  }
  RETURN_IF_ERROR(registry->SetTokenHash(edge, Sha256Hex(token)));
  if (out.empty()) {
    std::printf("%s\n", token.c_str());
  } else {
    std::printf("edge %s: token written to %s (its SHA-256 is stored in %s/blocktrainer.db; any previous token is "
                "revoked)\n", edge.c_str(), out.c_str(), config.cloud.data_dir.c_str());
  }
  return absl::OkStatus();
}

}  // namespace bt
