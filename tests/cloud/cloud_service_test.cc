// bt-cloud's RPCs over loopback with a tiny torch-free model: authentication, planning, block pulls (incl. a
// 64 MiB block and a pull that resumes after a cloud restart) and pushes (valid, tampered, unplanned, NaN, half
// precision). The admin calls, TLS and the stream limits: cloud_streams_test.cc.
#include "tests/cloud/cloud_test_fixture.h"

namespace bt {
namespace {


TEST_F(CloudServiceTest, ServesStatusManifestHealthWithoutAToken) {
  Cloud cloud(dir_, config_);
  auto channel = grpc::CreateChannel(cloud.address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Cloud::NewStub(channel);
  grpc::ClientContext context;
  v1::GetStatusResponse response;
  ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &response).ok());
  EXPECT_EQ(response.block_count(), 5u);  // embed + 3 layers + head
  EXPECT_TRUE(response.model_path().empty()) << "no server path to a caller without a token";
  EXPECT_EQ(response.parameter_count(), static_cast<uint64_t>(config_.ParameterCount()));
  grpc::ClientContext context2;
  v1::Manifest manifest;
  ASSERT_TRUE(stub->GetManifest(&context2, v1::GetManifestRequest(), &manifest).ok());
  ASSERT_EQ(manifest.blocks_size(), 5);
  EXPECT_EQ(manifest.blocks(1).digest(), cloud.model().manifest().blocks[1].digest);
}

TEST_F(CloudServiceTest, RefusesMissingWrongAndOtherEdgesTokens) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  cloud.Token("edge-b");
  EXPECT_EQ(cloud.Client("edge-a", "wrong").Register(Registration("edge-a")).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(cloud.Client("edge-b", token).Register(Registration("edge-b")).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto ok = cloud.Client("edge-a", token).Register(Registration("edge-a"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->version(), 0u);
  EXPECT_EQ(ok->manifest().blocks_size(), 5);
  EXPECT_FALSE(ok->architecture().empty());
  // edge-b cannot pull edge-a's blocks before it has a branch of its own.
  BlockStore store((dir_ / "edge-b").string());
  auto pull = cloud.Client("edge-b", "token-of-edge-b").PullBlocks({ok->manifest().blocks(0).digest()}, store);
  EXPECT_FALSE(pull.ok());
}

TEST_F(CloudServiceTest, PlansPullsAndCommitsAnUpdateAndRejectsBadPushesChangingNothing) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  CloudClient client = cloud.Client("edge-a", token);
  // A budget where only the cheapest trainable choice fits, so some blocks stay frozen.
  PlanRequest sizing;
  sizing.blocks = AnalyticProfile(VitLayerShapes(config_), ProfileOptions{});
  sizing.law = GenericPrior(sizing.blocks.size(), 0.5);
  sizing.memory_budget = 1ull << 40;
  sizing.fixed_bytes = 1000;
  sizing.window_seconds = 1e6;
  sizing.iteration_grid = {25};
  const uint64_t budget = SolvePlan(sizing)->min_memory_to_train * 11 / 10;  // headroom for bucket rounding
  auto reg = client.Register(Registration("edge-a", budget));
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto plan = client.ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->feasible());
  std::string trained, frozen;
  std::vector<std::string> digests;
  for (const auto& b : plan->blocks()) {
    (b.option() == "frozen" ? frozen : trained) = b.name();
    digests.push_back(b.digest());
  }
  ASSERT_FALSE(trained.empty());
  ASSERT_FALSE(frozen.empty());

  BlockStore store((dir_ / "edge").string());
  auto pulled = client.PullBlocks(digests, store);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(pulled->blocks, 5);
  auto again = client.PullBlocks(digests, store);  // held blocks are not sent again
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->bytes, 0u);

  auto block_of = [&](const std::string& name) -> std::pair<std::string, std::string> {
    for (const auto& b : plan->blocks()) {
      if (b.name() == name) return {b.digest(), *store.Read(b.digest())};
    }
    return {};
  };
  // The "retrained" block: the same tensors with one weight changed.
  auto [old_digest, bytes] = block_of(trained);
  auto file = *SafetensorsFile::FromBytes(bytes, "block");
  auto modified = [&](float value) { return WithFirstValue(*file, value); };
  v1::PushHeader header;
  header.set_plan_id(plan->plan_id());
  header.set_base_version(0);
  header.set_accuracy_before(0.5);
  header.set_accuracy_after(0.6);

