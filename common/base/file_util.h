// Small filesystem helpers with the durability rules the whole project follows: a file is written to a
// temporary name in the same directory, fsynced, renamed over the target and the directory fsynced, so a
// reader sees either the old file or the complete new one, never a half-written one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace bt {

// Writes `data` to `path` atomically (temp file + fsync + rename + directory fsync).
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);
// The same, the file created with `mode` (e.g. 0600 for a secret: it is never readable by others, not even briefly).
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, unsigned mode);

// Appends `data` to `path` (created if missing) and fsyncs it; a failed write is truncated away, so the file never
// ends in a partial record. For append-only logs such as results.jsonl (one writer at a time).
absl::Status AppendToFileDurably(const std::string& path, std::string_view data);

// `n` bytes from the kernel's random source (/dev/urandom), for tokens.
absl::StatusOr<std::string> ReadRandomBytes(size_t n);

// Reads a whole file into memory.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// A read-only memory mapping of a whole file. Immutable after creation and therefore thread-safe.
// The mapping lives as long as the object; views into data() must not outlive it.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace bt
