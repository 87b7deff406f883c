// The spool directory: a camera process drops images (PNG or PGM, any size) and optionally a `labels.csv` of
// `file,label` lines; the spool converts each image to the model's input size, appends it to the sample buffer and
// deletes it. A file that cannot be used (not an image, damaged, bad label) is moved to `rejected/` next to a
// `<name>.reason.txt`, and logged; it never stops the ingester. Cameras should write under a temporary name
// (leading '.' or a .tmp/.part suffix) and rename, since those names are skipped.
//
// Not thread-safe: one ingester per spool directory (the buffer itself is thread-safe). Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/status.h"
#include "edge/intake/sample_buffer.h"

namespace bt {

struct SpoolOptions {
  std::string dir;           // the spool directory (created if missing)
  int height = 28;           // model input size
  int width = 28;
  int num_classes = 10;      // labels must be in [0, num_classes)
};

struct SpoolScanResult {
  int accepted = 0;
  int rejected = 0;
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

  SpoolOptions options_;
  SampleBuffer* buffer_;
  std::function<int64_t()> clock_;
};

}  // namespace bt
