// `bt-cloud export` of foundations a user brought: a decoder leaves as an HF-style directory (config.json,
// model.safetensors, tokenizer.model) that loads as it is; a foreign ViT leaves with the architecture the cloud
// resolved for it (its own file had none), so it loads without the config's hints.
#include "cloud/cli/export_command.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "common/format/block_store.h"
#include "common/format/half.h"
#include "common/model/block_model.h"
#include "tests/testing/test_models.h"

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

// A half-precision foundation leaves half precision: blocks the edge never changed as they are, a block the edge
// pushed in F32 rounded back to F16 (to nearest even); `--dtype f32` writes everything in F32, exactly.
TEST(ExportCommand, KeepsAHalfPrecisionModelsDtypeUnlessToldOtherwise) {
  const std::string root = ::testing::TempDir() + "/export_half";
  fs::remove_all(root);
  fs::create_directories(root);
  const VitConfig arch = fixtures::TinyVit(8, 2, 2, 16);
  fixtures::FakeWeights weights(arch, 5);
  std::vector<std::string> half_data;
  half_data.reserve(weights.views.size());
  std::vector<TensorView> half = weights.views;
  for (TensorView& v : half) {
    half_data.push_back(*ConvertFloatData(v, DType::kF16));
    v = {v.name, DType::kF16, v.shape, reinterpret_cast<const uint8_t*>(half_data.back().data()), half_data.back().size()};
  }
  ASSERT_TRUE(WriteSafetensors(root + "/half.safetensors", half, arch.ToMetadata()).ok());
  CloudConfig config;
  config.cloud.data_dir = root;
  config.model.path = root + "/half.safetensors";
  RegisterAtFoundation(config, "edge-1");

  // The edge's push: the head block in F32 with one value no F16 can hold exactly.
  auto model = ModelStore::Open(config.ModelPath(), config.model.name);
  ASSERT_TRUE(model.ok()) << model.status();
  const BlockEntry& head = (*model)->manifest().blocks.back();
  auto head_file = *SafetensorsFile::FromBytes(*(*model)->BlockBytes(head.name), "head");
  std::vector<std::string> f32_data;
  std::vector<TensorView> f32 = head_file->tensors();
  f32_data.reserve(f32.size());
  for (TensorView& v : f32) {
    f32_data.push_back(*ConvertFloatData(v, DType::kF32));
    v = {v.name, DType::kF32, v.shape, reinterpret_cast<const uint8_t*>(f32_data.back().data()), f32_data.back().size()};
  }
  const float trained_value = 0.1f;  // F16: 0.0999755859375
  std::memcpy(f32_data[0].data(), &trained_value, 4);
  const std::string pushed = *SerializeBlock(f32);
  auto blocks = BlockStore::Open(root + "/blocks");
  ASSERT_TRUE(blocks.ok());
  ASSERT_TRUE((*blocks)->Put(pushed, Sha256Hex(pushed)).ok());
  BlockDigests version;
  for (const BlockEntry& b : (*model)->manifest().blocks) {
    version.emplace_back(b.name, b.name == head.name ? Sha256Hex(pushed) : b.digest);
  }
  auto registry = Registry::Open(root + "/blocktrainer.db");
  ASSERT_TRUE(registry.ok());
  ASSERT_TRUE((*registry)->CommitVersion("edge-1", 0, 0, version, "test", "", 0.5, 0.6, 2).ok());

  auto kept = ExportVersion(config, "edge-1", std::nullopt, root + "/kept.safetensors");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->dtypes, "F16");
  auto as_f32 = ExportVersion(config, "edge-1", std::nullopt, root + "/f32.safetensors", {DType::kF32});
  ASSERT_TRUE(as_f32.ok()) << as_f32.status();
  EXPECT_EQ(as_f32->dtypes, "F32");
  auto kept_file = *SafetensorsFile::Open(root + "/kept.safetensors");
  auto f32_file = *SafetensorsFile::Open(root + "/f32.safetensors");
  const TensorView* trained_tensor = kept_file->Find(f32[0].name);
  ASSERT_NE(trained_tensor, nullptr);
  EXPECT_EQ(FloatValues(*trained_tensor)[0], HalfToFloat(FloatToHalf(trained_value)));
  EXPECT_EQ(FloatValues(*f32_file->Find(f32[0].name))[0], trained_value);
  for (const TensorView& original : half) {  // untouched tensors: F16 bit for bit, and exactly their value in F32
    if (original.name == f32[0].name) continue;
    const TensorView* k = kept_file->Find(original.name);
    ASSERT_NE(k, nullptr) << original.name;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(k->data), k->size_bytes),
              std::string(reinterpret_cast<const char*>(original.data), original.size_bytes)) << original.name;
    EXPECT_EQ(FloatValues(*f32_file->Find(original.name)), FloatValues(original)) << original.name;
  }
  // And the exported file loads for evaluation (half precision is computed in F32).
  auto loaded = LoadModel(root + "/kept.safetensors");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
}

}  // namespace
}  // namespace bt
