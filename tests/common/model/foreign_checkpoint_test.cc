// A user's checkpoint loads as it is: a torchvision VisionTransformer trained with its own normalisation, saved with
// torchvision's tensor names and no BlockTrainer metadata, beside an HF-style preprocessor_config.json
// (tests/fixtures/make_foreign_vit_fixture.py). Its architecture is inferred from the tensors (num_heads, which
// shapes no tensor, from the config), its preprocessing travels with it, and it scores what torchvision scored.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/base/file_util.h"
#include "common/data/dataset.h"
#include "common/format/safetensors.h"
#include "common/model/block_model.h"
#include "common/model/tensor_convert.h"
#include "common/train/trainer.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

const std::string kFixture = std::string(BT_SOURCE_DIR) + "/tests/fixtures/foreign_vit/";
const std::string kFashionMnist = "/usr/share/datasets/fashion-mnist";

ArchitectureHints Hints(int64_t heads = 4) {
  ArchitectureHints hints;
  hints.vit = VitConfig{};
  hints.vit->num_heads = heads;
  return hints;
}

double TorchvisionAccuracy() {
  auto text = ReadFileToString(kFixture + "torchvision_accuracy.json");
  EXPECT_TRUE(text.ok());
  return nlohmann::json::parse(*text)["accuracy"].get<double>();
}

double Accuracy(BlockModel& model) {
  static const ImageDataset test = *LoadFashionMnist(kFashionMnist, "test");
  auto r = Evaluate(&model, test);
  EXPECT_TRUE(r.ok()) << r.status();
  return r->accuracy();
}

// The fixture's tensors with `edit` applied, written to a fresh directory (without preprocessor_config.json).
std::string Rewritten(const std::string& name, const std::function<void(std::map<std::string, torch::Tensor>&)>& edit,
                      DType dtype = DType::kF32) {
  auto file = SafetensorsFile::Open(kFixture + "model.safetensors");
  EXPECT_TRUE(file.ok());
  std::map<std::string, torch::Tensor> tensors;
  for (const TensorView& v : (*file)->tensors()) tensors[v.name] = *ToTensor(v);
  edit(tensors);
  std::vector<torch::Tensor> keep;
  std::vector<TensorView> views;
  for (const auto& [n, t] : tensors) {
    keep.push_back(t.to(*ToTorchDtype(dtype)).contiguous());
    views.push_back(*ViewOf(n, keep.back()));
  }
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", views, {{"format", "pt"}}).ok());
  return dir + "/model.safetensors";
}

TEST(ForeignCheckpoint, ATorchvisionViTLoadsAsItIsAndScoresWhatTorchvisionScored) {
  auto model = LoadModel(kFixture + "model.safetensors", Hints());
  ASSERT_TRUE(model.ok()) << model.status();
  const VitConfig arch = *(*model)->arch().vit();
  EXPECT_EQ(arch.hidden_dim, 32);  // all read from the tensors
  EXPECT_EQ(arch.num_layers, 2);
  EXPECT_EQ(arch.mlp_dim, 64);
  EXPECT_EQ(arch.patch_size, 7);
  EXPECT_EQ(arch.image_size, 28);
  EXPECT_NEAR(arch.image_mean.at(0), 0.286, 1e-3);  // from preprocessor_config.json
  EXPECT_NEAR(arch.image_std.at(0), 0.353, 1e-3);
  const double ours = Accuracy(**model), theirs = TorchvisionAccuracy();
  std::cout << "foreign ViT: BlockTrainer " << 100 * ours << "%, torchvision " << 100 * theirs << "%\n";
  EXPECT_NEAR(ours, theirs, 0.001);  // within 0.1 point

  // Saved by BlockTrainer, the preprocessing is in the metadata: it loads without hints or the JSON file.
  const std::string ours_path = ::testing::TempDir() + "/foreign_as_ours.safetensors";
  ASSERT_TRUE((*model)->Save(ours_path).ok());
  auto back = LoadModel(ours_path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->arch(), (*model)->arch());
}

TEST(ForeignCheckpoint, PreprocessingIsPartOfTheModelAndTheConfigOverridesIt) {
  // Without preprocessor_config.json BlockTrainer's default (x − 0.5) / 0.5 applies, and the model scores less.
  const std::string bare = Rewritten("bare", [](auto&) {});
  auto plain = LoadModel(bare, Hints());
  ASSERT_TRUE(plain.ok()) << plain.status();
  const double plain_accuracy = Accuracy(**plain);
  EXPECT_LT(plain_accuracy, TorchvisionAccuracy() - 0.005);
  // model.preprocess in YAML gives it back.
  ArchitectureHints hints = Hints();
  hints.image_mean = {0.28604060411453247};
  hints.image_std = {0.3530242443084717};
  auto configured = LoadModel(bare, hints);
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_NEAR(Accuracy(**configured), TorchvisionAccuracy(), 0.001);
}

TEST(ForeignCheckpoint, HalfPrecisionLoadsAndComputesInF32) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    const std::string path = Rewritten(DTypeName(dtype), [](auto&) {}, dtype);
    std::filesystem::copy_file(kFixture + "preprocessor_config.json",
                               std::filesystem::path(path).parent_path() / "preprocessor_config.json",
                               std::filesystem::copy_options::overwrite_existing);
    auto model = LoadModel(path, Hints());
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->parameters().at("conv_proj.weight").scalar_type(), torch::kFloat32);
    EXPECT_NEAR(Accuracy(**model), TorchvisionAccuracy(), dtype == DType::kF16 ? 0.003 : 0.01) << DTypeName(dtype);
  }
}

TEST(ForeignCheckpoint, MismatchesAndMissingFactsAreClearErrors) {
  // num_heads shapes no tensor: without it from the config the load says so.
  auto no_heads = LoadModel(kFixture + "model.safetensors");
  ASSERT_FALSE(no_heads.ok());
  EXPECT_NE(no_heads.status().message().find("num_heads"), std::string::npos) << no_heads.status();
  // A layer whose MLP differs from what layer 0 implies: named, with both shapes.
  const std::string odd = Rewritten("odd", [](auto& t) {
    t["encoder.layers.encoder_layer_1.mlp.0.weight"] = torch::zeros({48, 32});
  });
  auto mismatch = LoadModel(odd, Hints());
  ASSERT_FALSE(mismatch.ok());
  const std::string message(mismatch.status().message());
  EXPECT_NE(message.find("encoder.layers.encoder_layer_1.mlp.0.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[48x32]"), std::string::npos) << message;
  EXPECT_NE(message.find("[64x32]"), std::string::npos) << message;
  // A tensor of no block, and a head count that does not divide the width.
  const std::string extra = Rewritten("extra", [](auto& t) { t["encoder.extra"] = torch::zeros({2}); });
  auto unknown = LoadModel(extra, Hints());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("encoder.extra"), std::string::npos) << unknown.status();
  EXPECT_FALSE(LoadModel(kFixture + "model.safetensors", Hints(3)).ok());
}

}  // namespace
}  // namespace bt
