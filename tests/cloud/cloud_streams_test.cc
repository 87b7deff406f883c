// bt-cloud's admin calls, its admin token, TLS and mutual TLS, what a peer learns from an error, and the limits on
// streams (unauthenticated, idle, too many, a push that loses the race for the head), over loopback.
#include "tests/cloud/cloud_test_fixture.h"

namespace bt {
namespace {

// Issue 15 #7: the admin port had no authentication; any local user could Rollback any edge.
TEST_F(CloudServiceTest, AdminCallsNeedTheAdminToken) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  auto admin = v1::CloudAdmin::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", cloud.server().admin_port()),
                                                           grpc::InsecureChannelCredentials()));
  auto list = [&](const std::string& bearer) {
    grpc::ClientContext context;
    if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
    v1::ListEdgesResponse response;
    return admin->ListEdges(&context, v1::ListEdgesRequest(), &response).error_code();
  };
  EXPECT_EQ(list(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list(token), grpc::StatusCode::UNAUTHENTICATED);  // an edge's token is not the admin's
  EXPECT_EQ(list("the-admin-token"), grpc::StatusCode::OK);
  grpc::ClientContext context;
  v1::RollbackRequest rollback;
  rollback.set_edge_id("edge-a");
  rollback.set_to_version(0);
  v1::RollbackResponse response;
  EXPECT_EQ(admin->Rollback(&context, rollback, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AdminToken, IsMadeOnceReadableByItsOwnerOnlyAndThenReadBack) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("bt_admin_token_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto made = LoadOrCreateAdminToken(dir.string());
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->size(), 64u);
  const auto perms = std::filesystem::status(AdminTokenPath(dir.string())).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  auto again = LoadOrCreateAdminToken(dir.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *made);
  std::filesystem::remove_all(dir);
}

TEST(PeerStatus, InternalDetailsStayOnTheServer) {
  const grpc::Status scrubbed =
      ToPeerStatus(absl::InternalError("UNIQUE constraint failed: plans.plan_id in /var/lib/bt/db.sqlite"));
  EXPECT_EQ(scrubbed.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(scrubbed.error_message().find("/var/lib"), std::string::npos);
  EXPECT_EQ(scrubbed.error_message().find("UNIQUE"), std::string::npos);
  const grpc::Status kept = ToPeerStatus(absl::InvalidArgumentError("heartbeat: progress: nan"));
  EXPECT_EQ(kept.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(kept.error_message(), "heartbeat: progress: nan");
}

TEST_F(CloudServiceTest, BusyPortIsAClearError) {
  Cloud cloud(dir_, config_);
  CloudContext context;
  auto second = CloudServer::Start(cloud.address(), "", &context);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen"), std::string::npos);
  auto public_admin = CloudServer::Start("127.0.0.1:0", "0.0.0.0:0", &context);
  EXPECT_FALSE(public_admin.ok());
}

TEST_F(CloudServiceTest, TlsAndMutualTlsAreConfigurationSwitches) {
  const std::string certs = (dir_ / "certs").string();
  ASSERT_EQ(std::system(("'" BT_SOURCE_DIR "/scripts/make-test-ca.sh' '" + certs + "' > /dev/null").c_str()), 0)
      << "openssl is needed for this test";
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  // A second server on the same state, with mutual TLS.
  CloudContext context;
  auto model = ModelStore::Open((dir_ / "m.safetensors").string(), "tiny");
  auto blocks = BlockStore::Open((dir_ / "blocks").string());
  LawStore laws((dir_ / "edges").string());
  context.model = model->get();
  context.blocks = blocks->get();
  context.registry = &cloud.registry();
  context.laws = &laws;
  ServerSecurity security{certs + "/cloud.pem", certs + "/cloud.key", certs + "/ca.pem"};
  auto server = CloudServer::Start("127.0.0.1:0", "", &context, security);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = "localhost:" + std::to_string((*server)->port());
  auto registration = Registration("edge-a");
  ClientSecurity mutual{certs + "/ca.pem", certs + "/edge.pem", certs + "/edge.key", ""};
  auto ok = CloudClient(*MakeCloudChannel(address, mutual), "edge-a", token).Register(registration);
  EXPECT_TRUE(ok.ok()) << ok.status();
  ClientSecurity no_client_cert{certs + "/ca.pem", "", "", ""};
  CloudClient anonymous(*MakeCloudChannel(address, no_client_cert), "edge-a", token);
  anonymous.set_deadline(std::chrono::seconds(3));
  EXPECT_FALSE(anonymous.Register(registration).ok()) << "mutual TLS must refuse a client without a certificate";
  CloudClient plaintext(*MakeCloudChannel(address, {}), "edge-a", token);
  plaintext.set_deadline(std::chrono::seconds(3));
  EXPECT_FALSE(plaintext.Register(registration).ok());
  // Server-certificate TLS alone (no client_ca) accepts a client without a certificate.
  auto tls_only = CloudServer::Start("127.0.0.1:0", "", &context,
                                     ServerSecurity{certs + "/cloud.pem", certs + "/cloud.key", ""});
  ASSERT_TRUE(tls_only.ok()) << tls_only.status();
  auto tls_ok = CloudClient(*MakeCloudChannel("localhost:" + std::to_string((*tls_only)->port()), no_client_cert),
                            "edge-a", token)
                    .Register(registration);
  EXPECT_TRUE(tls_ok.ok()) << tls_ok.status();
}

TEST(Address, LoopbackOnlyPlaintext) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:5"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.2:50051"));
  EXPECT_FALSE(MakeServerCredentials({}, "0.0.0.0:1").ok());
  EXPECT_FALSE(MakeCloudChannel("10.1.2.3:4", {}).ok());
}

