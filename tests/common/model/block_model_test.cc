#include "common/model/block_model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/format/safetensors.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

VitConfig Tiny() { return fixtures::TinyVit(16, 2, 2, 32); }

std::unique_ptr<BlockModel> Make(uint64_t seed = 7) {
  auto model = CreateVitModel(Tiny(), seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name)).string();
}

TEST(BlockModel, UsesTorchvisionNamesAndCoversEveryParameter) {
  auto model = Make();
  ASSERT_EQ(model->num_blocks(), 4u);
  const TensorMap& params = model->parameters();
  for (const char* name : {"conv_proj.weight", "class_token", "encoder.pos_embedding",
                           "encoder.layers.encoder_layer_1.self_attention.in_proj_weight",
                           "encoder.layers.encoder_layer_1.self_attention.out_proj.bias",
                           "encoder.layers.encoder_layer_0.mlp.3.weight", "encoder.ln.bias", "heads.head.weight"}) {
    EXPECT_EQ(params.count(name), 1u) << name;
  }
  size_t in_blocks = 0;
  for (const BlockSpec& b : model->layout()) in_blocks += b.params.size();
  EXPECT_EQ(in_blocks, params.size());
  EXPECT_EQ(model->ParameterCount(), Tiny().ParameterCount());
}

TEST(BlockModel, SameSeedSameWeights) {
  auto a = Make(3), b = Make(3), c = Make(4);
  EXPECT_TRUE(a->parameters().at("conv_proj.weight").equal(b->parameters().at("conv_proj.weight")));
  EXPECT_FALSE(a->parameters().at("conv_proj.weight").equal(c->parameters().at("conv_proj.weight")));
}

TEST(BlockModel, ForwardRangeComposesToForward) {
  auto model = Make();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({3, 1, 28, 28});
  torch::Tensor full = model->Forward(x);
  torch::Tensor tokens = model->ForwardRange(x, 0, 2);
  EXPECT_EQ(tokens.sizes().vec(), (std::vector<int64_t>{3, 17, 16}));
  torch::Tensor pieces = model->ForwardRange(tokens, 2, model->num_blocks());
  EXPECT_EQ(full.sizes().vec(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(torch::allclose(full, pieces));
}

TEST(BlockModel, GetAndSetBlockMoveWeightsBetweenModels) {
  auto source = Make(1), target = Make(2);
  for (const BlockSpec& b : source->layout()) {
    auto tensors = source->GetBlock(b.name);
    ASSERT_TRUE(tensors.ok());
    ASSERT_TRUE(target->SetBlock(b.name, *tensors).ok());
  }
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(source->Forward(x), target->Forward(x)));
}

TEST(BlockModel, SetBlockRejectsBadTensorsAndChangesNothing) {
  auto model = Make();
  auto block = model->GetBlock("encoder_layer_0");
  ASSERT_TRUE(block.ok());
  torch::Tensor before = model->parameters().at("encoder.layers.encoder_layer_0.ln_1.weight").clone();

  TensorMap wrong_shape = *block;
  for (auto& [name, t] : wrong_shape) t = t + 1;  // would change the block if applied
  wrong_shape["encoder.layers.encoder_layer_0.mlp.0.bias"] = torch::zeros({31});
  auto status = model->SetBlock("encoder_layer_0", wrong_shape);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("mlp.0.bias"), std::string::npos) << status;
  EXPECT_TRUE(before.equal(model->parameters().at("encoder.layers.encoder_layer_0.ln_1.weight")));

  TensorMap wrong_dtype = *block;
  wrong_dtype["encoder.layers.encoder_layer_0.ln_1.weight"] = torch::ones({16}, torch::kFloat64);
  EXPECT_FALSE(model->SetBlock("encoder_layer_0", wrong_dtype).ok());

  TensorMap missing = *block;
  missing.erase(missing.begin());
  EXPECT_FALSE(model->SetBlock("encoder_layer_0", missing).ok());

  TensorMap extra = *block;
  extra["heads.head.bias"] = torch::zeros({10});
  EXPECT_FALSE(model->SetBlock("encoder_layer_0", extra).ok());

  EXPECT_FALSE(model->SetBlock("encoder_layer_9", *block).ok());
}

TEST(BlockModel, FreezingIsPerBlock) {
  auto model = Make();
  model->SetAllTrainable(false);
  ASSERT_TRUE(model->SetTrainable("encoder_layer_1", true).ok());
  EXPECT_FALSE(model->IsTrainable(0));
  EXPECT_TRUE(model->IsTrainable(2));
  auto trainable = model->TrainableParameters();
  EXPECT_EQ(trainable.size(), 12u);
  int64_t count = 0;
  for (const auto& t : trainable) count += t.numel();
  int64_t h = 16, m = 32;
  EXPECT_EQ(count, 4 * h + 3 * h * h + 3 * h + h * h + h + h * m + m + m * h + h);
  EXPECT_FALSE(model->SetTrainable("nope", true).ok());
}

TEST(BlockModel, SaveLoadRoundTripKeepsLogitsAndDigests) {
  auto model = Make();
  std::string path = TempPath("model.safetensors");
  ASSERT_TRUE(model->Save(path).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(model->Forward(x), (*loaded)->Forward(x)));

  auto m1 = model->Manifest("m");
  auto m2 = (*loaded)->Manifest("m");
  ASSERT_TRUE(m1.ok() && m2.ok());
  for (size_t b = 0; b < m1->blocks.size(); ++b) EXPECT_EQ(m1->blocks[b].digest, m2->blocks[b].digest);

  // Two saves of the same weights are byte-identical.
  std::string again = TempPath("again.safetensors");
  ASSERT_TRUE((*loaded)->Save(again).ok());
  auto f1 = SafetensorsFile::Open(path);
  auto f2 = SafetensorsFile::Open(again);
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_EQ(std::filesystem::file_size(path), std::filesystem::file_size(again));
  std::filesystem::remove(path);
  std::filesystem::remove(again);
}

// Without BlockTrainer metadata a checkpoint must at least look like a torchvision ViT (or be an HF directory).
TEST(BlockModel, LoadRejectsCheckpointsWithoutAnArchitectureToReadOrInfer) {
  std::string path = TempPath("noarch.safetensors");
  float value = 1.0f;
  TensorView v;
  v.name = "x";
  v.shape = {1};
  v.data = reinterpret_cast<const uint8_t*>(&value);
  v.size_bytes = 4;
  ASSERT_TRUE(WriteSafetensors(path, {v}).ok());
  auto loaded = LoadModel(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("no BlockTrainer metadata"), std::string::npos) << loaded.status();
  EXPECT_NE(loaded.status().message().find("conv_proj.weight"), std::string::npos) << loaded.status();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace bt
