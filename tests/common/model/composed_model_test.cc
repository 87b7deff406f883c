#include "common/model/composed_model.h"
#include "common/model/proxy.h"

#include <gtest/gtest.h>

#include "common/model/block_probe.h"
#include "common/model/memory_meter.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

VitConfig Tiny() { return fixtures::TinyVit(16, 4, 2, 32); }

// A model whose head is not zero (torchvision zero-initialises it), so every block affects the logits.
std::unique_ptr<BlockModel> Randomised(const VitConfig& c) {
  auto model = *CreateVitModel(c, 2);
  torch::manual_seed(4);
  for (const BlockSpec& block : model->layout()) {
    TensorMap tensors = *model->GetBlock(block.name);
    for (auto& [name, t] : tensors) t = t + 0.1 * torch::randn_like(t);
    EXPECT_TRUE(model->SetBlock(block.name, tensors).ok());
  }
  return model;
}

TEST(ComposedModel, TrainsOnlyThePlannedParametersAndMatchesTheBaseForward) {
  const VitConfig c = Tiny();
  auto base = Randomised(c);
  std::vector<BlockChoice> choices(base->num_blocks());
  choices[2] = {BlockChoice::Kind::kTrain, 0};  // encoder_layer_1
  choices[3] = {BlockChoice::Kind::kFrozen, 0};
  auto composed = ComposedModel::Create(*base, choices);
  ASSERT_TRUE(composed.ok()) << composed.status();
  EXPECT_EQ((*composed)->first_trainable(), 2);
  torch::Tensor x = torch::randn({4, 1, 28, 28});
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose((*composed)->Forward(x), base->Forward(x)));
  }
  auto params = (*composed)->TrainableParameters();
  EXPECT_EQ(params.size(), 12u);
  torch::optim::SGD sgd(params, 0.1);
  torch::Tensor loss = (*composed)->Forward(x).pow(2).sum();
  loss.backward();
  sgd.step();
  // The base model is untouched; only the composed copy's planned block moved.
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(torch::allclose((*composed)->Forward(x), base->Forward(x)));
  for (const auto& p : params) EXPECT_TRUE(p.grad().defined());
}

TEST(ComposedModel, ProxiesOnlyForEncoderLayers) {
  const VitConfig c = Tiny();
  auto base = *CreateVitModel(c, 2);
  std::vector<BlockChoice> choices(base->num_blocks());
  choices[0] = {BlockChoice::Kind::kProxy, 0.5};
  EXPECT_FALSE(ComposedModel::Create(*base, choices).ok());
  choices[0] = {};
  choices[1] = {BlockChoice::Kind::kProxy, 0.5};
  auto composed = ComposedModel::Create(*base, choices);
  ASSERT_TRUE(composed.ok()) << composed.status();
  auto spec = SelectProxyByMagnitude(*base->GetBlock("encoder_layer_0"), 0, Tiny(), 0.5);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->heads.size(), 2u);
  EXPECT_EQ((*composed)->TrainableCount(1), ProxyParameterCount(Tiny(), *spec));
  torch::NoGradGuard no_grad;
  EXPECT_EQ((*composed)->Forward(torch::randn({2, 1, 28, 28})).sizes().vec(), (std::vector<int64_t>{2, 10}));
}

