#include "edge/window/start_choice.h"

#include "absl/strings/str_format.h"

namespace bt {

std::vector<double> DriftSignature(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  if (!images.is_floating_point()) {
    // Token ids: how the tokens spread over frequency ranks (SentencePiece numbers pieces roughly by score, so
    // log-spaced id ranges), and over 18 hashed buckets of their identity.
    const torch::Tensor ids = images.flatten().to(torch::kInt64).clamp_min(0);
    const double n = static_cast<double>(std::max<int64_t>(1, ids.numel()));
    const torch::Tensor rank = torch::clamp((torch::log2(ids.to(torch::kFloat64) + 1) * 1.5).floor(), 0, 17).to(torch::kInt64);
    const torch::Tensor hashed = (ids * static_cast<int64_t>(2654435761)).remainder(static_cast<int64_t>(1) << 32).remainder(18);
    std::vector<double> out;
    for (const torch::Tensor* b : {&rank, &hashed}) {
      const torch::Tensor counts = torch::bincount(*b, {}, 18).to(torch::kFloat64) / n;
      for (int64_t i = 0; i < 18; ++i) out.push_back(counts[i].item<double>());
    }
    return out;
  }
  const torch::Tensor x = images.to(torch::kFloat64).clamp(0, 1);  // (N, C, H, W)
  const torch::Tensor flat = x.flatten(1);
  std::vector<double> out;
  out.push_back(flat.mean(1).mean().item<double>());
  out.push_back(flat.std(1).mean().item<double>());
  out.push_back((x.slice(3, 1) - x.slice(3, 0, -1)).abs().mean().item<double>());
  out.push_back((x.slice(2, 1) - x.slice(2, 0, -1)).abs().mean().item<double>());
  const torch::Tensor hist = torch::histc(flat.to(torch::kFloat32), 16, 0, 1) / static_cast<double>(flat.numel());
  for (int64_t b = 0; b < 16; ++b) out.push_back(hist[b].item<double>());
  const torch::Tensor grid = torch::adaptive_avg_pool2d(x.mean(1, /*keepdim=*/true), {4, 4}).mean(0).flatten();
  for (int64_t g = 0; g < grid.size(0); ++g) out.push_back(grid[g].item<double>());
  return out;
}

std::vector<StartCandidate> StartCandidates(
    const std::vector<ZooVersion>& zoo, uint64_t head, const std::vector<double>& signature,
    const std::function<absl::StatusOr<std::unique_ptr<BlockModel>>(const ZooVersion&)>& load, int nearest) {
  std::vector<StartCandidate> out;
  auto add = [&](const ZooVersion& v, std::string label) {
    out.push_back({v.version, std::move(label), [load, v] { return load(v); }});
  };
  if (head != 0) {
    for (const ZooVersion& v : zoo) {
      if (v.version == 0 && v.confirmed) {
        add(v, "foundation");
        break;
      }
    }
  }
  for (size_t i : NearestVersions(zoo, signature, {head, 0}, nearest)) {
    const ZooVersion& v = zoo[i];
    add(v, absl::StrFormat("v%d (window %s, distance %.3f)", v.version, v.window_id,
                           SignatureDistance(v.signature, signature)));
  }
  return out;
}

}  // namespace bt
