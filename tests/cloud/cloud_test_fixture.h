// What the cloud service's tests share: a cloud on loopback over a tiny torch-free ViT with its state in a temp dir
// (Cloud), the test fixture that makes one per test (CloudServiceTest), and block edits for pushes. Included by
// cloud_service_test.cc (planning, pulls, pushes) and cloud_streams_test.cc (admin calls, TLS, stream limits).
#pragma once

#include "cloud/cloud_service.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>
#include <utility>

#include "common/format/block_layout.h"
#include "common/format/half.h"
#include "common/plan/block_profile.h"
#include "common/format/safetensors.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/plan/window_plan.h"
#include "common/wire/grpc_status.h"
#include "common/wire/wire.h"
#include "edge/cloud_client.h"
#include "tests/testing/test_models.h"

namespace bt {

namespace v1 = blocktrainer::v1;

// Writes a checkpoint of a ViT with random weights (torch-free), in `dtype` (F32, F16 or BF16), and returns its path.
inline std::string WriteCheckpoint(const std::string& path, VitConfig config, DType dtype = DType::kF32) {
  fixtures::FakeWeights weights(config, 3);
  std::vector<TensorView> views = weights.views;
  std::vector<std::string> converted;
  converted.reserve(views.size());
  for (TensorView& v : views) {
    converted.push_back(*ConvertFloatData(v, dtype));
    v.dtype = dtype;
    v.data = reinterpret_cast<const uint8_t*>(converted.back().data());
    v.size_bytes = converted.back().size();
  }
  EXPECT_TRUE(WriteSafetensors(path, views, config.ToMetadata()).ok());
  return path;
}

// `file`'s tensors in F32 (what an edge pushes for a half-precision block), the first value replaced by `value`.
inline std::string AsF32WithFirstValue(const SafetensorsFile& file, float value) {
  std::vector<std::string> storage;
  storage.reserve(file.tensors().size());
  std::vector<TensorView> views = file.tensors();
  for (TensorView& v : views) {
    storage.push_back(*ConvertFloatData(v, DType::kF32));
    v.dtype = DType::kF32;
    v.data = reinterpret_cast<const uint8_t*>(storage.back().data());
    v.size_bytes = storage.back().size();
  }
  std::memcpy(storage[0].data(), &value, 4);
  return *SerializeSafetensors(views, {});
}

// `file`'s tensors with the first value of the first tensor replaced by `value`, serialised with `metadata`: a
// "retrained" block.
inline std::string WithFirstValue(const SafetensorsFile& file, float value, const Metadata& metadata = {}) {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorView> views = file.tensors();
  for (TensorView& v : views) {
    storage.emplace_back(v.data, v.data + v.size_bytes);
    v.data = storage.back().data();
  }
  std::memcpy(storage[0].data(), &value, 4);
  return *SerializeSafetensors(views, metadata);
}

// The first block a plan trains: its name and digest (both empty when it trains none).
inline std::pair<std::string, std::string> FirstTrainedBlock(const v1::PlanResponse& plan) {
  for (const v1::PlannedBlock& b : plan.blocks()) {
    if (b.option() != "frozen") return {b.name(), b.digest()};
  }
  return {};
}

// The last block a plan trains (empty when it trains none).
inline std::string LastTrainedBlock(const v1::PlanResponse& plan) {
  std::string trained;
  for (const v1::PlannedBlock& b : plan.blocks()) {
    if (b.option() != "frozen") trained = b.name();
  }
  return trained;
}

// A cloud on loopback with its state in a temp dir; Restart() keeps the state (a daemon restart).
class Cloud {
 public:
  Cloud(const std::filesystem::path& dir, const VitConfig& config, DType dtype = DType::kF32) : dir_(dir) {
    auto model = ModelStore::Open(WriteCheckpoint((dir / "m.safetensors").string(), config, dtype), "tiny");
    EXPECT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    blocks_ = *BlockStore::Open((dir / "blocks").string());
    registry_ = *Registry::Open((dir / "db.sqlite").string());
    laws_ = std::make_unique<LawStore>((dir / "edges").string());
    context_.model = model_.get();
    context_.blocks = blocks_.get();
    context_.registry = registry_.get();
    context_.laws = laws_.get();
    context_.model_name = "tiny";
    context_.admin_token_sha256 = Sha256Hex("the-admin-token");
    Restart();
  }
  void Restart() {
    server_.reset();
    auto server = CloudServer::Start("127.0.0.1:0", "127.0.0.1:0", &context_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  std::string Token(const std::string& edge) {
    const std::string token = "token-of-" + edge;
    EXPECT_TRUE(registry_->SetTokenHash(edge, Sha256Hex(token)).ok());
    return token;
  }
  CloudClient Client(const std::string& edge, const std::string& token) {
    return CloudClient(*MakeCloudChannel(address(), {}), edge, token);
  }
  CloudServer& server() { return *server_; }
  void SetClock(std::function<int64_t()> now) { context_.now = std::move(now); }
  // Takes effect with the next Restart() (the service reads them when it starts).
  void SetStreamLimits(std::chrono::milliseconds idle, size_t max_streams) {
    context_.stream_idle_timeout = idle;
    context_.max_streams = max_streams;
  }
  Registry& registry() { return *registry_; }
  const ModelStore& model() const { return *model_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<ModelStore> model_;
  std::unique_ptr<BlockStore> blocks_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<LawStore> laws_;
  CloudContext context_;
  std::unique_ptr<CloudServer> server_;
};

class CloudServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bt_cloud_test_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = fixtures::TinyVit(8, 2, 3, 16);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  v1::RegisterRequest Registration(const std::string& edge, uint64_t budget = 1ull << 30) {
    v1::RegisterRequest r;
    r.set_edge_id(edge);
    r.set_hardware("test");
    r.set_memory_budget_bytes(budget);
    return r;
  }

  // A probe report whose costs come from the analytic profile (what a real edge measures).
  v1::ReportProbesRequest Probes(const std::string& edge, uint64_t base_version, int64_t serving_version = -1) {
    ProbeReport report;
    report.costs = AnalyticProfile(VitLayerShapes(config_), ProfileOptions{});
    report.fixed_bytes = 1000;
    report.acc0 = 0.5;
    v1::ReportProbesRequest request;
    request.set_edge_id(edge);
    request.set_window_id("w1");
    request.set_base_version(base_version);
    request.set_serving_version(serving_version < 0 ? base_version : static_cast<uint64_t>(serving_version));
    request.set_train_seconds(1e6);
    ProbeReportToProto(report, request.mutable_probes());
    return request;
  }

  std::filesystem::path dir_;
  VitConfig config_;
};

}  // namespace bt