// A LoRA block starts out as the original layer, trains only its adapters, and its exported block (adapters merged,
// written back into the kept rows/columns when on a proxy) computes exactly what the composed model computed.
TEST(ComposedModel, LoraTrainsOnlyAdaptersAndMergesExactly) {
  const VitConfig c = Tiny();
  auto base = Randomised(c);
  for (double sparsity : {0.0, 0.5}) {
    SCOPED_TRACE(sparsity);
    std::vector<BlockChoice> choices(base->num_blocks());
    choices[1] = {BlockChoice::Kind::kLora, sparsity};
    choices[3] = {BlockChoice::Kind::kTrain, 0};  // the head
    auto composed = ComposedModel::Create(*base, choices);
    ASSERT_TRUE(composed.ok()) << composed.status();
    torch::Tensor x = torch::randn({4, 1, 28, 28});
    if (sparsity == 0) {
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(torch::allclose((*composed)->Forward(x), base->Forward(x), 1e-5, 1e-6));
    }
    // Four adapters (A and B each) plus the head block's final norm and linear layer (weight and bias each); the
    // layer's own weights are frozen.
    auto params = (*composed)->TrainableParameters();
    ASSERT_EQ(params.size(), 12u);
    const TensorMap layer_before = *base->GetBlock("encoder_layer_0");
    int64_t adapter_values = 0, head_values = 0, layer_values = 0;
    for (const torch::Tensor& t : params) adapter_values += t.numel();
    const TensorMap head_block = *base->GetBlock(base->layout()[3].name);
    for (const auto& [name, t] : head_block) head_values += t.numel();
    for (const auto& [name, t] : layer_before) layer_values += t.numel();
    adapter_values -= head_values;
    EXPECT_GT(adapter_values, 0);
    EXPECT_LT(adapter_values, layer_values / 2);
    torch::optim::AdamW adam(params, torch::optim::AdamWOptions(1e-2));
    for (int step = 0; step < 3; ++step) {
      adam.zero_grad();
      (*composed)->Forward(x).pow(2).mean().backward();
      adam.step();
    }
    auto trained = (*composed)->TrainedBlocks(*base);
    ASSERT_TRUE(trained.ok()) << trained.status();
    ASSERT_EQ(trained->size(), 2u);
    auto merged = Randomised(c);
    for (const auto& [name, tensors] : *trained) ASSERT_TRUE(merged->SetBlock(name, tensors).ok());
    torch::NoGradGuard no_grad;
    torch::Tensor composed_logits = (*composed)->Forward(x);
    if (sparsity == 0) {
      EXPECT_TRUE(torch::allclose(composed_logits, merged->Forward(x), 1e-4, 1e-5));
    } else {
      // The proxy's kept heads/units moved; the layer's other rows are bit-identical to the base.
      const TensorMap& after = trained->at("encoder_layer_0");
      const std::string w = LayerPrefix(0) + "mlp.0.weight";
      const auto kept = SelectProxyByMagnitude(layer_before, 0, c, sparsity)->mlp_units;
      int64_t unchanged_rows = 0;
      for (int64_t row = 0; row < c.mlp_dim; ++row) {
        if (torch::equal(after.at(w)[row], layer_before.at(w)[row])) ++unchanged_rows;
      }
      EXPECT_EQ(unchanged_rows, c.mlp_dim - static_cast<int64_t>(kept.size()));
      EXPECT_FALSE(torch::equal(after.at(w), layer_before.at(w)));
    }
  }
  std::vector<BlockChoice> stem(base->num_blocks());
  stem[0] = {BlockChoice::Kind::kLora, 0};
  EXPECT_FALSE(ComposedModel::Create(*base, stem).ok());  // the stem has no LoRA form
  EXPECT_EQ(ChoiceFromName("lora")->kind, BlockChoice::Kind::kLora);
  EXPECT_EQ(ChoiceFromName("lora@0.50")->sparsity, 0.5);
  EXPECT_EQ((BlockChoice{BlockChoice::Kind::kLora, 0.25}).Name(), "lora@0.25");
  EXPECT_FALSE(ChoiceFromName("lora@1").ok());
}

