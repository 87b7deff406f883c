#include "cloud/update_merger.h"

#include "common/base/mutex.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "absl/strings/str_join.h"
#include "common/format/half.h"
#include "common/format/manifest.h"
#include "common/format/safetensors.h"
#include "common/base/sha256.h"
#include "common/wire/wire.h"

namespace bt {

namespace v1 = blocktrainer::v1;

namespace {
constexpr size_t kMaxChunk = 1 << 20;
}  // namespace

absl::Status ValidateBlock(const BlockEntry& expected, std::string bytes, const SafetensorsFile* base) {
  const std::string original = bytes;
  ASSIGN_OR_RETURN(auto file, SafetensorsFile::FromBytes(std::move(bytes), "block '" + expected.name + "'"));
  if (file->tensors().size() != expected.params.size()) {
    return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "' has ", file->tensors().size(),
                                                   " tensors, expected ", expected.params.size()));
  }
  for (const ParamEntry& p : expected.params) {
    const TensorView* t = file->Find(p.name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "' lacks tensor '", p.name, "'"));
    }
    // The block's own dtype, or F32 for a half-precision block (edges compute in F32).
    const bool dtype_ok = t->dtype == p.dtype || (t->dtype == DType::kF32 && IsHalfDType(p.dtype));
    if (!dtype_ok || t->shape != p.shape) {
      return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "': tensor '", p.name,
                                                     "' has the wrong dtype or shape"));
    }
    const std::vector<float> values = FloatValues(*t);
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "': tensor '", p.name,
                                                       "' holds a non-finite value at index ", i));
      }
    }
  }
  // Exactly the canonical serialisation of its tensors: no bytes after them, no metadata, no duplicated or
  // reordered header keys (the digest then names the weights, not one of many encodings of them).
  std::vector<TensorView> views;
  for (const ParamEntry& p : expected.params) views.push_back(*file->Find(p.name));
  ASSIGN_OR_RETURN(std::string canonical, SerializeBlock(views));
  if (canonical != original) {
    return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "' is not in canonical form (",
                                                   original.size(), " bytes; its tensors serialise to ",
                                                   canonical.size(), ")"));
  }
  // Finite is not enough: values far beyond the base's are refused (kMaxValueGrowth × the base's largest, + 1).
  if (base != nullptr) {
    for (const ParamEntry& p : expected.params) {
      const TensorView* now = file->Find(p.name);
      const TensorView* before = base->Find(p.name);
      if (!IsFloatDType(now->dtype) || before == nullptr || !IsFloatDType(before->dtype)) continue;
      auto largest = [](const TensorView& t) {
        float m = 0;
        for (float v : FloatValues(t)) m = std::max(m, std::fabs(v));
        return m;
      };
      const double limit = kMaxValueGrowth * (static_cast<double>(largest(*before)) + 1.0);
      const double got = largest(*now);
      if (got > limit) {
        return absl::InvalidArgumentError(absl::StrCat("block '", expected.name, "': tensor '", p.name, "' holds ",
                                                       got, ", beyond ", limit, " (", kMaxValueGrowth,
                                                       " × the base's largest + 1)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status UpdateMerger::Begin(const std::string& edge, const v1::PushHeader& h) {
  if (begun_) return absl::InvalidArgumentError("a second push header");
  begun_ = true;
  edge_ = edge;
  RETURN_IF_ERROR(ValidatePushHeader(h));
  header_ = h;
  auto plan = ctx_->registry->GetPlan(h.plan_id());
  if (!plan.ok() || plan->edge_id != edge_) {
    return absl::PermissionDeniedError(absl::StrCat("edge '", edge_, "' has no plan '", h.plan_id(), "'"));
  }
  plan_ = *plan;
  if (plan_.completed) return absl::FailedPreconditionError(absl::StrCat("plan '", h.plan_id(), "' was already pushed"));
  if (h.base_version() != plan_.base_version) {
    return absl::FailedPreconditionError(absl::StrCat("the update is based on version ", h.base_version(),
                                                      ", the plan on version ", plan_.base_version));
  }
  auto base = ctx_->registry->GetVersion(edge_, plan_.base_version);
  if (absl::IsNotFound(base.status())) {  // pruned since the plan was made: this update can never be merged
    return absl::FailedPreconditionError(absl::StrCat("version ", plan_.base_version, " was pruned"));
  }
  if (!base.ok()) return base.status();
  base_ = *base;
  // No blocks: the window deployed its start (an older version of the branch) as it is; that start becomes the
  // head. From the head itself an empty push would change nothing.
  if (h.blocks().empty() && plan_.base_version == plan_.head_version) {
    return absl::InvalidArgumentError("the push carries no blocks");
  }
  uint64_t total = 0;
  std::set<std::string> seen;
  for (const v1::PushedBlock& pb : h.blocks()) {
    Incoming b{pb.name(), pb.digest(), pb.replaces_digest(), pb.bytes(), {}, ctx_->model->FindBlock(pb.name())};
    if (b.entry == nullptr) return absl::InvalidArgumentError(absl::StrCat("the model has no block '", b.name, "'"));
    if (!seen.insert(b.name).second) return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "' twice"));
    if (std::find(plan_.trainable_blocks.begin(), plan_.trainable_blocks.end(), b.name) ==
        plan_.trainable_blocks.end()) {
      return absl::PermissionDeniedError(absl::StrCat("block '", b.name, "' was not planned for training in plan '",
                                                      plan_.plan_id, "'"));
    }
    if (!IsDigest(b.digest)) return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "': bad digest"));
    std::string base_digest;
    for (const auto& [name, digest] : base_.blocks) {
      if (name == b.name) base_digest = digest;
    }
    if (b.replaces != base_digest) {
      return absl::FailedPreconditionError(absl::StrCat("block '", b.name, "' replaces ", b.replaces.substr(0, 16),
                                                        "…, but version ", base_.version, " holds ",
                                                        base_digest.substr(0, 16), "…"));
    }
    // Same tensors, same canonical size (or, for a half-precision block, its F32 size): anything else is refused
    // before a byte is read.
    const bool as_f32 = b.entry->f32_file_bytes > 0 && b.size == b.entry->f32_file_bytes;
    if (b.entry->file_bytes > 0 && b.size != b.entry->file_bytes && !as_f32) {
      return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "': declared as ", b.size,
                                                     " bytes, its canonical form is ", b.entry->file_bytes,
                                                     b.entry->f32_file_bytes > 0
                                                         ? absl::StrCat(" (", b.entry->f32_file_bytes, " in F32)")
                                                         : std::string()));
    }
    total += b.size;
    if (b.size == 0 || total > ctx_->max_push_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "': size ", b.size, " out of range"));
    }
    blocks_.push_back(std::move(b));
  }
  return absl::OkStatus();
}

