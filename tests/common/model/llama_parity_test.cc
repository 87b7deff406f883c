// Parity with Hugging Face's LlamaForCausalLM: the fixture is an HF model directory (config.json with GQA and
// untied embeddings, model.safetensors without BlockTrainer metadata) plus token ids and the logits of a reference
// forward written in plain PyTorch from HF's formulas (tests/fixtures/make_llama_fixture.py, Debian's python3-torch).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/base/file_util.h"
#include "common/format/safetensors.h"
#include "common/model/block_model.h"
#include "common/model/tensor_convert.h"
#include "tests/testing/test_models.h"

namespace bt {
namespace {

const std::string kFixtures = std::string(BT_SOURCE_DIR) + "/tests/fixtures/";

struct Io {
  torch::Tensor ids, logits;
};

Io LoadIo() {
  auto io = SafetensorsFile::Open(kFixtures + "llama_tiny_io.safetensors");
  EXPECT_TRUE(io.ok()) << io.status();
  return {*ToTensor(*(*io)->Find("input_ids")), *ToTensor(*(*io)->Find("logits"))};
}

double MaxDiff(BlockModel& model, const Io& io) {
  torch::NoGradGuard no_grad;
  model.SetTrainingMode(false);
  torch::Tensor logits = model.Forward(io.ids);
  EXPECT_EQ(logits.sizes(), io.logits.sizes());
  return (logits - io.logits).abs().max().item<double>();
}

TEST(LlamaParity, AnHfDirectoryLoadsAsItIsAndItsLogitsMatchTheReference) {
  auto model = LoadModel(kFixtures + "llama_tiny");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->arch().family(), "llama");
  EXPECT_EQ((*model)->num_blocks(), 4u);
  const Io io = LoadIo();
  const double diff = MaxDiff(**model, io);
  std::cout << "max |ours - reference| logits: " << diff << "\n";
  EXPECT_LT(diff, 1e-4);
  EXPECT_GT(io.logits.std().item<double>(), 0.5);  // not a trivial fixture
  // Block by block gives the same as the whole forward (the edge runs prefixes under no-grad).
  torch::NoGradGuard no_grad;
  torch::Tensor x = io.ids;
  for (size_t k = 0; k < (*model)->num_blocks(); ++k) x = (*model)->ForwardRange(x, k, k + 1);
  EXPECT_TRUE(x.allclose((*model)->Forward(io.ids)));
}

TEST(LlamaParity, OurCheckpointRoundTripsAndIsSelfDescribing) {
  // A model of our own (not the fixture's weights), saved with its logits: the reverse direction is
  //   make_llama_fixture.py check $TEST_TMPDIR/llama_ours.safetensors $TEST_TMPDIR/llama_ours_io.safetensors
  auto fixture = LoadModel(kFixtures + "llama_tiny");
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  auto model = CreateModel((*fixture)->arch(), 5);
  ASSERT_TRUE(model.ok()) << model.status();
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : (*model)->parameters()) p.mul_(p.dim() == 2 ? 10.0 : 1.5);  // logits far from uniform
  const Io io{LoadIo().ids, (*model)->Forward(LoadIo().ids)};
  const std::string path = ::testing::TempDir() + "/llama_ours.safetensors";
  ASSERT_TRUE((*model)->Save(path).ok());
  std::vector<TensorView> views = {*ViewOf("input_ids", io.ids.contiguous()), *ViewOf("logits", io.logits.contiguous())};
  ASSERT_TRUE(WriteSafetensors(::testing::TempDir() + "/llama_ours_io.safetensors", views).ok());
  auto back = LoadModel(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->arch(), (*model)->arch());
  EXPECT_EQ(MaxDiff(**back, io), 0.0);
  EXPECT_GT(io.logits.std().item<double>(), 0.5);
}

TEST(LlamaParity, ACausalModelIgnoresTheFuture) {
  auto model = LoadModel(kFixtures + "llama_tiny");
  ASSERT_TRUE(model.ok());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = LoadIo().ids.clone();
  torch::Tensor before = (*model)->Forward(ids);
  ids.select(1, ids.size(1) - 1).fill_(7);  // change only the last token
  torch::Tensor after = (*model)->Forward(ids);
  const int64_t t = ids.size(1);
  EXPECT_TRUE(before.slice(1, 0, t - 1).allclose(after.slice(1, 0, t - 1), 1e-6, 1e-6));
  EXPECT_FALSE(before.slice(1, t - 1).allclose(after.slice(1, t - 1)));
}

TEST(LlamaParity, AShapeMismatchNamesTheTensorAndBothShapes) {
  const std::string dir = ::testing::TempDir() + "/llama_bad";
  std::filesystem::create_directories(dir);
  auto config = ReadFileToString(kFixtures + "llama_tiny/config.json");
  ASSERT_TRUE(config.ok());
  // Claim 4 key/value heads where the weights have 2.
  std::string text = *config;
  const std::string from = "\"num_key_value_heads\": 2";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "\"num_key_value_heads\": 4");
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", text).ok());
  std::filesystem::copy_file(kFixtures + "llama_tiny/model.safetensors", dir + "/model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  auto model = LoadModel(dir);
  ASSERT_FALSE(model.ok());
  const std::string message(model.status().message());
  EXPECT_NE(message.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[16x32]"), std::string::npos) << message;
  EXPECT_NE(message.find("[32x32]"), std::string::npos) << message;
}

TEST(LlamaParity, TiedEmbeddingsShareTheMatrixAndRoundTrip) {
  LlamaConfig c = fixtures::TinyDecoder(16);
  c.tie_word_embeddings = true;
  auto model = CreateLlamaModel(c, 3);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->ParameterCount(), c.ParameterCount());
  EXPECT_EQ((*model)->parameters().count("lm_head.weight"), 0u);
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, 16, {2, 5}, torch::kInt64);
  torch::Tensor logits = (*model)->Forward(ids);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 5, 16}));
  // Changing the embedding changes the head's output too: it is the same matrix.
  const size_t head = (*model)->num_blocks() - 1;
  torch::Tensor hidden = (*model)->ForwardRange(ids, 0, head);
  (*model)->parameters().at("model.embed_tokens.weight").mul_(2);
  EXPECT_TRUE((*model)->ForwardRange(hidden, head, head + 1).allclose(logits * 2, 1e-5, 1e-5));
  const std::string path = ::testing::TempDir() + "/llama_tied.safetensors";
  ASSERT_TRUE((*model)->Save(path).ok());
  auto back = LoadModel(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE((*back)->Forward(ids).equal((*model)->Forward(ids)));
}

}  // namespace
}  // namespace bt
