#include "edge/cloud_client.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/base/address.h"
#include "common/base/file_util.h"
#include "common/wire/grpc_status.h"
#include "common/base/sha256.h"

namespace bt {

namespace v1 = blocktrainer::v1;

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCloudChannel(const std::string& address,
                                                                const ClientSecurity& s) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);  // chunks are ≤ 1 MiB; headroom for the largest manifest
  // gRPC's own reconnect backoff grows to 120 s; the callers back off themselves (the daemon's reconnect loop), so a
  // channel that stays unconnected for minutes after the cloud is back only adds to it. Reconnect within 2 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (s.ca_file.empty()) {
    if (!IsLoopbackAddress(address)) {
      return absl::FailedPreconditionError(absl::StrCat("refusing plaintext to '", address,
                                                        "': not a loopback address; configure tls.ca"));
    }
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions options;
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadFileToString(s.ca_file));
  if (!s.cert_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFileToString(s.cert_file));
    ASSIGN_OR_RETURN(options.pem_private_key, ReadFileToString(s.key_file));
  }
  if (!s.server_name.empty()) args.SetSslTargetNameOverride(s.server_name);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args);
}

CloudClient::CloudClient(std::shared_ptr<grpc::Channel> channel, std::string edge_id, std::string token)
    : stub_(v1::Cloud::NewStub(channel)), edge_id_(std::move(edge_id)), token_(std::move(token)) {}

void CloudClient::Prepare(grpc::ClientContext* context) const {
  context->AddMetadata("authorization", "Bearer " + token_);
  context->set_deadline(std::chrono::system_clock::now() + deadline_);
}

absl::StatusOr<v1::RegisterResponse> CloudClient::Register(const v1::RegisterRequest& request) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::RegisterResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->Register(&context, request, &response), "bt-cloud"));
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> CloudClient::Heartbeat(const v1::HeartbeatRequest& request) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::HeartbeatResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->Heartbeat(&context, request, &response), "bt-cloud"));
  return response;
}

absl::StatusOr<v1::PlanResponse> CloudClient::ReportProbes(const v1::ReportProbesRequest& request) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::PlanResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ReportProbes(&context, request, &response), "bt-cloud"));
  return response;
}

absl::StatusOr<TransferStats> CloudClient::PullBlocks(const std::vector<std::string>& digests,
                                                      const BlockStore& store,
                                                      std::function<void(uint64_t, uint64_t)> progress) {
  auto pulled = PullOnce(digests, store, progress);
  if (!absl::IsOutOfRange(pulled.status())) return pulled;
  // The cloud cannot resume a partial file (it is longer than the block, or not a prefix of it): start over.
  spdlog::warn("pull: {}; discarding the partial blocks and pulling them again from the start",
               std::string(pulled.status().message()));
  std::error_code ec;
  for (const std::string& d : digests) {
    if (IsDigest(d)) std::filesystem::remove(store.PartialPathFor(d), ec);
  }
  return PullOnce(digests, store, progress);
}

