// A small SentencePiece tokenizer trained on a fixed text (deterministic: the same model bytes every run), for
// tests that turn text into token ids without a corpus on disk.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/text/tokenizer.h"

namespace bt::fixtures {

inline std::vector<std::string> TinyTokenizerText() {
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i) {
    lines.push_back("In the beginning the light of day fell upon the waters, and it was good. " + std::to_string(i));
    lines.push_back("def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) + "  # code");
    lines.push_back("#include <stdio.h>\nint main(void) { return " + std::to_string(i) + "; }");
  }
  return lines;
}

// vocab_size pieces (byte fallback included).
inline std::shared_ptr<const Tokenizer> TinyTokenizer(int64_t vocab_size = 320) {
  TokenizerTraining options;
  options.vocab_size = vocab_size;
  auto bytes = TrainTokenizer(TinyTokenizerText(), options);
  if (!bytes.ok()) return nullptr;
  auto tokenizer = Tokenizer::FromBytes(*bytes, "fixtures::TinyTokenizer");
  if (!tokenizer.ok()) return nullptr;
  return std::shared_ptr<const Tokenizer>(std::move(*tokenizer));
}

}  // namespace bt::fixtures
