// The spool directory: a camera process drops images (PNG or PGM, any size) and optionally a `labels.csv` of
// `file,label` lines; the spool converts each image to the model's input size, appends it to the sample buffer and
// deletes it. When the served model reads text, every file is a document instead (plain text, gzip, HTML or roff,
// as corpora are read: common/text/corpus.h): tokenized by the model's tokenizer and cut into samples of
// `sequence` tokens plus the next one; a file shorter than one sample, or with NUL bytes (binary), is rejected.
// Until the daemon knows which the model reads (before its first registration), files wait in the spool. A file that cannot be used (not an image, damaged, bad label) is moved to `rejected/` next to a
// `<name>.reason.txt`, and logged; it never stops the ingester. Cameras should write under a temporary name
// (leading '.' or a .tmp/.part suffix) and rename, since those names are skipped.
//
// Not thread-safe: one ingester per spool directory (the buffer itself is thread-safe). Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/text/tokenizer.h"
#include "edge/intake/sample_buffer.h"

namespace bt {

// What the served model reads, asked at every scan.
struct SpoolInput {
  enum class Kind { kUnknown, kImages, kText };
  Kind kind = Kind::kImages;
  int height = 0, width = 0, channels = 1;      // kImages: the model's input (0: SpoolOptions' height × width)
  std::shared_ptr<const Tokenizer> tokenizer;  // kText
  int64_t sequence = 64;                        // kText: tokens a sample holds (plus the next one)
};

struct SpoolOptions {
  std::string dir;           // the spool directory (created if missing)
  int height = 28;           // model input size, unless SpoolInput says
  int width = 28;
  int num_classes = 10;      // labels must be in [0, num_classes)
  std::function<SpoolInput()> input;  // null: always images
};

struct SpoolScanResult {
  int accepted = 0;   // files
  int rejected = 0;
  int64_t samples = 0;  // samples stored (a text file gives several)
};

class Spool {
 public:
  // `buffer` must outlive the spool. `clock` gives sample timestamps (ms); default: wall clock.
  static absl::StatusOr<std::unique_ptr<Spool>> Create(const SpoolOptions& options, SampleBuffer* buffer,
                                                       std::function<int64_t()> clock = nullptr);
  // Ingests every image currently in the spool, oldest name first. Fails only if the buffer cannot be written
  // (the image then stays in the spool for the next scan).
  absl::StatusOr<SpoolScanResult> ScanOnce();

 private:
  Spool(SpoolOptions options, SampleBuffer* buffer, std::function<int64_t()> clock)
      : options_(std::move(options)), buffer_(buffer), clock_(std::move(clock)) {}
  void Reject(const std::string& name, const std::string& reason);
  // One file's samples: an image's one, or a text file's sequences. A bad file is an error naming the reason.
  absl::StatusOr<std::vector<Sample>> ImageSamples(const std::string& name,
                                                   const std::map<std::string, std::string>& labels,
                                                   const SpoolInput& input) const;
  absl::StatusOr<std::vector<Sample>> TextSamples(const std::string& name, const SpoolInput& input) const;

  SpoolOptions options_;
  SampleBuffer* buffer_;
  std::function<int64_t()> clock_;
};

}  // namespace bt
