#include "edge/intake/spool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/text/corpus.h"
#include "edge/intake/image_io.h"

namespace bt {
namespace {

namespace fs = std::filesystem;

bool Skipped(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.empty() || name[0] == '.' || name == "labels.csv" || ends_with(".tmp") || ends_with(".part");
}

// labels.csv: `file,label` per line; blank lines and a header line are ignored. Returns the raw label text.
std::map<std::string, std::string> ReadLabels(const fs::path& path) {
  std::map<std::string, std::string> labels;
  auto text = ReadFileToString(path.string());
  if (!text.ok()) return labels;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(',', 1));
    if (fields.size() != 2) continue;
    std::string file(absl::StripAsciiWhitespace(fields[0]));
    std::string label(absl::StripAsciiWhitespace(fields[1]));
    if (file == "file" && label == "label") continue;
    labels[file] = label;
  }
  return labels;
}

// A file whose first 4 KiB hold a NUL byte and that is not gzip (whose text is checked once decompressed).
bool LooksBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[4096];
  in.read(head, sizeof head);
  const std::string_view bytes(head, static_cast<size_t>(in.gcount()));
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return false;
  }
  return bytes.find('\0') != std::string_view::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Create(const SpoolOptions& options, SampleBuffer* buffer,
                                                     std::function<int64_t()> clock) {
  if (options.dir.empty()) return absl::InvalidArgumentError("spool: dir must not be empty");
  if (options.height < 1 || options.width < 1 || options.height > 4096 || options.width > 4096) {
    return absl::InvalidArgumentError("spool: input size out of range");
  }
  std::error_code ec;
  fs::create_directories(fs::path(options.dir) / "rejected", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create spool '", options.dir, "': ", ec.message()));
  if (!clock) {
    clock = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  return std::unique_ptr<Spool>(new Spool(options, buffer, std::move(clock)));
}

void Spool::Reject(const std::string& name, const std::string& reason) {
  fs::path dir(options_.dir);
  fs::path target = dir / "rejected" / name;
  std::error_code ec;
  if (fs::exists(target, ec)) target += absl::StrCat(".", clock_());
  fs::rename(dir / name, target, ec);
  if (ec) {
    // Cannot move it (permissions?): delete so the scan does not loop on it, and say so.
    spdlog::error("spool: cannot move '{}' to rejected/ ({}); deleting it. Reason it was rejected: {}", name,
                  ec.message(), reason);
    fs::remove(dir / name, ec);
    return;
  }
  (void)WriteFileAtomically(target.string() + ".reason.txt", reason + "\n");
  spdlog::warn("spool: rejected '{}': {}", name, reason);
}

absl::StatusOr<std::vector<Sample>> Spool::ImageSamples(const std::string& name,
                                                        const std::map<std::string, std::string>& labels,
                                                        const SpoolInput& input) const {
  const int height = input.height > 0 ? input.height : options_.height;
  const int width = input.width > 0 ? input.width : options_.width;
  ASSIGN_OR_RETURN(GrayImage image, DecodeImageFile((fs::path(options_.dir) / name).string(), input.channels));
  int32_t label = -1;
  auto it = labels.find(name);
  if (it != labels.end()) {
    int parsed = -1;
    if (!absl::SimpleAtoi(it->second, &parsed) || parsed < 0 || parsed >= options_.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("labels.csv gives label '", it->second,
                                                     "', expected an integer in [0, ", options_.num_classes, ")"));
    }
    label = parsed;
  }
  GrayImage resized = (image.height == height && image.width == width) ? std::move(image)
                                                                       : ResizeArea(image, height, width);
  Sample sample;
  sample.timestamp_ms = clock_();
  sample.label = label;
  sample.height = static_cast<uint16_t>(resized.height);
  sample.width = static_cast<uint16_t>(resized.width);
  sample.channels = static_cast<uint8_t>(resized.channels);
  sample.source = ("spool:" + name).substr(0, 255);
  sample.pixels = std::move(resized.pixels);
  return std::vector<Sample>{std::move(sample)};
}

absl::StatusOr<std::vector<Sample>> Spool::TextSamples(const std::string& name, const SpoolInput& input) const {
  const std::string path = (fs::path(options_.dir) / name).string();
  if (LooksBinary(path)) return absl::InvalidArgumentError("a binary file (NUL bytes), not text");
  ASSIGN_OR_RETURN(std::string text, ReadCorpusFile(path));
  const std::vector<int32_t> ids = input.tokenizer->Encode(text);
  const size_t t = static_cast<size_t>(input.sequence);
  if (ids.size() < t + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shorter than one sample: ", ids.size(), " tokens, a sample takes ", t + 1));
  }
  std::vector<Sample> samples;
  const int64_t now = clock_();
  for (size_t begin = 0; begin + t + 1 <= ids.size(); begin += t) {
    Sample s;
    s.timestamp_ms = now;
    s.label = 0;  // text carries its own next tokens
    s.channels = 0;
    s.height = 0;
    s.width = 0;
    s.source = absl::StrCat("spool:", name, "#", samples.size()).substr(0, 255);
    s.tokens.assign(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                    ids.begin() + static_cast<std::ptrdiff_t>(begin + t + 1));
    samples.push_back(std::move(s));
  }
  return samples;
}

absl::StatusOr<SpoolScanResult> Spool::ScanOnce() {
  SpoolScanResult result;
  fs::path dir(options_.dir);
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    std::string name = entry.path().filename().string();
    if (!Skipped(name)) names.push_back(name);
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list spool '", options_.dir, "': ", ec.message()));
  std::sort(names.begin(), names.end());
  if (names.empty()) return result;
  const SpoolInput input = options_.input ? options_.input() : SpoolInput{};
  if (input.kind == SpoolInput::Kind::kUnknown) return result;  // the files wait for the model
  if (input.kind == SpoolInput::Kind::kText && (input.tokenizer == nullptr || input.sequence < 1)) {
    return absl::FailedPreconditionError("spool: a text model without a tokenizer");
  }
  if (input.kind == SpoolInput::Kind::kImages &&
      (input.height < 0 || input.width < 0 || input.height > 4096 || input.width > 4096 ||
       (input.channels != 1 && input.channels != 3))) {
    return absl::FailedPreconditionError("spool: the model's input size is out of range");
  }
  std::map<std::string, std::string> labels = ReadLabels(dir / "labels.csv");

  for (const std::string& name : names) {
    auto samples = input.kind == SpoolInput::Kind::kText ? TextSamples(name, input) : ImageSamples(name, labels, input);
    if (!samples.ok()) {
      Reject(name, std::string(samples.status().message()));
      ++result.rejected;
      continue;
    }
    for (const Sample& sample : *samples) {
      RETURN_IF_ERROR(Annotate(buffer_->Append(sample), "spool: cannot store sample"));
    }
    fs::remove(dir / name, ec);
    ++result.accepted;
    result.samples += static_cast<int64_t>(samples->size());
  }
  return result;
}

}  // namespace bt
