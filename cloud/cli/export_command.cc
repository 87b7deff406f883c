#include "cloud/cli/export_command.h"

#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "common/format/block_store.h"
#include "cloud/store/model_store.h"
#include "cloud/store/registry.h"
#include "common/base/file_util.h"
#include "common/format/half.h"
#include "common/format/safetensors.h"
#include "absl/strings/str_join.h"
#include "common/base/sha256.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {

absl::StatusOr<std::optional<DType>> ParseExportDType(const std::string& name) {
  if (name == "keep") return std::optional<DType>();
  if (name == "f32" || name == "F32") return std::optional<DType>(DType::kF32);
  if (name == "f16" || name == "F16") return std::optional<DType>(DType::kF16);
  if (name == "bf16" || name == "BF16") return std::optional<DType>(DType::kBF16);
  return absl::InvalidArgumentError(absl::StrCat("--dtype: '", name, "' is not keep, f32, f16 or bf16"));
}

absl::StatusOr<ExportedVersion> ExportVersion(const CloudConfig& config, const std::string& edge,
                                              std::optional<uint64_t> version, const std::string& out,
                                              const ExportOptions& options) {
  const std::string db = config.cloud.data_dir + "/blocktrainer.db";
  if (!std::filesystem::exists(db)) {
    return absl::NotFoundError(absl::StrCat("no registry at ", db, " (is cloud.data_dir right?)"));
  }
  ASSIGN_OR_RETURN(auto registry, Registry::Open(db));
  ASSIGN_OR_RETURN(VersionRecord record, version ? registry->GetVersion(edge, *version) : registry->Head(edge));
  auto model = ModelStore::Open(config.ModelPath(), config.model.name, config.model.Hints());
  if (!model.ok()) return Annotate(model.status(), "the foundation model");
  ASSIGN_OR_RETURN(auto store, BlockStore::Open(config.cloud.data_dir + "/blocks"));

  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::deque<std::string> converted;  // stable addresses for the views into them
  std::vector<TensorView> views;
  for (const auto& [name, digest] : record.blocks) {
    std::string bytes;
    if (store->Has(digest)) {
      ASSIGN_OR_RETURN(auto mapped, store->Get(digest));
      bytes.assign(reinterpret_cast<const char*>(mapped->data()), mapped->size());
    } else {
      ASSIGN_OR_RETURN(bytes, (*model)->BlockBytes(name));
    }
    if (Sha256Hex(bytes) != digest) {
      return absl::DataLossError(absl::StrCat("block '", name, "' of version ", record.version, " (", digest,
                                              ") is missing from the block store or corrupted"));
    }
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::FromBytes(std::move(bytes), "block " + name));
    const BlockEntry* foundation = (*model)->FindBlock(name);
    for (const TensorView& v : file->tensors()) {
      // Trained blocks arrive in F32 (edges compute in F32); each tensor leaves in the foundation's dtype unless
      // the operator chose one.
      DType target = v.dtype;
      if (options.dtype) {
        target = *options.dtype;
      } else if (foundation != nullptr) {
        for (const ParamEntry& p : foundation->params) {
          if (p.name == v.name) target = p.dtype;
        }
      }
      if (target == v.dtype || !IsFloatDType(v.dtype)) {
        views.push_back(v);
        continue;
      }
      ASSIGN_OR_RETURN(std::string data, ConvertFloatData(v, target));
      converted.push_back(std::move(data));
      TensorView c = v;
      c.dtype = target;
      c.data = reinterpret_cast<const uint8_t*>(converted.back().data());
      c.size_bytes = converted.back().size();
      views.push_back(std::move(c));
    }
    files.push_back(std::move(file));
  }
  std::set<std::string> dtypes;
  for (const TensorView& v : views) dtypes.insert(DTypeName(v.dtype));
  // The resolved architecture (a foreign checkpoint's own metadata may not say it), with the provenance.
  const ModelArch& arch = (*model)->architecture();
  Metadata metadata = arch.ToMetadata();
  metadata["blocktrainer.edge"] = edge;
  metadata["blocktrainer.version"] = std::to_string(record.version);
  ExportedVersion result;
  result.version = record.version;
  result.blocks = record.blocks.size();
  result.dtypes = absl::StrJoin(dtypes, "+");
  std::error_code ec;
  if (arch.llama() != nullptr) {
    // A decoder leaves as an HF-style directory another tool loads as it is: config.json, model.safetensors, and
    // the foundation's tokenizer.model. Written beside `out` and renamed into place.
    const std::string staging = out + ".partial";
    std::filesystem::remove_all(staging, ec);
    std::filesystem::create_directories(staging);
    RETURN_IF_ERROR(Annotate(WriteSafetensors(staging + "/model.safetensors", views, metadata), out));
    RETURN_IF_ERROR(WriteFileAtomically(staging + "/config.json", arch.llama()->ToConfigJson()));
    const std::string tokenizer = config.ModelPath() + "/tokenizer.model";
    if (std::filesystem::exists(tokenizer)) {
      ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(tokenizer));
      RETURN_IF_ERROR(WriteFileAtomically(staging + "/tokenizer.model", bytes));
    }
    if (std::filesystem::exists(out)) std::filesystem::remove_all(out);
    std::filesystem::rename(staging, out);
    result.bytes = std::filesystem::file_size(out + "/model.safetensors", ec);
    return result;
  }
  RETURN_IF_ERROR(Annotate(WriteSafetensors(out, views, metadata), out));
  result.bytes = std::filesystem::file_size(out, ec);
  return result;
}

absl::Status RunExportCommand(const CloudConfig& config, const std::string& edge, std::optional<uint64_t> version,
                              const std::string& out, const ExportOptions& options, bool json) {
  ASSIGN_OR_RETURN(ExportedVersion exported, ExportVersion(config, edge, version, out, options));
  if (json) {
    const nlohmann::ordered_json j = {{"edge", edge},
                                      {"version", exported.version},
                                      {"blocks", exported.blocks},
                                      {"bytes", exported.bytes},
                                      {"dtype", exported.dtypes},
                                      {"path", out}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("edge %s version %llu: %zu blocks, %s (%s) written to %s\n", edge.c_str(),
                static_cast<unsigned long long>(exported.version), exported.blocks, FormatBytes(exported.bytes).c_str(),
                exported.dtypes.c_str(), out.c_str());
  }
  return absl::OkStatus();
}

}  // namespace bt
