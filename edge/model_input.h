// What the served model reads — images of its input size and channels, or text in its tokenizer's ids — learned
// from the architecture bt-cloud announces and the tokenizer it sends at registration (a copy of the tokenizer is
// kept so that a restart without the cloud still reads text). The spool and the simulated camera ask it before
// they take a sample. Thread-safe (the cloud link learns, the intake and the window thread ask). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/status.h"
#include "common/format/safetensors.h"
#include "common/text/tokenizer.h"
#include "edge/intake/spool.h"

namespace bt {

class ModelInput {
 public:
  // `tokenizer_path`: where the copy of a text model's tokenizer is kept.
  explicit ModelInput(std::string tokenizer_path) : tokenizer_path_(std::move(tokenizer_path)) {}

  // From the model's architecture: images, or text with `tokenizer_bytes` (a serialized SentencePiece model), which
  // must parse and cover no more pieces than the vocabulary; `keep_copy` writes it to tokenizer_path() when it
  // differs. On an error what was known stays.
  absl::Status Learn(const Metadata& architecture, const std::string& tokenizer_bytes, bool keep_copy);
  // Learn() from the architecture and the kept tokenizer copy (a restart).
  absl::Status LearnFromKeptCopy(const Metadata& architecture);
  // Back to unknown: the samples wait.
  void Forget();

  // What the spool takes now; text samples of `sequence` tokens.
  SpoolInput ForSpool(int64_t sequence) const;
  // A text model's tokenizer; null for an image model or while unknown.
  std::shared_ptr<const Tokenizer> tokenizer() const;
  const std::string& tokenizer_path() const { return tokenizer_path_; }

 private:
  const std::string tokenizer_path_;
  mutable Mutex mu_;
  SpoolInput::Kind kind_ ABSL_GUARDED_BY(mu_) = SpoolInput::Kind::kUnknown;
  int image_size_ ABSL_GUARDED_BY(mu_) = 0;  // an image model's input: image_size² × image_channels
  int image_channels_ ABSL_GUARDED_BY(mu_) = 1;
  std::shared_ptr<const Tokenizer> tokenizer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bt
