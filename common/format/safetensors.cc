#include "common/format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

using nlohmann::json;

// Same cap as the reference implementation: a header beyond this is treated as malformed.
constexpr uint64_t kMaxHeaderBytes = 100u * 1000 * 1000;

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4}, {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

void PutLittleEndian64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// dtype × shape in bytes, or an error on overflow / negative dimensions.
absl::StatusOr<uint64_t> ExpectedBytes(DType dtype, const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return absl::InvalidArgumentError("negative dimension");
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) {
      return absl::InvalidArgumentError("shape overflows");
    }
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<uint64_t>(DTypeSize(dtype)), &bytes)) {
    return absl::InvalidArgumentError("shape overflows");
  }
  return bytes;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&out, i ? ", " : "", shape[i]);
  return out + "]";
}

void SortByName(std::vector<TensorView>* tensors) {
  std::sort(tensors->begin(), tensors->end(),
            [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
}

const TensorView* FindSorted(const std::vector<TensorView>& tensors, std::string_view name) {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  if (it == tensors.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace

absl::StatusOr<DType> ParseDType(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (name == info.name) return info.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype '", std::string(name), "'"));
}

const char* DTypeName(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

int64_t TensorView::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

// The canonical header (padded to 8 bytes) of `input`; `tensors` receives them sorted by name, `data_bytes` their
// total size.
absl::StatusOr<std::string> CanonicalHeader(const std::vector<TensorView>& input, const Metadata& metadata,
                                            std::vector<const TensorView*>& tensors, uint64_t& data_bytes) {
  tensors.reserve(input.size());
  for (const TensorView& t : input) tensors.push_back(&t);
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorView* a, const TensorView* b) { return a->name < b->name; });

  json header = json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = *tensors[i];
    if (t.name.empty()) return absl::InvalidArgumentError("tensor with an empty name");
    if (t.name == "__metadata__") return absl::InvalidArgumentError("'__metadata__' is reserved");
    if (i > 0 && tensors[i - 1]->name == t.name) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor name '", t.name, "'"));
    }
    auto expected = ExpectedBytes(t.dtype, t.shape);
    if (!expected.ok()) return Annotate(expected.status(), absl::StrCat("tensor '", t.name, "'"));
    if (*expected != t.size_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat("tensor '%s': %s %s needs %d bytes, got %d", t.name,
                                                        DTypeName(t.dtype), ShapeString(t.shape), *expected,
                                                        t.size_bytes));
    }
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.size_bytes}}};
    offset += t.size_bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string header_text = header.dump();
  while (header_text.size() % 8 != 0) header_text.push_back(' ');
  data_bytes = offset;
  return header_text;
}

}  // namespace

absl::StatusOr<uint64_t> SerializedSafetensorsSize(const std::vector<TensorView>& input, const Metadata& metadata) {
  std::vector<const TensorView*> tensors;
  uint64_t offset = 0;
  ASSIGN_OR_RETURN(std::string header_text, CanonicalHeader(input, metadata, tensors, offset));
  return 8 + header_text.size() + offset;
}