// An open PushUpdate stream that has written nothing (or only `first`), and how it ended.
grpc::Status IdlePush(const std::string& address, const std::string& token, const v1::PushMessage* first,
                      std::chrono::seconds deadline, bool finish_writes = false) {
  auto stub = v1::Cloud::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::PushResponse response;
  auto writer = stub->PushUpdate(&context, &response);
  if (first != nullptr) writer->Write(*first);
  if (finish_writes) writer->WritesDone();
  return writer->Finish();
}

TEST_F(CloudServiceTest, PushStreamsWithoutATokenCloseAtOnceAndIdleOnesAreCancelled) {
  Cloud cloud(dir_, config_);
  cloud.SetStreamLimits(std::chrono::milliseconds(300), 2);
  cloud.Restart();
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  // No token: refused before a message is read (it used to wait for the header until the client gave up).
  EXPECT_EQ(IdlePush(cloud.address(), "", nullptr, std::chrono::seconds(20)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A valid token and then silence: cancelled after the idle timeout, well before the client's deadline.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(IdlePush(cloud.address(), token, nullptr, std::chrono::seconds(20)).error_code(),
            grpc::StatusCode::CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  // A push that sent a whole block but never said it was done is cancelled, not committed.
  auto plan = cloud.Client("edge-a", token).ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto [trained, digest] = FirstTrainedBlock(*plan);
  ASSERT_FALSE(trained.empty());
  BlockStore store((dir_ / "edge").string());
  ASSERT_TRUE(cloud.Client("edge-a", token).PullBlocks({digest}, store).ok());
  const std::string update = WithFirstValue(**SafetensorsFile::FromBytes(*store.Read(digest), "block"), 0.125f);
  v1::PushMessage header;
  header.mutable_header()->set_plan_id(plan->plan_id());
  header.mutable_header()->set_edge_id("edge-a");
  header.mutable_header()->set_accuracy_before(0.5);
  header.mutable_header()->set_accuracy_after(0.6);
  v1::PushedBlock* pb = header.mutable_header()->add_blocks();
  pb->set_name(trained);
  pb->set_digest(Sha256Hex(update));
  pb->set_replaces_digest(digest);
  pb->set_bytes(update.size());
  {
    auto stub = v1::Cloud::NewStub(grpc::CreateChannel(cloud.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::PushResponse response;
    auto writer = stub->PushUpdate(&context, &response);
    ASSERT_TRUE(writer->Write(header));
    v1::PushMessage chunk;
    chunk.mutable_chunk()->set_digest(Sha256Hex(update));
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_total_bytes(update.size());
    chunk.mutable_chunk()->set_data(update);
    ASSERT_TRUE(writer->Write(chunk));
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);  // no WritesDone: it stalls
  }
  EXPECT_EQ(cloud.registry().Head("edge-a")->version, 0u);
  // The same push completed is committed (the plan was not used up by the stalled one).
  auto version = cloud.Client("edge-a", token).PushUpdate(header.header(), {{trained, digest, update}});
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
}

TEST_F(CloudServiceTest, StreamsBeyondTheLimitAreRefused) {
  Cloud cloud(dir_, config_);
  cloud.SetStreamLimits(std::chrono::milliseconds(3000), 2);
  cloud.Restart();
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  // Two idle pushes hold both slots until the idle timeout cancels them; a third meanwhile is refused.
  std::vector<std::thread> holders;
  std::vector<grpc::StatusCode> held(2);
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&, i] { held[i] = IdlePush(cloud.address(), token, nullptr, std::chrono::seconds(20)).error_code(); });
  }
  // Wait until both are open on the server (their slots are taken).
  for (int attempt = 0; attempt < 200 && cloud.server().open_streams() < 2; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(cloud.server().open_streams(), 2u);
  EXPECT_EQ(IdlePush(cloud.address(), token, nullptr, std::chrono::seconds(20), /*finish_writes=*/true).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  for (auto& t : holders) t.join();
  EXPECT_EQ(held, (std::vector<grpc::StatusCode>{grpc::StatusCode::CANCELLED, grpc::StatusCode::CANCELLED}));
  // The slots are free again, once the server has finished the cancelled streams (a client can see its
  // cancellation before the server's reactor is done with it: a push at once was refused for the limit, 1 in ~300).
  for (int attempt = 0; attempt < 200 && cloud.server().open_streams() > 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(cloud.server().open_streams(), 0u);
  EXPECT_EQ(IdlePush(cloud.address(), token, nullptr, std::chrono::seconds(20), true).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // an empty push: refused for what it is, not for the limit
}

TEST_F(CloudServiceTest, APushThatLosesTheRaceForTheHeadLeavesNoBlockBehind) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  CloudClient client = cloud.Client("edge-a", token);
  ASSERT_TRUE(client.Register(Registration("edge-a")).ok());
  // Two plans made at version 0; the first push moves the head, so the second one is stale.
  auto first = client.ReportProbes(Probes("edge-a", 0));
  auto second = client.ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(first.ok() && second.ok());
  const auto [trained, digest] = FirstTrainedBlock(*first);
  ASSERT_FALSE(trained.empty());
  BlockStore edge_store((dir_ / "edge").string());
  ASSERT_TRUE(client.PullBlocks({digest}, edge_store).ok());
  auto file = *SafetensorsFile::FromBytes(*edge_store.Read(digest), "block");
  v1::PushHeader header;
  header.set_base_version(0);
  header.set_accuracy_before(0.5);
  header.set_accuracy_after(0.6);
  header.set_plan_id(first->plan_id());
  const std::string a = WithFirstValue(*file, 0.25f), b = WithFirstValue(*file, 0.75f);
  ASSERT_TRUE(client.PushUpdate(header, {{trained, digest, a}}).ok());
  header.set_plan_id(second->plan_id());
  auto stale = client.PushUpdate(header, {{trained, digest, b}});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  const BlockStore cloud_store((dir_ / "blocks").string());
  EXPECT_TRUE(cloud_store.Has(Sha256Hex(a)));
  EXPECT_FALSE(cloud_store.Has(Sha256Hex(b)));  // stored for the failed commit, then taken back
}

}  // namespace
}  // namespace bt