absl::Status UpdateMerger::AddChunk(const v1::BlockChunk& chunk) {
  if (!begun_) return absl::InvalidArgumentError("the push must start with a header");
  while (current_ < blocks_.size() && blocks_[current_].bytes.size() == blocks_[current_].size) ++current_;
  if (current_ >= blocks_.size()) return absl::InvalidArgumentError("more data than the header announced");
  Incoming& b = blocks_[current_];
  if (chunk.digest() != b.digest || chunk.offset() != b.bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("chunk for ", chunk.digest().substr(0, 16), "… at offset ",
                                                   chunk.offset(), " out of order (expected block '", b.name,
                                                   "' at offset ", b.bytes.size(), ")"));
  }
  if (chunk.data().size() > kMaxChunk || b.bytes.size() + chunk.data().size() > b.size) {
    return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "': chunk overruns the announced size"));
  }
  b.bytes += chunk.data();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> UpdateMerger::Commit() {
  if (!begun_) return absl::InvalidArgumentError("empty push");
  for (const Incoming& b : blocks_) {
    if (b.bytes.size() != b.size) {
      return absl::InvalidArgumentError(absl::StrCat("block '", b.name, "' ended after ", b.bytes.size(), " of ",
                                                     b.size, " bytes; nothing was stored"));
    }
    if (Sha256Hex(b.bytes) != b.digest) {
      return absl::DataLossError(absl::StrCat("block '", b.name, "': the bytes do not match digest ",
                                              b.digest.substr(0, 16), "… (corrupted or tampered); nothing was stored"));
    }
    auto base = ctx_->blocks->Has(b.replaces) ? ctx_->blocks->Read(b.replaces) : ctx_->model->BlockBytes(b.name);
    if (!base.ok()) return Annotate(base.status(), absl::StrCat("block '", b.name, "': its base"));
    auto base_file = SafetensorsFile::FromBytes(std::move(*base), "base block '" + b.name + "'");
    if (!base_file.ok()) return Annotate(base_file.status(), "the cloud's own base block");
    RETURN_IF_ERROR(ValidateBlock(*b.entry, b.bytes, base_file->get()));
  }
  // Everything checked: store the blocks (atomic files), then the version (one transaction). Commits run one at a
  // time, so that a block this commit stored and must take back (the transaction failed: the head moved, the
  // disk is full) is not one a concurrent commit stored and referenced meanwhile.
  static Mutex commit_mu;
  MutexLock lock(&commit_mu);
  BlockDigests next = base_.blocks;
  std::vector<std::string> changed, stored;
  auto take_back = [&](const absl::Status& why) {
    auto referenced = ctx_->registry->ReferencedDigests();
    for (const std::string& digest : stored) {
      if (!referenced.ok() || referenced->count(digest) > 0) continue;  // unsure: the start-up sweep decides
      absl::Status removed = ctx_->blocks->Remove(digest);
      if (!removed.ok()) spdlog::warn("{}", std::string(removed.message()));
    }
    return why;
  };
  for (const Incoming& b : blocks_) {
    const bool had = ctx_->blocks->Has(b.digest);
    absl::Status put = ctx_->blocks->Put(b.bytes, b.digest).status();
    if (!put.ok()) return take_back(put);
    if (!had) stored.push_back(b.digest);
    for (auto& [name, digest] : next) {
      if (name == b.name) digest = b.digest;
    }
    changed.push_back(b.name);
  }
  const std::string note =
      changed.empty() ? absl::StrCat("window ", plan_.window_id, ": version ", base_.version, " as it was")
                      : absl::StrCat("window ", plan_.window_id, ": ", absl::StrJoin(changed, ", "));
  auto committed = ctx_->registry->CommitVersion(edge_, plan_.head_version, base_.version, next, note, plan_.plan_id,
                                                 header_.accuracy_before(), header_.accuracy_after(), NowSeconds(ctx_));
  if (!committed.ok()) return take_back(committed.status());
  const uint64_t version = *committed;
  spdlog::info("edge '{}': version {} committed ({}; held-out accuracy {:.1f}% -> {:.1f}%)", edge_, version,
               absl::StrJoin(changed, ", "), 100 * header_.accuracy_before(), 100 * header_.accuracy_after());
  return version;
}

}  // namespace bt