TEST(CostProbe, ProfilesEveryBlockAndPredictsARealPeak) {
  const VitConfig c = Tiny();
  auto base = *CreateVitModel(c, 2);
  torch::Tensor inputs = torch::randn({8, 1, 28, 28});
  CostProbeOptions options;
  options.repeats = 1;
  options.sparsities = {0.5};
  auto profiles = ProbeBlockCosts(*base, inputs, options);
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  ASSERT_EQ(profiles->size(), 4u);
  EXPECT_EQ((*profiles)[1].options.size(), 3u);  // frozen, train, train@0.50
  EXPECT_EQ((*profiles)[0].options.size(), 2u);
  EXPECT_EQ((*profiles)[1].options[0].name(), "frozen");
  EXPECT_GT((*profiles)[1].options[1].memory_bytes, (*profiles)[1].options[0].memory_bytes);
  EXPECT_LT((*profiles)[1].options[2].share, 1.0);
  EXPECT_EQ(ChoiceFromName("train@0.50")->sparsity, 0.5);
  EXPECT_FALSE(ChoiceFromName("train@2").ok());

  // LoRA forms, when asked for: cheaper to train than the layer itself (no optimiser state for its weights).
  options.lora_sparsities = {0, 0.5};
  auto with_lora = ProbeBlockCosts(*base, inputs, options);
  ASSERT_TRUE(with_lora.ok()) << with_lora.status();
  ASSERT_EQ((*with_lora)[1].options.size(), 5u);  // frozen, train, train@0.50, lora, lora@0.50
  const BlockOption& lora = (*with_lora)[1].options[3];
  EXPECT_EQ(lora.name(), "lora");
  EXPECT_TRUE(lora.trainable);
  EXPECT_LT(lora.share, 0.5);
  EXPECT_LT(lora.memory_bytes, (*with_lora)[1].options[1].memory_bytes);
  EXPECT_EQ((*with_lora)[0].options.size(), 2u);  // the stem has no LoRA form

  // Train the plan "layer 1 onward trainable" and compare its measured peak with the prediction.
  MemoryMeter& meter = MemoryMeter::Install();
  std::vector<size_t> option_index = {0, 1, 1, 1};
  std::vector<BlockChoice> choices = {{}, {BlockChoice::Kind::kTrain, 0}, {BlockChoice::Kind::kTrain, 0},
                                      {BlockChoice::Kind::kTrain, 0}};
  const int64_t before = meter.current_bytes();
  meter.ResetPeak();
  {
    auto composed = *ComposedModel::Create(*base, choices);
    torch::optim::AdamW adam(composed->TrainableParameters(), torch::optim::AdamWOptions(1e-3));
    for (int step = 0; step < 2; ++step) {
      adam.zero_grad();
      composed->Forward(inputs).pow(2).mean().backward();
      adam.step();
    }
  }
  const double measured = static_cast<double>(meter.peak_bytes() - before);
  const double predicted = static_cast<double>(PredictPeakBytes(*profiles, option_index, 1));
  EXPECT_NEAR(predicted / measured, 1.0, 0.25) << predicted << " vs " << measured;
}

}  // namespace
}  // namespace bt

namespace bt {
namespace {

TEST(ComposedModel, Int8PrefixBlocksStayCloseToF32AndUseLessMemory) {
  const VitConfig c = fixtures::TinyVit(32, 4, 3, 64);
  auto base = *CreateVitModel(c, 2);
  torch::manual_seed(4);
  for (const BlockSpec& block : base->layout()) {  // a non-zero head, so logits carry information
    TensorMap tensors = *base->GetBlock(block.name);
    for (auto& [name, t] : tensors) t = t + 0.1 * torch::randn_like(t);
    ASSERT_TRUE(base->SetBlock(block.name, tensors).ok());
  }
  std::vector<BlockChoice> choices(base->num_blocks());
  choices.back() = {BlockChoice::Kind::kTrain, 0};  // everything before the head is prefix
  MemoryMeter& meter = MemoryMeter::Install();
  const int64_t before_f32 = meter.current_bytes();
  auto f32 = *ComposedModel::Create(*base, choices);
  const int64_t f32_bytes = meter.current_bytes() - before_f32;
  ComposeOptions int8_options;
  int8_options.int8_prefix = true;
  const int64_t before_int8 = meter.current_bytes();
  auto int8 = *ComposedModel::Create(*base, choices, int8_options);
  const int64_t int8_bytes = meter.current_bytes() - before_int8;
  EXPECT_LT(int8_bytes, f32_bytes / 2) << int8_bytes << " vs " << f32_bytes;

  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({16, 1, 28, 28});
  torch::Tensor a = f32->Forward(x), b = int8->Forward(x);
  // Stated tolerance: int8 weight-only prefix blocks move logits by at most 2% of their range here.
  const double range = (a.max() - a.min()).item<double>();
  EXPECT_LT((a - b).abs().max().item<double>(), 0.02 * range);
  EXPECT_GT((a - b).abs().max().item<double>(), 0.0) << "int8 must actually be in use";
}

}  // namespace
}  // namespace bt
