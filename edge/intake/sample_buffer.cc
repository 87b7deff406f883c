#include "edge/intake/sample_buffer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "common/base/file_util.h"

namespace bt {
namespace {

constexpr char kFileMagic[8] = {'B', 'T', 'S', 'B', 'U', 'F', '0', '1'};
constexpr uint32_t kRecordMagic = 0x52535442;  // "BTSR" little-endian
constexpr size_t kRecordHeader = 12;
constexpr uint32_t kMaxPayload = 64u << 20;

void Put32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Put16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}
uint32_t Get32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24); }
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t Crc(const void* data, size_t size) {
  return static_cast<uint32_t>(crc32(0L, static_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

// Decodes a payload; false if its fields are inconsistent.
bool DecodePayload(const uint8_t* p, size_t n, Sample* s) {
  if (n < 8 + 4 + 2 + 2 + 1 + 1) return false;
  uint64_t ts = 0;
  for (int i = 7; i >= 0; --i) ts = (ts << 8) | p[i];
  s->timestamp_ms = static_cast<int64_t>(ts);
  s->label = static_cast<int32_t>(Get32(p + 8));
  s->height = Get16(p + 12);
  s->width = Get16(p + 14);
  s->channels = p[16];
  size_t source_len = p[17];
  size_t offset = 18;
  if (offset + source_len > n) return false;
  s->source.assign(reinterpret_cast<const char*>(p + offset), source_len);
  offset += source_len;
  if (s->channels == 0) {
    const size_t count = (n - offset) / 4;
    if (s->height != 0 || s->width != 0 || (n - offset) % 4 != 0 || count < 2 || count > kMaxSampleTokens) return false;
    s->tokens.resize(count);
    for (size_t i = 0; i < count; ++i) {
      const uint32_t id = Get32(p + offset + 4 * i);
      if (id > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) return false;
      s->tokens[i] = static_cast<int32_t>(id);
    }
    return true;
  }
  size_t pixels = size_t{s->height} * s->width * s->channels;
  if (offset + pixels != n) return false;
  s->pixels.assign(p + offset, p + n);
  return true;
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

bool Sample::operator==(const Sample& o) const {
  return timestamp_ms == o.timestamp_ms && label == o.label && height == o.height && width == o.width &&
         channels == o.channels && source == o.source && pixels == o.pixels && tokens == o.tokens;
}

absl::Status ValidateSample(const Sample& s) {
  if (s.source.size() > 255) return absl::InvalidArgumentError("sample: source longer than 255 bytes");
  if (s.text()) {
    if (s.height != 0 || s.width != 0 || !s.pixels.empty()) {
      return absl::InvalidArgumentError("text sample: has pixels or an image size");
    }
    if (s.tokens.size() < 2 || s.tokens.size() > kMaxSampleTokens) {
      return absl::InvalidArgumentError(
          absl::StrCat("text sample: ", s.tokens.size(), " token ids (expected 2 to ", kMaxSampleTokens, ")"));
    }
    for (int32_t id : s.tokens) {
      if (id < 0) return absl::InvalidArgumentError(absl::StrCat("text sample: negative token id ", id));
    }
    return absl::OkStatus();
  }
  if (!s.tokens.empty()) return absl::InvalidArgumentError("image sample: has token ids");
  if (s.pixels.size() != size_t{s.height} * s.width * s.channels) {
    return absl::InvalidArgumentError("sample: pixel count does not match height × width × channels");
  }
  return absl::OkStatus();
}

std::string EncodeSampleRecord(const Sample& s) {
  std::string payload;
  uint64_t ts = static_cast<uint64_t>(s.timestamp_ms);
  for (int i = 0; i < 8; ++i) payload.push_back(static_cast<char>((ts >> (8 * i)) & 0xff));
  Put32(static_cast<uint32_t>(s.label), &payload);
  Put16(s.height, &payload);
  Put16(s.width, &payload);
  payload.push_back(static_cast<char>(s.channels));
  std::string source = s.source.substr(0, 255);
  payload.push_back(static_cast<char>(source.size()));
  payload += source;
  payload.append(reinterpret_cast<const char*>(s.pixels.data()), s.pixels.size());
  for (int32_t id : s.tokens) Put32(static_cast<uint32_t>(id), &payload);
  std::string record;
  Put32(kRecordMagic, &record);
  Put32(static_cast<uint32_t>(payload.size()), &record);
  Put32(Crc(payload.data(), payload.size()), &record);
  return record + payload;
}

absl::StatusOr<std::unique_ptr<SampleBuffer>> SampleBuffer::Open(const SampleBufferOptions& options) {
  if (options.max_samples < 1) return absl::InvalidArgumentError("sample buffer: max_samples must be at least 1");
  if (options.sync_every < 1) return absl::InvalidArgumentError("sample buffer: sync_every must be at least 1");
  int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot open sample buffer", options.path);
  std::unique_ptr<SampleBuffer> buffer(new SampleBuffer(options, fd));
  RETURN_IF_ERROR(buffer->Load());
  return buffer;
}

SampleBuffer::~SampleBuffer() {
  MutexLock lock(&mu_);
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

absl::Status SampleBuffer::Load() {
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::string data, ReadFileToString(options_.path));
  if (data.empty()) {
    RETURN_IF_ERROR(WriteAll(fd_, std::string(kFileMagic, 8), options_.path));
    if (::fdatasync(fd_) != 0) return Errno("cannot sync", options_.path);
    file_bytes_ = 8;
    return absl::OkStatus();
  }
  if (data.size() < 8) {
    // Only a torn magic can be this short: the file was being created when the process died.
    if (std::memcmp(data.data(), kFileMagic, data.size()) != 0) {
      return absl::DataLossError(absl::StrCat("'", options_.path, "' is not a sample buffer"));
    }
    if (::ftruncate(fd_, 0) != 0) return Errno("cannot truncate", options_.path);
    recovered_bytes_ = data.size();
    RETURN_IF_ERROR(WriteAll(fd_, std::string(kFileMagic, 8), options_.path));
    file_bytes_ = 8;
    return absl::OkStatus();
  }
  if (std::memcmp(data.data(), kFileMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat("'", options_.path, "' is not a sample buffer (bad magic)"));
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t offset = 8;
  while (offset + kRecordHeader <= data.size()) {
    uint32_t magic = Get32(p + offset), length = Get32(p + offset + 4), crc = Get32(p + offset + 8);
    if (magic != kRecordMagic || length > kMaxPayload || offset + kRecordHeader + length > data.size()) break;
    const uint8_t* payload = p + offset + kRecordHeader;
    Sample sample;
    if (Crc(payload, length) != crc || !DecodePayload(payload, length, &sample)) break;
    bytes_ += kRecordHeader + length;
    samples_.push_back(std::move(sample));
    ++file_records_;
    offset += kRecordHeader + length;
  }
  if (offset < data.size()) {
    recovered_bytes_ = data.size() - offset;
    spdlog::warn("sample buffer {}: dropped {} bytes of damaged tail after {} intact samples", options_.path,
                 recovered_bytes_, samples_.size());
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) return Errno("cannot truncate", options_.path);
    if (::fdatasync(fd_) != 0) return Errno("cannot sync", options_.path);
  }
  file_bytes_ = offset;
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) return Errno("cannot seek", options_.path);
  EvictLocked();
  return absl::OkStatus();
}

void SampleBuffer::EvictLocked() {
  while (!samples_.empty() &&
         (static_cast<int64_t>(samples_.size()) > options_.max_samples || bytes_ > options_.max_bytes)) {
    const Sample& oldest = samples_.front();
    bytes_ -= kRecordHeader + 18 + oldest.source.size() + oldest.pixels.size() + 4 * oldest.tokens.size();
    samples_.pop_front();
  }
}

absl::Status SampleBuffer::Append(const Sample& sample) {
  RETURN_IF_ERROR(ValidateSample(sample));
  std::string record = EncodeSampleRecord(sample);
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(WriteAll(fd_, record, options_.path));
  file_bytes_ += record.size();
  ++file_records_;
  bytes_ += record.size();
  samples_.push_back(sample);
  EvictLocked();
  if (++unsynced_ >= options_.sync_every) {
    if (::fdatasync(fd_) != 0) return Errno("cannot sync", options_.path);
    unsynced_ = 0;
  }
  if (file_records_ > 2 * options_.max_samples || file_bytes_ > 2 * options_.max_bytes + 8) {
    RETURN_IF_ERROR(CompactLocked());
  }
  return absl::OkStatus();
}

absl::Status SampleBuffer::CompactLocked() {
  std::string data(kFileMagic, 8);
  for (const Sample& s : samples_) data += EncodeSampleRecord(s);
  RETURN_IF_ERROR(WriteFileAtomically(options_.path, data));
  int fd = ::open(options_.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno("cannot reopen", options_.path);
  if (::lseek(fd, 0, SEEK_END) < 0) {
    ::close(fd);
    return Errno("cannot seek", options_.path);
  }
  ::close(fd_);
  fd_ = fd;
  file_bytes_ = data.size();
  file_records_ = static_cast<int64_t>(samples_.size());
  unsynced_ = 0;
  return absl::OkStatus();
}

absl::Status SampleBuffer::Sync() {
  MutexLock lock(&mu_);
  if (::fdatasync(fd_) != 0) return Errno("cannot sync", options_.path);
  unsynced_ = 0;
  return absl::OkStatus();
}

std::vector<Sample> SampleBuffer::Recent(size_t n) const {
  MutexLock lock(&mu_);
  size_t start = samples_.size() > n ? samples_.size() - n : 0;
  return std::vector<Sample>(samples_.begin() + static_cast<std::ptrdiff_t>(start), samples_.end());
}

size_t SampleBuffer::size() const {
  MutexLock lock(&mu_);
  return samples_.size();
}

uint64_t SampleBuffer::bytes() const {
  MutexLock lock(&mu_);
  return bytes_;
}

size_t SampleBuffer::labeled_count() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const Sample& s : samples_) n += s.labeled();
  return n;
}

}  // namespace bt