  // An unplanned block is refused.
  auto [frozen_digest, frozen_bytes] = block_of(frozen);
  auto unplanned = client.PushUpdate(header, {{frozen, frozen_digest, frozen_bytes}});
  EXPECT_EQ(unplanned.status().code(), absl::StatusCode::kPermissionDenied) << unplanned.status();
  // NaN weights are refused.
  auto nan = client.PushUpdate(header, {{trained, old_digest, modified(std::numeric_limits<float>::quiet_NaN())}});
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInvalidArgument) << nan.status();
  EXPECT_NE(nan.status().message().find("non-finite"), std::string::npos);
  // A tampered chunk (the bytes do not match the announced digest) is refused.
  {
    const std::string good = modified(0.25f);
    auto stub = v1::Cloud::NewStub(grpc::CreateChannel(cloud.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::PushResponse response;
    auto writer = stub->PushUpdate(&context, &response);
    v1::PushMessage m;
    *m.mutable_header() = header;
    m.mutable_header()->set_edge_id("edge-a");
    v1::PushedBlock* pb = m.mutable_header()->add_blocks();
    pb->set_name(trained);
    pb->set_digest(Sha256Hex(good));
    pb->set_replaces_digest(old_digest);
    pb->set_bytes(good.size());
    ASSERT_TRUE(writer->Write(m));
    std::string tampered = good;
    tampered[tampered.size() - 1] ^= 0x01;
    m.Clear();
    m.mutable_chunk()->set_digest(Sha256Hex(good));
    m.mutable_chunk()->set_offset(0);
    m.mutable_chunk()->set_total_bytes(good.size());
    m.mutable_chunk()->set_data(tampered);
    writer->Write(m);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  }
  // Nothing of the above changed the branch.
  EXPECT_EQ(cloud.registry().Head("edge-a")->version, 0u);

  // A valid update commits version 1 whose block is the pushed one.
  const std::string update = modified(0.25f);
  TransferStats up;
  auto version = client.PushUpdate(header, {{trained, old_digest, update}}, &up);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
  EXPECT_EQ(up.bytes, update.size());
  auto head = cloud.registry().Head("edge-a");
  ASSERT_TRUE(head.ok());
  for (const auto& [name, digest] : head->blocks) {
    if (name == trained) EXPECT_EQ(digest, Sha256Hex(update));
    if (name == frozen) EXPECT_EQ(digest, frozen_digest);
  }
  // The same plan cannot be pushed twice.
  EXPECT_FALSE(client.PushUpdate(header, {{trained, old_digest, update}}).ok());
  // The edge can pull its new block (from the store, bit-identical).
  BlockStore fresh((dir_ / "fresh").string());
  ASSERT_TRUE(client.PullBlocks({Sha256Hex(update)}, fresh).ok());
  EXPECT_EQ(*fresh.Read(Sha256Hex(update)), update);

  // A window serving version 1 may start from version 0 (the version zoo): the plan's base and digests are
  // version 0's, the push replaces version 0's block, and the new head's parent is 0.
  EXPECT_EQ(client.ReportProbes(Probes("edge-a", 0, /*serving=*/0)).status().code(),
            absl::StatusCode::kFailedPrecondition);  // serving a version that is not the head: re-register
  EXPECT_EQ(client.ReportProbes(Probes("edge-a", 7, /*serving=*/1)).status().code(),
            absl::StatusCode::kInvalidArgument);  // no such version
  auto from_zero = client.ReportProbes(Probes("edge-a", 0, /*serving=*/1));
  ASSERT_TRUE(from_zero.ok()) << from_zero.status();
  EXPECT_EQ(from_zero->base_version(), 0u);
  for (const auto& b : from_zero->blocks()) {
    if (b.name() == trained) EXPECT_EQ(b.digest(), old_digest);
  }
  v1::PushHeader zoo_header = header;
  zoo_header.set_plan_id(from_zero->plan_id());
  const std::string from_zero_update = modified(0.5f);
  auto v2 = client.PushUpdate(zoo_header, {{trained, old_digest, from_zero_update}});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*v2, 2u);
  auto v2_record = cloud.registry().GetVersion("edge-a", 2);
  ASSERT_TRUE(v2_record.ok());
  EXPECT_EQ(v2_record->parent, 0u);
  EXPECT_EQ(cloud.registry().Head("edge-a")->version, 2u);

  // A window that started from version 1 and trained nothing better deploys version 1 as it is: an empty push of
  // that plan makes version 1's blocks the head. From the head itself an empty push is refused.
  auto from_head = client.ReportProbes(Probes("edge-a", 2, /*serving=*/2));
  ASSERT_TRUE(from_head.ok()) << from_head.status();
  v1::PushHeader empty = header;
  empty.set_plan_id(from_head->plan_id());
  empty.set_base_version(2);
  EXPECT_EQ(client.PushUpdate(empty, {}).status().code(), absl::StatusCode::kInvalidArgument);
  auto from_one = client.ReportProbes(Probes("edge-a", 1, /*serving=*/2));
  ASSERT_TRUE(from_one.ok()) << from_one.status();
  empty.set_plan_id(from_one->plan_id());
  empty.set_base_version(1);
  auto v3 = client.PushUpdate(empty, {});
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(*v3, 3u);
  EXPECT_EQ(cloud.registry().GetVersion("edge-a", 3)->parent, 1u);
  EXPECT_EQ(cloud.registry().GetVersion("edge-a", 3)->blocks, cloud.registry().GetVersion("edge-a", 1)->blocks);

  // A plan whose base an operator pruned meanwhile: its push is refused for good (the edge sets it aside), and a
  // report naming the pruned version as its base is an invalid argument.
  auto from_two = client.ReportProbes(Probes("edge-a", 2, /*serving=*/3));
  ASSERT_TRUE(from_two.ok()) << from_two.status();
  ASSERT_EQ(*cloud.registry().PruneVersions("edge-a", 0), (std::vector<uint64_t>{1, 2}));
  empty.set_plan_id(from_two->plan_id());
  empty.set_base_version(2);
  EXPECT_EQ(client.PushUpdate(empty, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.ReportProbes(Probes("edge-a", 2, /*serving=*/3)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CloudServiceTest, StreamsA64MiBBlockAndResumesAPullAfterACloudRestart) {
  // One encoder layer of 4·h² + 2·h·mlp floats with h = 1024, mlp = 6144: 64 MiB.
  VitConfig big = fixtures::TinyVit(1024, 1, 1, 6144, 10);
  Cloud cloud(dir_, big);
  const BlockEntry& layer = cloud.model().manifest().blocks[1];
  ASSERT_GE(layer.bytes, 64ull << 20);
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  BlockStore store((dir_ / "edge").string());

  // The first pull is cut off by a cloud shutdown after a few MiB arrived.
  {
    CloudClient client = cloud.Client("edge-a", token);
    std::thread stopper;
    std::atomic<bool> stopping{false};
    auto first = client.PullBlocks({layer.digest}, store, [&](uint64_t done, uint64_t) {
      if (done >= (8u << 20) && !stopping.exchange(true)) {
        stopper = std::thread([&] { cloud.server().Stop(std::chrono::milliseconds(0)); });
      }
    });
    if (stopper.joinable()) stopper.join();
    ASSERT_FALSE(first.ok()) << "the shutdown should have interrupted the pull";
  }
  ASSERT_FALSE(store.Has(layer.digest));
  const uint64_t partial = std::filesystem::file_size(store.PartialPathFor(layer.digest));
  EXPECT_GE(partial, 8u << 20);
  EXPECT_LT(partial, layer.bytes);

  cloud.Restart();
  CloudClient client = cloud.Client("edge-a", token);
  auto resumed = client.PullBlocks({layer.digest}, store);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->blocks, 1);
  EXPECT_LT(resumed->bytes, std::filesystem::file_size(store.PathFor(layer.digest)));
  EXPECT_EQ(Sha256Hex(*store.Read(layer.digest)), layer.digest);
}

// Issue 15 #5: the plan counter restarted at 0 and a restart within the same second reused a plan id (UNIQUE
// constraint failed: plans.plan_id, as INTERNAL).
TEST_F(CloudServiceTest, PlanIdsStayUniqueAcrossARestartWithinTheSameSecond) {
  Cloud cloud(dir_, config_);
  cloud.SetClock([] { return int64_t{1'700'000'000}; });
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  auto first = cloud.Client("edge-a", token).ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(first.ok()) << first.status();
  cloud.Restart();
  auto second = cloud.Client("edge-a", token).ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->plan_id(), second->plan_id());
}

// Issue 15 #6: a heartbeat with progress=NaN and a push with accuracy_before=NaN reached SQLite and came back
// INTERNAL with the raw SQLite error (the push after its blocks were stored).
TEST_F(CloudServiceTest, NonFiniteNumbersAreInvalidArgumentsNamingTheFieldAndStoreNothing) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  CloudClient client = cloud.Client("edge-a", token);
  ASSERT_TRUE(client.Register(Registration("edge-a")).ok());
  v1::HeartbeatRequest beat;
  beat.set_edge_id("edge-a");
  beat.set_state("training");
  beat.set_progress(std::numeric_limits<double>::quiet_NaN());
  auto refused = client.Heartbeat(beat);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("progress"), std::string::npos) << refused.status();
  beat.set_progress(0.5);
  beat.set_window_id(std::string(1000, 'w'));  // a long window id (gRPC itself refuses messages over 4 MiB)
  EXPECT_EQ(client.Heartbeat(beat).status().code(), absl::StatusCode::kInvalidArgument);

  auto plan = client.ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string trained = LastTrainedBlock(*plan);
  ASSERT_FALSE(trained.empty());
  const BlockEntry* entry = cloud.model().FindBlock(trained);
  ASSERT_NE(entry, nullptr);
  const std::string bytes = *cloud.model().BlockBytes(trained);
  v1::PushHeader header;
  header.set_edge_id("edge-a");
  header.set_plan_id(plan->plan_id());
  header.set_base_version(0);
  header.set_accuracy_before(std::numeric_limits<double>::quiet_NaN());
  header.set_accuracy_after(0.9);
  const size_t stored_before = std::distance(std::filesystem::recursive_directory_iterator(dir_ / "blocks"),
                                             std::filesystem::recursive_directory_iterator());
  auto pushed = client.PushUpdate(header, {{trained, entry->digest, bytes}});
  ASSERT_EQ(pushed.status().code(), absl::StatusCode::kInvalidArgument) << pushed.status();
  EXPECT_NE(pushed.status().message().find("accuracy_before"), std::string::npos) << pushed.status();
  EXPECT_EQ(std::distance(std::filesystem::recursive_directory_iterator(dir_ / "blocks"),
                          std::filesystem::recursive_directory_iterator()),
            static_cast<std::ptrdiff_t>(stored_before));
  EXPECT_EQ(cloud.registry().Head("edge-a")->version, 0u);
}

// Issue 15 #1: 4 KiB of junk after the tensors, metadata, a block declared as 209.7 MB, and values of 3e38 were
// accepted and stored.
TEST_F(CloudServiceTest, OnlyCanonicalBlocksWithinTheBasesRangeAreAccepted) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  CloudClient client = cloud.Client("edge-a", token);
  ASSERT_TRUE(client.Register(Registration("edge-a")).ok());
  auto plan = client.ReportProbes(Probes("edge-a", 0));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string trained = LastTrainedBlock(*plan);
  ASSERT_FALSE(trained.empty());
  const BlockEntry* entry = cloud.model().FindBlock(trained);
  const std::string canonical = *cloud.model().BlockBytes(trained);
  auto file = *SafetensorsFile::FromBytes(canonical, "block");
  auto with_value = [&](float value, const Metadata& metadata = {}) { return WithFirstValue(*file, value, metadata); };
  v1::PushHeader header;
  header.set_plan_id(plan->plan_id());
  header.set_base_version(0);
  header.set_accuracy_before(0.4);
  header.set_accuracy_after(0.6);
  auto blocks_stored = [&] {
    return std::distance(std::filesystem::recursive_directory_iterator(dir_ / "blocks"),
                         std::filesystem::recursive_directory_iterator());
  };
  const auto stored = blocks_stored();
  auto refused = [&](const std::string& bytes, const std::string& why) {
    auto pushed = client.PushUpdate(header, {{trained, entry->digest, bytes}});
    EXPECT_EQ(pushed.status().code(), absl::StatusCode::kInvalidArgument) << why << ": " << pushed.status();
    EXPECT_NE(pushed.status().message().find(why), std::string::npos) << pushed.status();
  };
  refused(with_value(0.5f) + std::string(4096, 'j'), "canonical form");       // junk after the tensors
  refused(with_value(0.5f, {{"pad", std::string(500'000, 'm')}}), "canonical form");  // 500 KB of metadata
  refused(with_value(3e38f), "beyond");                                          // finite, absurd
  // A header that declares 209.7 MB: refused before any chunk is read.
  auto stub = v1::Cloud::NewStub(grpc::CreateChannel(cloud.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + token);
  v1::PushResponse response;
  auto writer = stub->PushUpdate(&context, &response);
  v1::PushMessage m;
  *m.mutable_header() = header;
  m.mutable_header()->set_edge_id("edge-a");
  v1::PushedBlock* pb = m.mutable_header()->add_blocks();
  pb->set_name(trained);
  pb->set_digest(std::string(64, 'f'));
  pb->set_replaces_digest(entry->digest);
  pb->set_bytes(209'700'000);
  writer->Write(m);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("canonical form is"), std::string::npos) << status.error_message();
  EXPECT_EQ(blocks_stored(), stored);
  EXPECT_EQ(cloud.registry().Head("edge-a")->version, 0u);
  // The canonical block with a sane change is accepted.
  auto accepted = client.PushUpdate(header, {{trained, entry->digest, with_value(0.5f)}});
  EXPECT_TRUE(accepted.ok()) << accepted.status();
}

// A half-precision foundation serves as it is: its blocks go out in F16 (or BF16), an edge computes in F32 and
// pushes F32 blocks, which the cloud checks like any other (finite, within the base's range) and keeps in F32.
TEST_F(CloudServiceTest, AHalfPrecisionModelServesItsBlocksAndTakesF32Pushes) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    const auto dir = dir_ / DTypeName(dtype);
    std::filesystem::create_directories(dir);
    Cloud cloud(dir, config_, dtype);
    const std::string token = cloud.Token("edge-a");
    CloudClient client = cloud.Client("edge-a", token);
    ASSERT_TRUE(client.Register(Registration("edge-a")).ok());
    auto plan = client.ReportProbes(Probes("edge-a", 0));
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::string trained = LastTrainedBlock(*plan);
    ASSERT_FALSE(trained.empty());
    const BlockEntry* entry = cloud.model().FindBlock(trained);
    ASSERT_GT(entry->f32_file_bytes, entry->file_bytes);
    BlockStore store((dir / "edge").string());
    ASSERT_TRUE(client.PullBlocks({entry->digest}, store).ok());
    auto file = *SafetensorsFile::FromBytes(*store.Read(entry->digest), "block");
    EXPECT_EQ(file->tensors()[0].dtype, dtype);  // served as stored

    v1::PushHeader header;
    header.set_plan_id(plan->plan_id());
    header.set_base_version(0);
    header.set_accuracy_before(0.4);
    header.set_accuracy_after(0.6);
    auto push = [&](const std::string& bytes) { return client.PushUpdate(header, {{trained, entry->digest, bytes}}); };
    // In its own dtype a non-finite value is found as in F32; an F32 block far beyond the half base is refused.
    std::string inf_block = *store.Read(entry->digest);
    {
      std::vector<std::string> data;
      std::vector<TensorView> views = file->tensors();
      for (TensorView& v : views) {
        data.emplace_back(reinterpret_cast<const char*>(v.data), v.size_bytes);
        v.data = reinterpret_cast<const uint8_t*>(data.back().data());
      }
      const uint16_t inf = dtype == DType::kF16 ? 0x7c00 : 0x7f80;
      std::memcpy(data[0].data(), &inf, 2);
      inf_block = *SerializeSafetensors(views, {});
    }
    auto refused_inf = push(inf_block);
    EXPECT_EQ(refused_inf.status().code(), absl::StatusCode::kInvalidArgument) << refused_inf.status();
    EXPECT_NE(refused_inf.status().message().find("non-finite"), std::string::npos) << refused_inf.status();
    auto refused_large = push(AsF32WithFirstValue(*file, 1e30f));
    EXPECT_NE(refused_large.status().message().find("beyond"), std::string::npos) << refused_large.status();
    EXPECT_EQ(cloud.registry().Head("edge-a")->version, 0u);

    const std::string pushed = AsF32WithFirstValue(*file, 0.125f);
    auto accepted = push(pushed);
    ASSERT_TRUE(accepted.ok()) << DTypeName(dtype) << ": " << accepted.status();
    auto head = cloud.registry().Head("edge-a");
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(head->version, 1u);
    for (const auto& [name, digest] : head->blocks) {
      if (name == trained) EXPECT_EQ(digest, Sha256Hex(pushed));  // kept in F32, as the edge computed it
    }
  }
}

// Issue 15 #2: a 3.2 MB report with 60k curve points cost 15.9 s of cloud CPU; window ids of 3.9 MB were stored.
TEST_F(CloudServiceTest, OversizedProbeReportsAreRefusedBeforeAnyWork) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  CloudClient client = cloud.Client("edge-a", token);
  ASSERT_TRUE(client.Register(Registration("edge-a")).ok());
  v1::ReportProbesRequest huge = Probes("edge-a", 0);
  for (int i = 0; i < 60'000; ++i) {
    v1::ProbePointMsg* p = huge.mutable_probes()->add_points();
    for (int k = 0; k < 5; ++k) p->add_shares(k == 4 ? 1.0 : 0.0);
    p->set_iterations(25 + i % 10);
    p->set_accuracy(0.6);
  }
  const auto start = std::chrono::steady_clock::now();
  auto refused = client.ReportProbes(huge);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("points: 60000 entries, at most"), std::string::npos) << refused.status();
  EXPECT_LT(seconds, 5.0) << "refused, but only after the work";
  v1::ReportProbesRequest long_id = Probes("edge-a", 0);
  long_id.set_window_id(std::string(1000, 'w'));
  EXPECT_EQ(client.ReportProbes(long_id).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(client.ReportProbes(Probes("edge-a", 0)).ok());  // and a normal report still plans
}

// Issue 15 #3: one PullBlocks naming one digest 60,000 times mapped the file 60,000 times, then failed INTERNAL with
// the server's absolute path in the message.
TEST_F(CloudServiceTest, PullBlocksSendsEachBlockOnceAndCapsTheRequest) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  const BlockEntry& layer = cloud.model().manifest().blocks[1];
  auto stub = v1::Cloud::NewStub(grpc::CreateChannel(cloud.address(), grpc::InsecureChannelCredentials()));
  uint64_t total = 0;  // the block file's size, as the chunks declare it
  auto pull = [&](int copies, uint64_t* bytes) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::PullBlocksRequest request;
    request.set_edge_id("edge-a");
    for (int i = 0; i < copies; ++i) request.add_blocks()->set_digest(layer.digest);
    auto reader = stub->PullBlocks(&context, request);
    v1::BlockChunk chunk;
    *bytes = 0;
    while (reader->Read(&chunk)) {
      *bytes += chunk.data().size();
      total = chunk.total_bytes();
    }
    return reader->Finish();
  };
  uint64_t bytes = 0;
  grpc::Status status = pull(4096, &bytes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(total, layer.bytes);  // tensors plus the safetensors header
  EXPECT_EQ(bytes, total);        // once, not 4096 times
  status = pull(60'000, &bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("at most"), std::string::npos) << status.error_message();
  EXPECT_EQ(status.error_message().find(dir_.string()), std::string::npos) << status.error_message();
}

// Issue 15 #9: a partial file longer than the block made every retry ask the cloud to resume past the end
// (OUT_OF_RANGE), so the edge never adopted a new version.
TEST_F(CloudServiceTest, APartialFileTheCloudCannotResumeIsDiscardedAndPulledAgain) {
  Cloud cloud(dir_, config_);
  const std::string token = cloud.Token("edge-a");
  ASSERT_TRUE(cloud.Client("edge-a", token).Register(Registration("edge-a")).ok());
  const BlockEntry& layer = cloud.model().manifest().blocks[1];
  BlockStore store((dir_ / "edge").string());
  std::filesystem::create_directories(store.ShardDir(layer.digest));
  ASSERT_TRUE(WriteFileAtomically(store.PartialPathFor(layer.digest), std::string(layer.bytes + 4096, 'j')).ok());
  auto pulled = cloud.Client("edge-a", token).PullBlocks({layer.digest}, store);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ASSERT_TRUE(store.Has(layer.digest));
  EXPECT_EQ(Sha256Hex(*store.Read(layer.digest)), layer.digest);
  EXPECT_FALSE(std::filesystem::exists(store.PartialPathFor(layer.digest)));
}

}  // namespace
}  // namespace bt
