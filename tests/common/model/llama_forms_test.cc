// The decoder family through the same composed-model machinery as the ViT: train@s proxies keep query heads within
// their key/value groups (GQA) and SwiGLU units, and write back bit-exactly into the kept rows and columns; LoRA
// adapters start at the layer's own output and merge exactly; cost probes offer the forms on decoder layers only;
// a retraining window on a toy next-token task learns it.
#include <gtest/gtest.h>

#include "common/data/dataset.h"
#include "common/model/block_model.h"
#include "common/model/block_probe.h"
#include "common/model/composed_model.h"
#include "edge/window/retrain_engine.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

using fixtures::TinyDecoder;


std::unique_ptr<BlockModel> Randomised(const LlamaConfig& c, uint64_t seed = 3) {
  auto model = *CreateLlamaModel(c, seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model->parameters()) p.add_(torch::randn_like(p) * 0.3);
  return model;
}

torch::Tensor Ids(int64_t n, int64_t t, int64_t vocab, uint64_t seed = 1) {
  torch::manual_seed(seed);
  return torch::randint(0, vocab, {n, t}, torch::kInt64);
}

// Sequences where each token is the previous one plus a fixed step (mod vocab): next-token prediction is learnable.
ImageDataset CountingTask(int64_t n, int64_t t, int64_t vocab, int64_t step, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor start = torch::randint(0, vocab, {n, 1}, torch::kInt64);
  torch::Tensor seq = (start + step * torch::arange(t + 1, torch::kInt64).unsqueeze(0)).remainder(vocab);
  return {seq.slice(1, 0, t).contiguous(), seq.slice(1, 1, t + 1).contiguous()};
}

TEST(LlamaForms, GqaProxyKeepsQueryHeadsWithinEveryGroupAndWritesBackBitExactly) {
  const LlamaConfig c = TinyDecoder();
  auto base = Randomised(c);
  std::vector<BlockChoice> choices(base->num_blocks());
  choices[2] = BlockChoice::Proxy(0.5);  // layer_1
  auto composed = ComposedModel::Create(*base, choices);
  ASSERT_TRUE(composed.ok()) << composed.status();
  // One query head of each group's two, both key/value heads, 24 of 48 SwiGLU units.
  std::vector<int64_t> shapes;
  for (const torch::Tensor& t : (*composed)->BlockTensors(2)) shapes.push_back(t.numel());
  const int64_t h = 32, d = 8;
  const int64_t expected = 2 * h + 2 * d * h /*q*/ + 2 * (2 * d * h) /*k, v*/ + h * 2 * d /*o*/ + 3 * 24 * h;
  EXPECT_EQ((*composed)->TrainableCount(2), expected);
  torch::Tensor ids = Ids(3, 9, c.vocab_size);
  EXPECT_EQ((*composed)->Forward(ids).sizes(), (std::vector<int64_t>{3, 9, c.vocab_size}));

  // Untrained, the written-back block is the block itself, bit for bit.
  const TensorMap before = *base->GetBlock("layer_1");
  auto untouched = (*composed)->TrainedBlocks(*base);
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  for (const auto& [name, t] : before) EXPECT_TRUE(torch::equal(untouched->at("layer_1").at(name), t)) << name;

  // Trained, exactly the kept rows and columns move.
  torch::optim::AdamW adam((*composed)->TrainableParameters(), torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    OutputLoss((*composed)->Forward(ids), Ids(3, 9, c.vocab_size, 2)).backward();
    adam.step();
  }
  auto trained = (*composed)->TrainedBlocks(*base);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const TensorMap& after = trained->at("layer_1");
  auto changed_rows = [&](const std::string& name, int64_t dim) {
    int64_t n = 0;
    for (int64_t i = 0; i < before.at(name).size(dim); ++i) {
      n += !torch::equal(after.at(name).select(dim, i), before.at(name).select(dim, i));
    }
    return n;
  };
  const std::string p = "model.layers.1.";
  EXPECT_EQ(changed_rows(p + "self_attn.q_proj.weight", 0), 2 * d);  // two heads' rows
  EXPECT_EQ(changed_rows(p + "self_attn.o_proj.weight", 1), 2 * d);
  EXPECT_EQ(changed_rows(p + "self_attn.k_proj.weight", 0), 2 * d);  // every key/value head is kept and trained
  EXPECT_EQ(changed_rows(p + "mlp.gate_proj.weight", 0), 24);
  EXPECT_EQ(changed_rows(p + "mlp.down_proj.weight", 1), 24);
  // Kept query heads: exactly one per group, and the rows that moved are whole heads.
  torch::Tensor moved = (after.at(p + "self_attn.q_proj.weight") != before.at(p + "self_attn.q_proj.weight"))
                            .any(1).view({4, d}).all(1);
  EXPECT_EQ(moved.slice(0, 0, 2).sum().item<int64_t>(), 1);
  EXPECT_EQ(moved.slice(0, 2, 4).sum().item<int64_t>(), 1);
}

