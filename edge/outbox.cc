#include "edge/outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace fs = std::filesystem;
namespace v1 = blocktrainer::v1;

namespace {

bool IsDigest(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Window ids in file names: letters, digits, '-', '_', '.'; anything else becomes '_'.
std::string FileSafe(const std::string& s) {
  std::string out = s.substr(0, 64);
  for (char& c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  }
  return out;
}

}  // namespace

bool IsPermanentPushFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

std::string OutboxEntry::ToJson() const {
  nlohmann::ordered_json j = {{"window_id", window_id},
                              {"plan_id", plan_id},
                              {"base_version", base_version},
                              {"accuracy_before", accuracy_before},
                              {"accuracy_after", accuracy_after},
                              {"iterations", iterations},
                              {"peak_memory_bytes", peak_memory_bytes},
                              {"train_seconds", train_seconds},
                              {"blocks", nlohmann::ordered_json::array()}};
  for (const OutboxBlock& b : blocks) {
    j["blocks"].push_back({{"name", b.name}, {"digest", b.digest}, {"replaces", b.replaces}});
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<OutboxEntry> OutboxEntry::FromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return absl::DataLossError("not a JSON object");
  OutboxEntry e;
  try {
    e.window_id = j.at("window_id").get<std::string>();
    e.plan_id = j.at("plan_id").get<std::string>();
    e.base_version = j.at("base_version").get<uint64_t>();
    e.accuracy_before = j.at("accuracy_before").get<double>();
    e.accuracy_after = j.at("accuracy_after").get<double>();
    e.iterations = j.at("iterations").get<int64_t>();
    e.peak_memory_bytes = j.at("peak_memory_bytes").get<int64_t>();
    e.train_seconds = j.at("train_seconds").get<double>();
    for (const auto& b : j.at("blocks")) {
      e.blocks.push_back({b.at("name").get<std::string>(), b.at("digest").get<std::string>(),
                          b.at("replaces").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& ex) {
    return absl::DataLossError(absl::StrCat("missing or mistyped field: ", ex.what()));
  }
  for (const OutboxBlock& b : e.blocks) {
    if (!IsDigest(b.digest) || !IsDigest(b.replaces)) {
      return absl::DataLossError(absl::StrCat("block '", b.name, "': digests must be 64 lowercase hex digits"));
    }
  }
  return e;
}

Outbox::Outbox(std::string dir, const BlockStore* store, std::function<int64_t()> now)
    : dir_(std::move(dir)), store_(store), now_(std::move(now)) {
  if (!now_) now_ = [] { return static_cast<int64_t>(std::time(nullptr)); };
}

absl::Status Outbox::Add(const OutboxEntry& entry) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir_, ": ", ec.message()));
  uint64_t seq;
  {
    MutexLock lock(&mu_);
    seq = sequence_++;
  }
  const std::string path = absl::StrFormat("%s/%020d-%06d-%s.json", dir_, now_(), seq % 1000000,
                                           FileSafe(entry.window_id));
  return WriteFileAtomically(path, entry.ToJson());
}

std::vector<std::string> Outbox::PendingFiles() const {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".json") files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

size_t Outbox::size() const { return PendingFiles().size(); }

absl::Status Outbox::Reject(const std::string& file, const std::string& reason) {
  std::error_code ec;
  fs::create_directories(rejected_dir(), ec);
  const std::string name = fs::path(file).filename().string();
  RETURN_IF_ERROR(WriteFileAtomically(rejected_dir() + "/" + name + ".reason.txt", reason + "\n"));
  fs::rename(file, rejected_dir() + "/" + name, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot move ", file, " to ", rejected_dir(), ": ", ec.message()));
  spdlog::error("outbox: {} moved to {}: {}", name, rejected_dir(), reason);
  return absl::OkStatus();
}

absl::Status Outbox::Flush(const Push& push, const std::function<void(const Delivered&)>& on_delivered) {
  MutexLock flushing(&flush_mu_);
  for (const std::string& file : PendingFiles()) {
    auto text = ReadFileToString(file);
    if (!text.ok()) return text.status();  // unreadable now (I/O): try again later
    auto entry = OutboxEntry::FromJson(*text);
    if (!entry.ok()) {
      RETURN_IF_ERROR(Reject(file, absl::StrCat("damaged update file: ", entry.status().message())));
      continue;
    }
    v1::PushHeader header;
    header.set_plan_id(entry->plan_id);
    header.set_base_version(entry->base_version);
    header.set_accuracy_before(entry->accuracy_before);
    header.set_accuracy_after(entry->accuracy_after);
    header.set_iterations(entry->iterations);
    header.set_peak_memory_bytes(entry->peak_memory_bytes);
    header.set_train_seconds(entry->train_seconds);
    std::vector<CloudClient::OutgoingBlock> blocks;
    absl::Status missing;
    for (const OutboxBlock& b : entry->blocks) {
      auto bytes = store_->Read(b.digest);
      if (!bytes.ok()) {
        missing = bytes.status();
        break;
      }
      blocks.push_back({b.name, b.replaces, std::move(*bytes)});
    }
    if (!missing.ok()) {
      RETURN_IF_ERROR(Reject(file, absl::StrCat("a retrained block is gone: ", missing.message())));
      continue;
    }
    Delivered delivered;
    auto version = push(header, blocks, &delivered.up);
    if (!version.ok()) {
      if (!IsPermanentPushFailure(version.status())) return version.status();
      RETURN_IF_ERROR(Reject(file, absl::StrCat("refused by the cloud: ", version.status().message())));
      continue;
    }
    std::error_code ec;
    fs::remove(file, ec);
    if (ec) spdlog::warn("outbox: cannot remove delivered {}: {}", file, ec.message());
    delivered.entry = std::move(*entry);
    delivered.version = *version;
    if (on_delivered) on_delivered(delivered);
  }
  return absl::OkStatus();
}

}  // namespace bt
