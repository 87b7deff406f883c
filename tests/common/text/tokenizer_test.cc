// The SentencePiece tokenizer: deterministic training, a lossless round trip (code and odd whitespace included), and
// clear errors for a file that is not a model or an id outside the vocabulary.
#include "common/text/tokenizer.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

std::vector<std::string> Prose() {
  std::vector<std::string> lines;
  const char* words[] = {"the", "light", "of", "day", "and", "night", "was", "upon", "waters", "earth", "heaven",
                         "said", "unto", "them", "behold", "in", "beginning", "created", "form", "void"};
  uint32_t x = 12345;
  for (int i = 0; i < 400; ++i) {
    std::string line;
    for (int w = 0; w < 12; ++w) {
      x = x * 1103515245u + 12345u;
      line += (w ? " " : "") + std::string(words[(x >> 16) % 20]);
    }
    lines.push_back(line + ".");
  }
  return lines;
}

TEST(Tokenizer, TrainingIsDeterministicAndTheRoundTripIsLossless) {
  TokenizerTraining options;
  options.vocab_size = 300;
  auto a = TrainTokenizer(Prose(), options);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = TrainTokenizer(Prose(), options);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto tok = Tokenizer::FromBytes(*a, "trained");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_GE(tok->get()->vocab_size(), 256);  // byte fallback alone is 256 pieces
  for (const std::string text : {std::string("the light of day"), std::string("  def f(x):\n\treturn x ** 2  # é ü\n"),
                                 std::string("#include <stdio.h>\n\nint main(void) { return 0; }\n"),
                                 std::string(" leading and trailing ")}) {
    std::vector<int32_t> ids = tok->get()->Encode(text);
    ASSERT_FALSE(ids.empty());
    auto back = tok->get()->Decode(ids);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
  }
  // Prose it was trained on takes fewer tokens than bytes; unseen code falls back towards bytes.
  EXPECT_LT(tok->get()->Encode("behold the waters of heaven").size(), 14u);
}

TEST(Tokenizer, BadModelsAndIdsAreErrors) {
  EXPECT_FALSE(Tokenizer::FromBytes("not a model", "x").ok());
  EXPECT_FALSE(Tokenizer::Open("/nonexistent/tokenizer.model").ok());
  TokenizerTraining options;
  options.vocab_size = 300;
  auto tok = Tokenizer::FromBytes(*TrainTokenizer(Prose(), options), "trained");
  ASSERT_TRUE(tok.ok());
  EXPECT_FALSE(tok->get()->Decode({1, 1 << 20}).ok());
  EXPECT_FALSE(tok->get()->Decode({-1}).ok());
  options.vocab_size = 4;
  EXPECT_FALSE(TrainTokenizer(Prose(), options).ok());
}

}  // namespace
}  // namespace bt