TEST(LlamaForms, WithoutGroupsAProxyDropsWholeHeadsWithTheirKeysAndValues) {
  const LlamaConfig c = TinyDecoder(24, 4, 4);
  auto base = Randomised(c);
  std::vector<BlockChoice> choices(base->num_blocks());
  choices[1] = BlockChoice::Proxy(0.5);
  auto composed = ComposedModel::Create(*base, choices);
  ASSERT_TRUE(composed.ok()) << composed.status();
  const int64_t h = 32, d = 8;
  EXPECT_EQ((*composed)->TrainableCount(1), 2 * h + 4 * (2 * d * h) + 3 * 24 * h);
  torch::NoGradGuard no_grad;
  EXPECT_EQ((*composed)->Forward(Ids(2, 5, c.vocab_size)).sizes(), (std::vector<int64_t>{2, 5, c.vocab_size}));
}

TEST(LlamaForms, LoraStartsAsTheLayerAndMergesExactly) {
  const LlamaConfig c = TinyDecoder();
  auto base = Randomised(c);
  std::vector<BlockChoice> choices(base->num_blocks());
  choices[1] = BlockChoice::Lora();
  auto composed = ComposedModel::Create(*base, choices);
  ASSERT_TRUE(composed.ok()) << composed.status();
  torch::Tensor ids = Ids(3, 7, c.vocab_size);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose((*composed)->Forward(ids), base->Forward(ids), 1e-5, 1e-6));
  }
  EXPECT_EQ((*composed)->TrainableParameters().size(), 14u);  // A and B on seven projections
  torch::optim::AdamW adam((*composed)->TrainableParameters(), torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    OutputLoss((*composed)->Forward(ids), Ids(3, 7, c.vocab_size, 2)).backward();
    adam.step();
  }
  auto trained = (*composed)->TrainedBlocks(*base);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_TRUE(base->SetBlock("layer_0", trained->at("layer_0")).ok());
  torch::NoGradGuard no_grad;
  torch::Tensor composed_logits = (*composed)->Forward(ids);
  EXPECT_FALSE(torch::allclose(composed_logits, Randomised(c)->Forward(ids), 1e-4, 1e-5));  // it did train
  EXPECT_TRUE(torch::allclose(composed_logits, base->Forward(ids), 1e-4, 1e-5));
}

// Cost probes of the tiny decoder: one timed repeat, LoRA forms at 0.5 besides the proxies.
CostProbeOptions TinyProbeOptions() {
  CostProbeOptions options;
  options.repeats = 1;
  options.lora_sparsities = {0.5};
  return options;
}

TEST(LlamaForms, CostProbesOfferTheFormsOnDecoderLayersOnly) {
  const LlamaConfig c = TinyDecoder();
  auto base = Randomised(c);
  auto profiles = ProbeBlockCosts(*base, Ids(4, 16, c.vocab_size), TinyProbeOptions());
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  ASSERT_EQ(profiles->size(), 4u);
  auto has = [&](size_t k, const std::string& option) {
    for (const BlockOption& o : (*profiles)[k].options) {
      if (o.name() == option) return true;
    }
    return false;
  };
  EXPECT_FALSE(has(0, "train@0.50"));
  EXPECT_TRUE(has(1, "train@0.50"));
  EXPECT_TRUE(has(2, "lora@0.50"));
  EXPECT_FALSE(has(3, "lora@0.50"));
  EXPECT_TRUE(has(3, "train"));
  // The embedding dominates this model's parameters, as in real decoders' small configurations.
  EXPECT_EQ((*profiles)[0].parameters, c.vocab_size * c.hidden_size);
}

