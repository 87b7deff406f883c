// LlamaConfig: HF config.json in (with clear errors for what is not implemented), metadata round trip, the block
// layout's tensor names and GQA shapes.
#include "common/format/llama_config.h"

#include <gtest/gtest.h>

#include "common/format/block_layout.h"
#include "common/format/model_arch.h"

namespace bt {
namespace {

const char* kTiny = R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64,
  "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "bos_token_id": 1, "torch_dtype": "float32"})";

std::string With(const std::string& extra) {
  std::string s = kTiny;
  s.pop_back();
  return s + ", " + extra + "}";
}

TEST(LlamaConfig, ParsesHfConfigWithItsDefaults) {
  auto c = LlamaConfig::FromConfigJson(kTiny, "tiny/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 8);  // hidden_size / num_attention_heads
  EXPECT_EQ(c->QueriesPerKeyValue(), 2);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_FALSE(c->tie_word_embeddings);
  // Without num_key_value_heads every query head has its own (HF's default).
  auto mha = LlamaConfig::FromConfigJson(R"({"model_type": "llama", "vocab_size": 8, "hidden_size": 8,
      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2})", "x");
  ASSERT_TRUE(mha.ok()) << mha.status();
  EXPECT_EQ(mha->num_key_value_heads, 2);
}

TEST(LlamaConfig, UnknownAndUnsupportedFieldsAreErrorsNamingTheFieldAndFile) {
  struct Case {
    std::string json, needle;
  };
  for (const Case& c : std::vector<Case>{
           {With(R"("sliding_window": 4096)"), "'sliding_window' is not a field BlockTrainer knows"},
           {With(R"("rope_scaling": {"type": "linear", "factor": 2.0})"), "'rope_scaling'"},
           {With(R"("hidden_act": "gelu")"), "'hidden_act'"},
           {With(R"("attention_bias": true)"), "'attention_bias'"},
           {With(R"("num_key_value_heads": 3)"), "num_key_value_heads: 3 does not divide num_attention_heads 4"},
           {With(R"("tie_word_embeddings": "yes")"), "'tie_word_embeddings'"},
           {R"({"model_type": "mistral", "vocab_size": 8})", "'model_type' is \"mistral\""},
           {R"({"model_type": "llama", "vocab_size": 8})", "'hidden_size' is missing"},
           {"{not json", "not valid JSON"}}) {
    auto parsed = LlamaConfig::FromConfigJson(c.json, "m/config.json");
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_NE(parsed.status().message().find("m/config.json"), std::string::npos) << parsed.status();
    EXPECT_NE(parsed.status().message().find(c.needle), std::string::npos) << parsed.status();
  }
}

TEST(LlamaConfig, MetadataAndConfigJsonRoundTrip) {
  auto c = LlamaConfig::FromConfigJson(With(R"("rope_theta": 500000.0, "tie_word_embeddings": true)"), "x");
  ASSERT_TRUE(c.ok()) << c.status();
  auto back = LlamaConfig::FromMetadata(c->ToMetadata());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == *c);
  auto again = LlamaConfig::FromConfigJson(c->ToConfigJson(), "written");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *c);
  auto arch = ModelArch::FromMetadata(c->ToMetadata());
  ASSERT_TRUE(arch.ok()) << arch.status();
  EXPECT_EQ(arch->family(), "llama");
  EXPECT_EQ(arch->num_layers(), 2);
}

TEST(LlamaConfig, LayoutNamesHfTensorsWithGqaShapes) {
  auto c = LlamaConfig::FromConfigJson(kTiny, "x");
  ASSERT_TRUE(c.ok());
  std::vector<BlockSpec> layout = LlamaBlockLayout(*c);
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[0].name, "embed");
  EXPECT_EQ(layout[1].name, "layer_0");
  EXPECT_EQ(layout[3].name, "head");
  int64_t total = 0;
  for (const BlockSpec& b : layout) {
    for (const ParamSpec& p : b.params) {
      int64_t n = 1;
      for (int64_t d : p.shape) n *= d;
      total += n;
      if (p.name == "model.layers.1.self_attn.k_proj.weight") EXPECT_EQ(p.shape, (std::vector<int64_t>{16, 32}));
      if (p.name == "model.layers.1.self_attn.q_proj.weight") EXPECT_EQ(p.shape, (std::vector<int64_t>{32, 32}));
      if (p.name == "model.layers.1.mlp.down_proj.weight") EXPECT_EQ(p.shape, (std::vector<int64_t>{32, 48}));
    }
  }
  EXPECT_EQ(total, c->ParameterCount());
  EXPECT_EQ(layout[3].params.size(), 2u);  // model.norm + lm_head
  c->tie_word_embeddings = true;
  EXPECT_EQ(LlamaBlockLayout(*c)[3].params.size(), 1u);  // the tied matrix stays in embed
}

}  // namespace
}  // namespace bt
