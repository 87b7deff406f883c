// Text to token ids and back, with SentencePiece (Debian's libsentencepiece; the format LLaMA checkpoints ship as
// tokenizer.model). Training is deterministic: the same sentences and options give the same model bytes (one
// thread, input in the given order, no sampling). Models are trained lossless — identity normalisation, whitespace
// kept, no dummy prefix, byte fallback — so Decode(Encode(text)) == text for any UTF-8 text, code included.
//
// Torch-free; SentencePiece stays inside tokenizer.cc. A Tokenizer is immutable after Open and safe to share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct TokenizerTraining {
  int64_t vocab_size = 2048;
  std::string model_type = "unigram";   // or "bpe"
  int64_t max_sentence_length = 8192;   // bytes; longer lines are split before training
};

class Tokenizer {
 public:
  ~Tokenizer();
  // A serialized SentencePiece model (tokenizer.model); `source` names it in errors.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Open(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromBytes(std::string serialized, const std::string& source);

  std::vector<int32_t> Encode(std::string_view text) const;
  // Fails on an id outside the vocabulary.
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids) const;
  int64_t vocab_size() const;
  int32_t eos_id() const;  // separates documents in a token stream
  const std::string& serialized() const { return serialized_; }

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string serialized_;
};

// Trains a model on `sentences` (lines of text) and returns its serialized bytes (write them as tokenizer.model).
absl::StatusOr<std::string> TrainTokenizer(const std::vector<std::string>& sentences, const TokenizerTraining& options);

}  // namespace bt