TEST(LlamaForms, TheLayersOfTheStackAreMeasuredOnceAndCostWhatEachCostsMeasuredAlone) {
  const LlamaConfig c = TinyDecoder();
  auto base = Randomised(c);
  CostProbeOptions options = TinyProbeOptions();
  options.share_equal_blocks = false;
  auto alone = ProbeBlockCosts(*base, Ids(4, 16, c.vocab_size), options);
  options.share_equal_blocks = true;
  auto shared = ProbeBlockCosts(*base, Ids(4, 16, c.vocab_size), options);
  ASSERT_TRUE(alone.ok()) << alone.status();
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_EQ(shared->size(), 4u);  // embed, layer_0, layer_1, head
  const BlockProfile& first = (*shared)[1];
  const BlockProfile& second = (*shared)[2];
  ASSERT_EQ(second.options.size(), first.options.size());
  ASSERT_EQ((*alone)[2].options.size(), first.options.size());
  for (size_t i = 0; i < first.options.size(); ++i) {
    SCOPED_TRACE(first.options[i].name());
    // Measured alone, the second layer costs the first's memory in every form: what makes sharing exact.
    EXPECT_EQ((*alone)[2].options[i].memory_bytes, (*alone)[1].options[i].memory_bytes);
    EXPECT_EQ((*alone)[2].options[i].activation_bytes, (*alone)[1].options[i].activation_bytes);
    EXPECT_EQ(second.options[i].memory_bytes, (*alone)[2].options[i].memory_bytes);
    // Shared, it takes the first layer's numbers, its times included (measured once).
    EXPECT_EQ(second.options[i].name(), first.options[i].name());
    EXPECT_EQ(second.options[i].seconds, first.options[i].seconds);
    EXPECT_EQ(second.options[i].share, first.options[i].share);
  }
  EXPECT_EQ(second.prefix_seconds, first.prefix_seconds);
  EXPECT_EQ(second.prefix_bytes, first.prefix_bytes);
  // The embedding and the head are blocks of their own kinds, measured each.
  EXPECT_EQ((*shared)[3].options[1].memory_bytes, (*alone)[3].options[1].memory_bytes);
  EXPECT_NE((*shared)[3].options[1].memory_bytes, first.options[1].memory_bytes);
  EXPECT_EQ((*shared)[0].options[1].memory_bytes, (*alone)[0].options[1].memory_bytes);
}

TEST(LlamaForms, ARetrainingWindowLearnsNextTokens) {
  const LlamaConfig c = TinyDecoder();
  auto deployed = *CreateLlamaModel(c, 7);
  RetrainOptions options;
  options.memory_budget = 256ull << 20;
  options.max_iterations = 120;
  options.batch = 32;
  options.learning_rate = 1e-2;
  options.eval_every = 20;
  std::vector<BlockChoice> plan(deployed->num_blocks(), BlockChoice::Train());
  auto result = RetrainWindow(*deployed, plan, CountingTask(160, 12, c.vocab_size, 5, 1), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->deployed);
  EXPECT_LT(result->accuracy_before, 0.2);
  EXPECT_GT(result->accuracy_after, 0.9);
  // A proxy plan goes through the same engine and is written back into full blocks before it is judged.
  std::vector<BlockChoice> proxies(deployed->num_blocks());
  proxies[1] = BlockChoice::Proxy(0.5);
  proxies[2] = BlockChoice::Proxy(0.5);
  proxies[3] = BlockChoice::Train();
  auto proxied = RetrainWindow(*deployed, proxies, CountingTask(160, 12, c.vocab_size, 5, 1), options);
  ASSERT_TRUE(proxied.ok()) << proxied.status();
  EXPECT_GT(proxied->iterations, 0);
}

}  // namespace
}  // namespace bt