absl::StatusOr<TransferStats> CloudClient::PullOnce(const std::vector<std::string>& digests, const BlockStore& store,
                                                    std::function<void(uint64_t, uint64_t)> progress) {
  const auto start = std::chrono::steady_clock::now();
  TransferStats stats;
  std::error_code ec;
  std::filesystem::create_directories(store.dir(), ec);
  v1::PullBlocksRequest request;
  request.set_edge_id(edge_id_);
  std::map<std::string, uint64_t> have;  // partial bytes already on disk
  for (const std::string& d : digests) {
    if (!IsDigest(d)) return absl::InvalidArgumentError(absl::StrCat("pull: '", d.substr(0, 80), "' is not a SHA-256 digest"));
    if (store.Has(d) || have.count(d)) continue;
    std::filesystem::create_directories(store.ShardDir(d), ec);
    const uint64_t partial = std::filesystem::exists(store.PartialPathFor(d), ec)
                                 ? std::filesystem::file_size(store.PartialPathFor(d), ec)
                                 : 0;
    have[d] = partial;
    v1::BlockRequest* b = request.add_blocks();
    b->set_digest(d);
    b->set_offset(partial);
  }
  if (have.empty()) return stats;
  grpc::ClientContext context;
  Prepare(&context);
  context.set_deadline(std::chrono::system_clock::now() + deadline_ * 20);
  auto reader = stub_->PullBlocks(&context, request);
  v1::BlockChunk chunk;
  std::string current;
  FILE* file = nullptr;
  uint64_t total_wanted = 0, received = 0;
  // Each block is hashed as it arrives (a resumed block first hashes the bytes already on disk).
  std::unique_ptr<Sha256> hasher;
  auto finish_block = [&](const std::string& digest) -> absl::Status {
    if (file != nullptr) {
      std::fflush(file);
      ::fsync(fileno(file));
      std::fclose(file);
      file = nullptr;
    }
    const std::string got = hasher->FinishHex();
    hasher.reset();
    if (got != digest) {
      std::filesystem::remove(store.PartialPathFor(digest), ec);
      return absl::DataLossError(absl::StrCat("block ", digest.substr(0, 16),
                                              "… arrived corrupted (digest mismatch); it will be pulled again"));
    }
    std::filesystem::rename(store.PartialPathFor(digest), store.PathFor(digest), ec);
    if (ec) return absl::InternalError(absl::StrCat(store.PathFor(digest), ": ", ec.message()));
    ++stats.blocks;
    return absl::OkStatus();
  };
  absl::Status failure;
  std::map<std::string, uint64_t> declared;  // each block's total_bytes as its first chunk gave it
  while (reader->Read(&chunk)) {
    auto it = have.find(chunk.digest());
    if (it == have.end() || chunk.offset() != it->second) {
      failure = absl::DataLossError(absl::StrCat("unexpected chunk for ", chunk.digest().substr(0, 16), "… at offset ",
                                                 chunk.offset()));
      context.TryCancel();
      break;
    }
    // A block is as large as its first chunk declares (bounded), and never grows past that: a cloud that sends more
    // cannot fill the edge's disk or leave a partial file no pull can finish.
    auto [size, first] = declared.emplace(chunk.digest(), chunk.total_bytes());
    if ((first && (chunk.total_bytes() == 0 || chunk.total_bytes() > kMaxPullBlockBytes)) ||
        chunk.total_bytes() != size->second || it->second + chunk.data().size() > size->second) {
      failure = absl::DataLossError(absl::StrCat("block ", chunk.digest().substr(0, 16), "…: the cloud sent ",
                                                 it->second + chunk.data().size(), " bytes of a block declared as ",
                                                 size->second, " (at most ", kMaxPullBlockBytes,
                                                 "); its partial file is discarded"));
      if (file != nullptr) std::fclose(file);
      file = nullptr;
      std::error_code ignored;
      std::filesystem::remove(store.PartialPathFor(chunk.digest()), ignored);
      context.TryCancel();
      break;
    }
    if (chunk.digest() != current) {
      if (file != nullptr) std::fclose(file);
      current = chunk.digest();
      total_wanted += chunk.total_bytes() - chunk.offset();
      hasher = std::make_unique<Sha256>();
      if (chunk.offset() > 0) {
        auto prefix = ReadFileToString(store.PartialPathFor(current));
        if (!prefix.ok() || prefix->size() != chunk.offset()) {
          failure = absl::DataLossError(absl::StrCat(store.PartialPathFor(current), ": partial block changed"));
          context.TryCancel();
          break;
        }
        hasher->Update(prefix->data(), prefix->size());
      }
      file = std::fopen(store.PartialPathFor(current).c_str(), "ab");
      if (file == nullptr) {
        failure = absl::InternalError(absl::StrCat(store.PartialPathFor(current), ": cannot open"));
        context.TryCancel();
        break;
      }
    }
    if (std::fwrite(chunk.data().data(), 1, chunk.data().size(), file) != chunk.data().size()) {
      failure = absl::InternalError(absl::StrCat(store.PartialPathFor(current), ": write failed"));
      context.TryCancel();
      break;
    }
    hasher->Update(chunk.data().data(), chunk.data().size());
    it->second += chunk.data().size();
    received += chunk.data().size();
    stats.bytes += chunk.data().size();
    if (progress) progress(received, total_wanted);
    if (it->second == chunk.total_bytes()) {
      failure = finish_block(current);
      current.clear();
      if (!failure.ok()) {
        context.TryCancel();
        break;
      }
    }
  }
  if (file != nullptr) {
    std::fflush(file);
    std::fclose(file);
  }
  grpc::Status status = reader->Finish();
  RETURN_IF_ERROR(failure);
  RETURN_IF_ERROR(FromGrpcStatus(status, "bt-cloud (pull; partial blocks are kept and the next pull resumes)"));
  for (const auto& [digest, bytes] : have) {
    if (!store.Has(digest)) {
      return absl::DataLossError(absl::StrCat("the pull ended before block ", digest.substr(0, 16), "… was complete"));
    }
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

absl::StatusOr<uint64_t> CloudClient::PushUpdate(v1::PushHeader header, const std::vector<OutgoingBlock>& blocks,
                                                 TransferStats* stats) {
  const auto start = std::chrono::steady_clock::now();
  header.set_edge_id(edge_id_);
  header.clear_blocks();
  std::vector<std::string> digests;
  for (const OutgoingBlock& b : blocks) {
    v1::PushedBlock* pb = header.add_blocks();
    pb->set_name(b.name);
    digests.push_back(Sha256Hex(b.bytes));
    pb->set_digest(digests.back());
    pb->set_replaces_digest(b.replaces_digest);
    pb->set_bytes(b.bytes.size());
  }
  grpc::ClientContext context;
  Prepare(&context);
  context.set_deadline(std::chrono::system_clock::now() + deadline_ * 20);
  v1::PushResponse response;
  auto writer = stub_->PushUpdate(&context, &response);
  v1::PushMessage message;
  *message.mutable_header() = header;
  bool ok = writer->Write(message);
  uint64_t sent = 0;
  for (size_t i = 0; i < blocks.size() && ok; ++i) {
    for (size_t offset = 0; offset < blocks[i].bytes.size() && ok; offset += 1 << 20) {
      message.Clear();
      v1::BlockChunk* chunk = message.mutable_chunk();
      chunk->set_digest(digests[i]);
      chunk->set_offset(offset);
      chunk->set_total_bytes(blocks[i].bytes.size());
      const size_t n = std::min<size_t>(1 << 20, blocks[i].bytes.size() - offset);
      chunk->set_data(blocks[i].bytes.data() + offset, n);
      ok = writer->Write(message);
      sent += n;
    }
  }
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpcStatus(writer->Finish(), "bt-cloud (push)"));
  if (stats != nullptr) {
    stats->bytes = sent;
    stats->blocks = static_cast<int>(blocks.size());
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return response.version();
}

}  // namespace bt
