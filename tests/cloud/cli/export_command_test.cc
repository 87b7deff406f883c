// `bt-cloud export` of foundations a user brought: a decoder leaves as an HF-style directory (config.json,
// model.safetensors, tokenizer.model) that loads as it is; a foreign ViT leaves with the architecture the cloud
// resolved for it (its own file had none), so it loads without the config's hints.
#include "cloud/cli/export_command.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/base/file_util.h"
#include "common/model/block_model.h"

namespace bt {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(BT_SOURCE_DIR) + "/tests/fixtures/";

// A cloud data directory whose registry knows `edge` at the foundation (version 0).
void RegisterAtFoundation(const CloudConfig& config, const std::string& edge) {
  auto store = ModelStore::Open(config.ModelPath(), config.model.name, config.model.Hints());
  ASSERT_TRUE(store.ok()) << store.status();
  BlockDigests foundation;
  for (const BlockEntry& b : (*store)->manifest().blocks) foundation.emplace_back(b.name, b.digest);
  auto registry = Registry::Open(config.cloud.data_dir + "/blocktrainer.db");
  ASSERT_TRUE(registry.ok()) << registry.status();
  EdgeRecord record;
  record.id = edge;
  ASSERT_TRUE((*registry)->RegisterEdge(record, foundation, 1).ok());
}

TEST(ExportCommand, ADecoderLeavesAsAnHfDirectoryThatLoadsAsItIs) {
  const std::string root = ::testing::TempDir() + "/export_decoder";
  fs::remove_all(root);
  fs::create_directories(root + "/model");
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(kFixtures + "llama_tiny/" + f, root + "/model/" + f);
  ASSERT_TRUE(WriteFileAtomically(root + "/model/tokenizer.model", "tokenizer bytes").ok());
  CloudConfig config;
  config.cloud.data_dir = root;
  config.model.family = "llama";
  config.model.path = root + "/model";
  RegisterAtFoundation(config, "edge-1");
  auto exported = ExportVersion(config, "edge-1", std::nullopt, root + "/out");
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->blocks, 4u);
  EXPECT_FALSE(fs::exists(root + "/out.partial"));
  EXPECT_EQ(*ReadFileToString(root + "/out/tokenizer.model"), "tokenizer bytes");
  auto original = LoadModel(root + "/model");
  auto loaded = LoadModel(root + "/out");
  ASSERT_TRUE(original.ok() && loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->arch(), (*original)->arch());
  for (const auto& [name, t] : (*original)->parameters()) {
    EXPECT_TRUE(torch::equal(t, (*loaded)->parameters().at(name))) << name;
  }
}

TEST(ExportCommand, AForeignViTLeavesWithItsResolvedArchitecture) {
  const std::string root = ::testing::TempDir() + "/export_foreign";
  fs::remove_all(root);
  fs::create_directories(root + "/model");
  for (const char* f : {"model.safetensors", "preprocessor_config.json"}) {
    fs::copy_file(kFixtures + "foreign_vit/" + f, root + "/model/" + f);
  }
  CloudConfig config;
  config.cloud.data_dir = root;
  config.model.path = root + "/model/model.safetensors";
  config.model.architecture.num_heads = 4;  // what the tensors cannot say
  RegisterAtFoundation(config, "edge-1");
  auto exported = ExportVersion(config, "edge-1", std::nullopt, root + "/exported.safetensors");
  ASSERT_TRUE(exported.ok()) << exported.status();
  auto loaded = LoadModel(root + "/exported.safetensors");  // no hints, no preprocessor_config.json beside it
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const VitConfig arch = *(*loaded)->arch().vit();
  EXPECT_EQ(arch.num_heads, 4);
  EXPECT_NEAR(arch.image_mean.at(0), 0.286, 1e-3);
  EXPECT_NEAR(arch.image_std.at(0), 0.353, 1e-3);
}

}  // namespace
}  // namespace bt