absl::StatusOr<std::string> SerializeSafetensors(const std::vector<TensorView>& input, const Metadata& metadata) {
  std::vector<const TensorView*> tensors;
  uint64_t offset = 0;
  ASSIGN_OR_RETURN(std::string header_text, CanonicalHeader(input, metadata, tensors, offset));
  std::string out;
  out.reserve(8 + header_text.size() + offset);
  PutLittleEndian64(header_text.size(), &out);
  out += header_text;
  for (const TensorView* t : tensors) {
    out.append(reinterpret_cast<const char*>(t->data), t->size_bytes);
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                              const Metadata& metadata) {
  ASSIGN_OR_RETURN(std::string bytes, SerializeSafetensors(tensors, metadata));
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_ = path;
  file->mapped_ = std::move(mapped);
  RETURN_IF_ERROR(Annotate(file->Parse(file->mapped_->data(), file->mapped_->size()), path));
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(std::string bytes, std::string source) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_ = std::move(source);
  file->owned_ = std::move(bytes);
  RETURN_IF_ERROR(Annotate(file->Parse(reinterpret_cast<const uint8_t*>(file->owned_.data()),
                                       file->owned_.size()),
                           file->source_));
  return file;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const { return FindSorted(tensors_, name); }

absl::Status SafetensorsFile::Parse(const uint8_t* data, size_t size) {
  if (size < 8) {
    return absl::InvalidArgumentError(absl::StrCat("file is ", size, " bytes, too short for a safetensors header"));
  }
  uint64_t header_len = GetLittleEndian64(data);
  if (header_len > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("header length ", header_len, " exceeds the limit"));
  }
  if (header_len > size - 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("header length ", header_len, " runs past the end of the file (", size, " bytes)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  json header = json::parse(header_begin, header_begin + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return absl::InvalidArgumentError("header is not valid JSON");
  if (!header.is_object()) return absl::InvalidArgumentError("header is not a JSON object");

  const uint8_t* payload = data + 8 + header_len;
  const uint64_t payload_size = size - 8 - header_len;
  struct Range {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  tensors_.clear();
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return absl::InvalidArgumentError("__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          return absl::InvalidArgumentError(absl::StrCat("__metadata__ value '", m.key(), "' is not a string"));
        }
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", why));
    };
    if (!entry.is_object()) return bad("entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return bad("missing or non-string 'dtype'");
    if (shape_it == entry.end() || !shape_it->is_array()) return bad("missing or non-array 'shape'");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      return bad("'data_offsets' must be an array of two integers");
    }
    auto dtype = ParseDType(dtype_it->get<std::string>());
    if (!dtype.ok()) return bad(std::string(dtype.status().message()));
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    for (const json& dim : *shape_it) {
      if (!dim.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      uint64_t d = dim.get<uint64_t>();
      if (d > static_cast<uint64_t>(INT64_MAX)) return bad("dimension too large");
      view.shape.push_back(static_cast<int64_t>(d));
    }
    const json& b = (*offsets_it)[0];
    const json& e = (*offsets_it)[1];
    if (!b.is_number_unsigned() || !e.is_number_unsigned()) return bad("data_offsets must be non-negative integers");
    uint64_t begin = b.get<uint64_t>();
    uint64_t end = e.get<uint64_t>();
    if (begin > end) return bad(absl::StrCat("data_offsets [", begin, ", ", end, "] are reversed"));
    if (end > payload_size) {
      return bad(absl::StrCat("data_offsets [", begin, ", ", end, "] run past the data section (", payload_size,
                              " bytes)"));
    }
    auto expected = ExpectedBytes(view.dtype, view.shape);
    if (!expected.ok()) return bad(std::string(expected.status().message()));
    if (*expected != end - begin) {
      return bad(absl::StrFormat("%s %s needs %d bytes but data_offsets span %d", DTypeName(view.dtype),
                                 ShapeString(view.shape), *expected, end - begin));
    }
    view.data = payload + begin;
    view.size_bytes = end - begin;
    tensors_.push_back(std::move(view));
  }
  SortByName(&tensors_);
  for (const TensorView& t : tensors_) {
    uint64_t begin = static_cast<uint64_t>(t.data - payload);
    ranges.push_back({begin, begin + t.size_bytes, &t.name});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < ranges.size(); ++i) {
    // Zero-sized tensors occupy no bytes and cannot overlap anything.
    if (ranges[i].begin == ranges[i].end || ranges[i - 1].begin == ranges[i - 1].end) continue;
    if (ranges[i].begin < ranges[i - 1].end) {
      return absl::InvalidArgumentError(absl::StrCat("tensors '", *ranges[i - 1].name, "' and '", *ranges[i].name,
                                                     "' overlap in the data section"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path) {
  std::unique_ptr<Checkpoint> checkpoint(new Checkpoint());
  const std::string kIndexSuffix = ".index.json";
  bool is_index = path.size() > kIndexSuffix.size() &&
                  path.compare(path.size() - kIndexSuffix.size(), kIndexSuffix.size(), kIndexSuffix) == 0;
  if (!is_index) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
    checkpoint->tensors_ = file->tensors();
    checkpoint->metadata_ = file->metadata();
    checkpoint->shards_.push_back(std::move(file));
    return checkpoint;
  }

  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) { return absl::InvalidArgumentError(absl::StrCat(path, ": ", why)); };
  if (index.is_discarded() || !index.is_object()) return bad("index is not a JSON object");
  auto map_it = index.find("weight_map");
  if (map_it == index.end() || !map_it->is_object()) return bad("missing 'weight_map' object");

  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::map<std::string, size_t> shard_of_file;
  std::map<std::string, std::string> file_of_tensor;
  for (auto it = map_it->begin(); it != map_it->end(); ++it) {
    if (!it.value().is_string()) return bad(absl::StrCat("weight_map['", it.key(), "'] is not a string"));
    std::string file = it.value().get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      return bad(absl::StrCat("weight_map['", it.key(), "'] = '", file, "' is not a plain file name"));
    }
    file_of_tensor[it.key()] = file;
    if (shard_of_file.count(file) == 0) {
      ASSIGN_OR_RETURN(auto shard, SafetensorsFile::Open((dir / file).string()));
      shard_of_file[file] = checkpoint->shards_.size();
      checkpoint->shards_.push_back(std::move(shard));
    }
  }
  for (const auto& [file, shard_index] : shard_of_file) {
    const SafetensorsFile& shard = *checkpoint->shards_[shard_index];
    for (const TensorView& t : shard.tensors()) {
      auto owner = file_of_tensor.find(t.name);
      if (owner == file_of_tensor.end() || owner->second != file) {
        return bad(absl::StrCat("tensor '", t.name, "' in shard '", file, "' is not mapped to it by the index"));
      }
      checkpoint->tensors_.push_back(t);
    }
  }
  for (const auto& [name, file] : file_of_tensor) {
    if (checkpoint->shards_[shard_of_file[file]]->Find(name) == nullptr) {
      return bad(absl::StrCat("tensor '", name, "' is missing from shard '", file, "'"));
    }
  }
  SortByName(&checkpoint->tensors_);
  if (!checkpoint->shards_.empty()) checkpoint->metadata_ = checkpoint->shards_.front()->metadata();
  return checkpoint;
}

const TensorView* Checkpoint::Find(std::string_view name) const { return FindSorted(tensors_, name); }

absl::StatusOr<std::string> WriteShardedCheckpoint(const std::string& dir, const std::string& stem,
                                                   const std::vector<TensorView>& input, const Metadata& metadata,
                                                   uint64_t max_shard_bytes) {
  std::vector<TensorView> tensors = input;
  SortByName(&tensors);
  std::vector<std::vector<TensorView>> shards;
  uint64_t current = 0;
  for (const TensorView& t : tensors) {
    if (shards.empty() || (current > 0 && current + t.size_bytes > max_shard_bytes)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(t);
    current += t.size_bytes;
  }
  if (shards.empty()) shards.emplace_back();

  json weight_map = json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = absl::StrFormat("%s-%05d-of-%05d.safetensors", stem, i + 1, shards.size());
    RETURN_IF_ERROR(WriteSafetensors((std::filesystem::path(dir) / file).string(), shards[i], metadata));
    for (const TensorView& t : shards[i]) {
      weight_map[t.name] = file;
      total += t.size_bytes;
    }
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::string index_path = (std::filesystem::path(dir) / (stem + ".safetensors.index.json")).string();
  RETURN_IF_ERROR(WriteFileAtomically(index_path, index.dump(2) + "\n"));
  return index_path;
}

}  // namespace bt
