// The edge's cloud client against a cloud that misbehaves (issue 15 #9): a pull that sends more bytes than the
// block's declared size must not grow the partial file past it, and must leave nothing a later pull cannot finish.
#include "edge/cloud_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/sha256.h"
#include "tests/testing/test_dir.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

constexpr size_t kChunk = 64 << 10;

// Streams `chunks` chunks of 64 KiB for whatever digest is asked, each claiming the block is `declared` bytes.
class OversendingCloud final : public v1::Cloud::CallbackService {
 public:
  OversendingCloud(uint64_t declared, int chunks) : declared_(declared), chunks_(chunks) {}
  grpc::ServerWriteReactor<v1::BlockChunk>* PullBlocks(grpc::CallbackServerContext*,
                                                       const v1::PullBlocksRequest* request) override {
    class Reactor : public grpc::ServerWriteReactor<v1::BlockChunk> {
     public:
      Reactor(std::string digest, uint64_t declared, int chunks) : digest_(std::move(digest)), declared_(declared),
                                                                   chunks_(chunks) {
        Next();
      }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (sent_ == chunks_) return Finish(grpc::Status::OK);
        chunk_.set_digest(digest_);
        chunk_.set_offset(static_cast<uint64_t>(sent_) * kChunk);
        chunk_.set_total_bytes(declared_);
        chunk_.set_data(std::string(kChunk, 'x'));
        ++sent_;
        StartWrite(&chunk_);
      }
      std::string digest_;
      uint64_t declared_;
      int chunks_, sent_ = 0;
      v1::BlockChunk chunk_;
    };
    return new Reactor(request->blocks(0).digest(), declared_, chunks_);
  }

 private:
  uint64_t declared_;
  int chunks_;
};

struct Served {
  explicit Served(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service);
    server = builder.BuildAndStart();
  }
  ~Served() { server->Shutdown(); }
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

TEST(CloudClient, APullThatSendsMoreThanTheDeclaredSizeFailsAndKeepsNoOversizedPartial) {
  TestDir dir;
  BlockStore store(dir.Path("blocks"));
  const std::string digest = Sha256Hex("the real block");
  for (uint64_t declared : {uint64_t{1024}, uint64_t{1} << 62}) {  // a ~1 KB block; a 2^62-byte one
    OversendingCloud cloud(declared, 40);                             // 40 × 64 KiB = 2.5 MiB sent
    Served served(&cloud);
    CloudClient client(grpc::CreateChannel(absl::StrCat("127.0.0.1:", served.port), grpc::InsecureChannelCredentials()),
                       "edge-1", "token");
    auto pulled = client.PullBlocks({digest}, store);
    ASSERT_FALSE(pulled.ok()) << declared;
    EXPECT_EQ(pulled.status().code(), absl::StatusCode::kDataLoss) << pulled.status();
    EXPECT_NE(pulled.status().message().find("declared"), std::string::npos) << pulled.status();
    EXPECT_FALSE(std::filesystem::exists(store.PartialPathFor(digest))) << "the partial file must go";
    EXPECT_FALSE(store.Has(digest));
  }
}

}  // namespace
}  // namespace bt
