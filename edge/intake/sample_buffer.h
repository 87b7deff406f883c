// The edge's sample buffer: the most recent input samples (an image's pixels or a text sequence's token ids,
// optional label, arrival time, source), bounded by count and bytes, kept in an append-only file so it survives
// restarts.
//
// File format: an 8-byte magic "BTSBUF01", then records of [u32 magic 'BTSR'][u32 payload length][u32 CRC-32 of
// payload][payload], little-endian. A payload is [i64 timestamp][i32 label][u16 height][u16 width][u8 channels]
// [u8 source length][source][data]: height × width × channels pixel bytes, or — channels 0, height and width 0 —
// a token sequence as u32 ids. A crash mid-append leaves at most one partial record at the tail; Open()
// keeps every complete, checksummed record before the first damaged one and truncates the rest, so the buffer is
// never unreadable and loses at most the sample being written. When the file holds twice the bound, it is
// compacted to the retained samples (temp file, fsync, rename).
//
// Thread-safe: appends from the simulator and the spool watcher may race with readers. Torch-free.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/base/mutex.h"
#include "common/base/status.h"

namespace bt {

struct Sample {
  int64_t timestamp_ms = 0;     // arrival time (ms since the epoch, or a simulated clock)
  int32_t label = -1;           // class index, -1 = unlabeled
  uint16_t height = 0;
  uint16_t width = 0;
  uint8_t channels = 1;         // 0: a text sample (`tokens`; height and width 0, no pixels)
  std::string source;           // where it came from, e.g. "scenario:fog" or "spool:cam-0001.png" (≤ 255 bytes)
  std::vector<uint8_t> pixels;  // height × width × channels, row-major, channel-last
  // Text: `sequence` + 1 token ids — the model reads the first `sequence`, each is followed by the next one. The
  // label is 0 (its next tokens may be trained on) or -1.
  std::vector<int32_t> tokens;

  bool labeled() const { return label >= 0; }
  bool text() const { return channels == 0; }
  bool operator==(const Sample& o) const;
};

struct SampleBufferOptions {
  std::string path;                      // the buffer file (created if missing)
  int64_t max_samples = 20000;           // keep at most this many recent samples
  uint64_t max_bytes = 64ull << 20;      // ... and at most this many bytes of records
  int64_t sync_every = 64;               // fdatasync after this many appends (1 = every append)
};

class SampleBuffer {
 public:
  // Opens (or creates) the buffer, recovering from a torn tail. Fails on a file that is not a buffer at all.
  static absl::StatusOr<std::unique_ptr<SampleBuffer>> Open(const SampleBufferOptions& options);
  ~SampleBuffer();

  // Appends one sample durably (a single write of the whole record). Evicts the oldest beyond the bounds.
  absl::Status Append(const Sample& sample);
  // Forces buffered appends to disk.
  absl::Status Sync();

  // The `n` most recent samples, oldest first (all when n exceeds the size).
  std::vector<Sample> Recent(size_t n) const;
  size_t size() const;
  uint64_t bytes() const;
  size_t labeled_count() const;
  // Bytes of damaged tail dropped by the last Open().
  uint64_t recovered_bytes() const { return recovered_bytes_; }

 private:
  SampleBuffer(SampleBufferOptions options, int fd) : options_(std::move(options)), fd_(fd) {}
  absl::Status Load();
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SampleBufferOptions options_;
  uint64_t recovered_bytes_ = 0;
  mutable Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  std::deque<Sample> samples_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;        // record bytes of retained samples
  uint64_t file_bytes_ ABSL_GUARDED_BY(mu_) = 0;   // current file size
  int64_t file_records_ ABSL_GUARDED_BY(mu_) = 0;  // records in the file (retained or evicted)
  int64_t unsynced_ ABSL_GUARDED_BY(mu_) = 0;
};

// Encodes one record (header + payload) as stored in the file; exposed for tests.
std::string EncodeSampleRecord(const Sample& sample);
// Why `sample` cannot be stored (pixel count, token ids, source length), or OK.
absl::Status ValidateSample(const Sample& sample);

// Longest text sample stored (token ids).
inline constexpr size_t kMaxSampleTokens = 1u << 16;

}  // namespace bt
