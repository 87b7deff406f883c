#include "common/train/feature_stats.h"

#include <sys/stat.h>

#include <cmath>

#include "common/base/file_util.h"
#include "nlohmann/json.hpp"

namespace bt {

namespace {

std::vector<double> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

torch::Tensor Covariance(const torch::Tensor& features, const torch::Tensor& mean) {
  torch::Tensor centered = features - mean;
  return centered.t().matmul(centered) / std::max<int64_t>(1, features.size(0) - 1);
}

torch::Tensor TopConfidence(const torch::Tensor& logits) {
  return std::get<0>(torch::softmax(logits.to(torch::kFloat64), 1).max(1));
}

}  // namespace

absl::StatusOr<FeatureBatch> ComputeFeatures(BlockModel& model, const torch::Tensor& images) {
  if (!images.defined() || images.dim() < 2 || images.size(0) == 0) {
    return absl::InvalidArgumentError("feature statistics need a non-empty batch of samples");
  }
  const size_t head = model.num_blocks() - 1;
  std::vector<torch::Tensor> features, logits;
  try {
    torch::NoGradGuard no_grad;
    for (int64_t b = 0; b < images.size(0); b += 500) {
      torch::Tensor tokens =
          model.ForwardRange(model.PrepareInput(images.slice(0, b, std::min(b + 500, images.size(0)))), 0, head);
      features.push_back(model.HeadFeatures(tokens).to(torch::kFloat64));
      logits.push_back(model.ForwardRange(tokens, head, head + 1));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("feature statistics failed: ", e.what_without_backtrace()));
  }
  return FeatureBatch{torch::cat(features), torch::cat(logits)};
}

absl::StatusOr<SourceStats> ComputeSourceStats(BlockModel& model, const ImageDataset& clean) {
  ASSIGN_OR_RETURN(FeatureBatch batch, ComputeFeatures(model, clean.images));
  if (batch.features.size(0) < 2) return absl::InvalidArgumentError("source statistics need at least 2 samples");
  SourceStats s;
  s.samples = batch.features.size(0);
  torch::Tensor mean = batch.features.mean(0);
  s.mean = ToVector(mean);
  s.covariance = ToVector(Covariance(batch.features, mean));
  s.accuracy = batch.logits.argmax(1).eq(clean.labels).to(torch::kFloat64).mean().item<double>();
  // ATC threshold: the (1 − accuracy) quantile of clean confidences, so that the share of samples at or above it
  // equals the clean accuracy.
  torch::Tensor sorted = std::get<0>(TopConfidence(batch.logits).sort());
  const int64_t wrong = std::llround((1.0 - s.accuracy) * static_cast<double>(s.samples));
  s.confidence_threshold = sorted[std::min(wrong, s.samples - 1)].item<double>();
  return s;
}

absl::StatusOr<DriftStats> ComputeDriftStats(BlockModel& model, const torch::Tensor& images,
                                             const SourceStats& source) {
  ASSIGN_OR_RETURN(FeatureBatch batch, ComputeFeatures(model, images));
  const int64_t d = batch.features.size(1);
  if (static_cast<int64_t>(source.mean.size()) != d) {
    return absl::InvalidArgumentError(absl::StrCat("source statistics have dimension ", source.mean.size(),
                                                   ", the model's features ", d));
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor src_mean = torch::from_blob(const_cast<double*>(source.mean.data()), {d}, opts).clone();
  torch::Tensor src_cov = torch::from_blob(const_cast<double*>(source.covariance.data()), {d, d}, opts).clone();
  DriftStats s;
  s.samples = batch.features.size(0);
  torch::Tensor mean = batch.features.mean(0);
  s.mean_shift = ((mean - src_mean).norm() / src_cov.trace().clamp_min(1e-12).sqrt()).item<double>();
  if (s.samples >= 2) {
    s.covariance_shift = ((Covariance(batch.features, mean) - src_cov).norm() / src_cov.norm().clamp_min(1e-12))
                             .item<double>();
  }
  torch::Tensor confidence = TopConfidence(batch.logits);
  s.mean_confidence = confidence.mean().item<double>();
  s.estimated_accuracy = confidence.ge(source.confidence_threshold).to(torch::kFloat64).mean().item<double>();
  return s;
}

absl::StatusOr<SourceStats> LoadOrComputeSourceStats(const std::string& model_path, BlockModel& model,
                                                     const std::string& dataset_dir) {
  struct stat st {};
  if (::stat(model_path.c_str(), &st) != 0) return absl::NotFoundError(absl::StrCat(model_path, ": cannot stat"));
  const std::string sidecar = model_path + ".source.json";
  const auto size = static_cast<int64_t>(st.st_size);
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (auto text = ReadFileToString(sidecar); text.ok()) {
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object() && j.value("model_size", int64_t{-1}) == size && j.value("model_mtime_ns", int64_t{-1}) == mtime &&
        j.contains("stats")) {
      auto stats = SourceStats::FromJson(j["stats"].dump(), sidecar);
      if (stats.ok()) return stats;
    }
  }
  ASSIGN_OR_RETURN(ImageDataset clean, LoadFashionMnist(dataset_dir, "test"));
  ASSIGN_OR_RETURN(SourceStats stats, ComputeSourceStats(model, clean));
  nlohmann::ordered_json out = {{"model_size", size},
                                {"model_mtime_ns", mtime},
                                {"stats", nlohmann::ordered_json::parse(stats.ToJson())}};
  RETURN_IF_ERROR(WriteFileAtomically(sidecar, out.dump()));
  return stats;
}

}  // namespace bt
