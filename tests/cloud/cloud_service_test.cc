#include "cloud/cloud_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/block_layout.h"
#include "common/safetensors.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

namespace v1 = blocktrainer::v1;

// Writes a checkpoint of a tiny ViT with random weights (torch-free) and returns its path.
std::string WriteTinyCheckpoint(const std::string& path, VitConfig config) {
  fixtures::FakeWeights weights(config, 3);
  EXPECT_TRUE(WriteSafetensors(path, weights.views, config.ToMetadata()).ok());
  return path;
}

class CloudServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("bt_cloud_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    config_ = fixtures::TinyVit(8, 2, 3, 16);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  VitConfig config_;
};

TEST_F(CloudServiceTest, ServesStatusAndManifestOverLoopback) {
  auto store = ModelStore::Open(WriteTinyCheckpoint((dir_ / "m.safetensors").string(), config_), "tiny");
  ASSERT_TRUE(store.ok()) << store.status();
  auto server = CloudServer::Start("127.0.0.1:0", store->get(), "tiny");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Cloud::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &response).ok());
    EXPECT_EQ(response.model_name(), "tiny");
    EXPECT_EQ(response.block_count(), 5u);  // embed + 3 layers + head
    EXPECT_EQ(response.parameter_count(), static_cast<uint64_t>(config_.ParameterCount()));
  }
  {
    grpc::ClientContext context;
    v1::Manifest manifest;
    ASSERT_TRUE(stub->GetManifest(&context, v1::GetManifestRequest(), &manifest).ok());
    ASSERT_EQ(manifest.blocks_size(), 5);
    for (int b = 0; b < manifest.blocks_size(); ++b) {
      EXPECT_EQ(manifest.blocks(b).name(), (*store)->manifest().blocks[b].name);
      EXPECT_EQ(manifest.blocks(b).digest(), (*store)->manifest().blocks[b].digest);
    }
    EXPECT_EQ(manifest.blocks(4).params_size(), 4);
  }
  (*server)->Stop();
}

TEST_F(CloudServiceTest, OpeningABadModelNamesTheFile) {
  auto missing = ModelStore::Open((dir_ / "none.safetensors").string(), "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("none.safetensors"), std::string::npos);

  // Architecture metadata that disagrees with the tensors.
  std::string path = WriteTinyCheckpoint((dir_ / "m.safetensors").string(), config_);
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok());
  VitConfig wrong = config_;
  wrong.num_layers = 4;
  ASSERT_TRUE(WriteSafetensors((dir_ / "wrong.safetensors").string(), (*file)->tensors(), wrong.ToMetadata()).ok());
  auto mismatched = ModelStore::Open((dir_ / "wrong.safetensors").string(), "x");
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("encoder_layer_3"), std::string::npos) << mismatched.status();
}

TEST_F(CloudServiceTest, BusyPortIsAClearError) {
  auto store = ModelStore::Open(WriteTinyCheckpoint((dir_ / "m.safetensors").string(), config_), "tiny");
  ASSERT_TRUE(store.ok());
  auto first = CloudServer::Start("127.0.0.1:0", store->get(), "tiny");
  ASSERT_TRUE(first.ok());
  auto second = CloudServer::Start("127.0.0.1:" + std::to_string((*first)->port()), store->get(), "tiny");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace bt
