#include "edge/window/curve_probe.h"

#include <algorithm>
#include <random>


namespace bt {

HeldOutScore HeldOutScores(ComposedModel& model, const ImageDataset& data, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  HeldOutScore score;
  const int64_t outputs = data.labels.numel();
  if (data.size() == 0 || outputs == 0) return score;
  score.hits.reserve(static_cast<size_t>(outputs));
  int64_t correct = 0;
  double loss_sum = 0;
  for (int64_t b = 0; b < data.size(); b += batch_size) {
    ImageDataset batch = data.Slice(b, std::min(b + batch_size, data.size()));
    const torch::Tensor logits = model.ForwardRaw(batch.images);
    const torch::Tensor hits = logits.argmax(-1).eq(batch.labels).flatten().to(torch::kUInt8).contiguous();
    const uint8_t* h = hits.data_ptr<uint8_t>();
    score.hits.insert(score.hits.end(), h, h + hits.numel());
    correct += hits.sum().item<int64_t>();
    loss_sum += OutputLoss(logits, batch.labels).item<double>() * static_cast<double>(batch.labels.numel());
  }
  score.accuracy = static_cast<double>(correct) / static_cast<double>(outputs);
  score.outputs_per_sample = std::max<int64_t>(1, outputs / data.size());
  score.loss = loss_sum / static_cast<double>(outputs);
  return score;
}

double HeldOutAccuracy(ComposedModel& model, const ImageDataset& data, int64_t batch_size) {
  return HeldOutScores(model, data, batch_size).accuracy;
}

void TrainStep(ComposedModel& model, torch::optim::Optimizer& optimizer, const ImageDataset& train, int64_t batch,
               int64_t micro_batch) {
  torch::Tensor index = torch::randint(0, train.size(), {std::min(batch, train.size())}, torch::kInt64);
  const int64_t n = index.size(0);
  const int64_t chunk = micro_batch > 0 ? std::min(micro_batch, n) : n;
  optimizer.zero_grad();
  for (int64_t b = 0; b < n; b += chunk) {
    torch::Tensor part = index.slice(0, b, std::min(b + chunk, n));
    torch::Tensor loss = OutputLoss(model.ForwardRaw(train.images.index_select(0, part)), train.labels.index_select(0, part));
    (loss * (static_cast<double>(part.size(0)) / static_cast<double>(n))).backward();
  }
  optimizer.step();
}

absl::StatusOr<std::pair<std::vector<double>, std::vector<std::pair<int64_t, double>>>> RetrainCurve(
    const BlockModel& base, const std::vector<BlockChoice>& choices,
    const ImageDataset& train, const ImageDataset& eval, const std::vector<int64_t>& checkpoints, int64_t batch,
    double learning_rate, double weight_decay, uint64_t seed) {
  ASSIGN_OR_RETURN(auto model, ComposedModel::Create(base, choices));
  std::vector<double> shares;
  for (size_t k = 0; k < choices.size(); ++k) {
    int64_t block_parameters = 0;
    for (const ParamSpec& p : base.layout()[k].params) block_parameters += base.parameters().at(p.name).numel();
    double share = 0;
    if (choices[k].kind == BlockChoice::Kind::kTrain) share = 1;
    if (choices[k].kind == BlockChoice::Kind::kProxy) {
      share = static_cast<double>(model->TrainableCount(k)) /
              static_cast<double>(block_parameters);
    }
    shares.push_back(share);
  }
  std::vector<std::pair<int64_t, double>> curve;
  try {
    torch::optim::AdamW optimizer(model->TrainableParameters(),
                                  torch::optim::AdamWOptions(learning_rate).weight_decay(weight_decay));
    torch::manual_seed(seed);
    int64_t done = 0;
    for (int64_t target : checkpoints) {
      for (; done < target; ++done) TrainStep(*model, optimizer, train, batch);
      curve.push_back({target, HeldOutAccuracy(*model, eval)});
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("probe run failed: ", e.what_without_backtrace()));
  }
  return std::make_pair(shares, curve);
}

double PredictCurveRunSeconds(const std::vector<BlockProfile>& costs, const std::vector<BlockChoice>& choices,
                              const std::vector<int64_t>& checkpoints, int64_t eval_samples, int64_t batch) {
  if (costs.size() != choices.size() || checkpoints.empty() || batch < 1) return 0;
  size_t first = choices.size();
  for (size_t k = 0; k < choices.size(); ++k) {
    if (choices[k].kind != BlockChoice::Kind::kFrozen) {
      first = k;
      break;
    }
  }
  double iteration = 0, forward = 0;
  for (size_t k = 0; k < costs.size(); ++k) {
    const BlockProfile& b = costs[k];
    if (b.options.empty()) return 0;
    forward += b.prefix_seconds;
    if (k < first) {
      iteration += b.prefix_seconds;
      continue;
    }
    // The option probed for this form; a proxy of a sparsity not probed costs at most the whole layer trained.
    const BlockOption* option = nullptr;
    const BlockOption* train = nullptr;
    for (const BlockOption& o : b.options) {
      if (o.form.Name() == choices[k].Name()) option = &o;
      if (o.form.kind == BlockChoice::Kind::kTrain) train = &o;
    }
    if (option == nullptr) option = choices[k].kind == BlockChoice::Kind::kFrozen ? &b.options[0] : train;
    if (option == nullptr) return 0;
    iteration += option->seconds;
  }
  const double evals = static_cast<double>(checkpoints.size()) * forward * static_cast<double>(eval_samples) /
                       static_cast<double>(batch);
  return static_cast<double>(*std::max_element(checkpoints.begin(), checkpoints.end())) * iteration + evals;
}

absl::StatusOr<CurveProbeResult> ProbeRetrainingCurves(
    const BlockModel& deployed, const ImageDataset& labeled, const CurveProbeOptions& o,
    std::function<std::chrono::steady_clock::time_point()> clock) {
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  if (o.checkpoints.empty()) return absl::InvalidArgumentError("no checkpoints to probe");
  const int64_t holdout = HeldOutCount(labeled.size(), o.holdout_fraction);
  if (holdout < 1 || labeled.size() - holdout < 1) {
    return absl::FailedPreconditionError(absl::StrCat("too few labeled samples (", labeled.size(), ") to probe"));
  }
  const ImageDataset train = labeled.Slice(0, labeled.size() - holdout);
  const ImageDataset eval = labeled.Slice(labeled.size() - holdout, labeled.size());
  const auto start = clock();
  const auto deadline = start + o.time_budget;
  const size_t n = deployed.num_blocks();

  // Runs in order of what the law needs most: how far retraining goes (everything), how blocks compare (each
  // alone), how gains combine (mixed plans), how proxies compare (each proxy alone).
  std::vector<std::vector<BlockChoice>> runs;
  runs.push_back(std::vector<BlockChoice>(n, BlockChoice{BlockChoice::Kind::kTrain, 0}));
  for (size_t k = 0; k < n; ++k) {
    std::vector<BlockChoice> single(n);
    single[k] = {BlockChoice::Kind::kTrain, 0};
    runs.push_back(single);
  }
  std::mt19937 rng(static_cast<uint32_t>(o.seed));
  for (int p = 0; p < o.multi_block_plans && n >= 2; ++p) {
    std::vector<BlockChoice> mixed(n);
    int trained = 0;
    while (trained < 2) {
      trained = 0;
      for (size_t k = 0; k < n; ++k) {
        const bool train = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
        mixed[k] = train ? BlockChoice{BlockChoice::Kind::kTrain, 0} : BlockChoice{};
        trained += train;
      }
    }
    runs.push_back(mixed);
  }
  for (size_t k = 1; k + 1 < n && deployed.HasLayerForms(k); ++k) {
    for (double s : o.proxy_sparsities) {
      std::vector<BlockChoice> proxy(n);
      proxy[k] = {BlockChoice::Kind::kProxy, s};
      runs.push_back(proxy);
    }
  }

  CurveProbeResult result;
  ASSIGN_OR_RETURN(auto frozen, ComposedModel::Create(deployed, std::vector<BlockChoice>(n)));
  result.acc0 = HeldOutAccuracy(*frozen, eval);
  std::chrono::steady_clock::duration longest{0};
  double slowdown = 1;  // the largest measured / predicted ratio of the runs so far (the machine's load now)
  auto now = clock();
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto run_start = now;  // a skipped run reads no clock
    const double predicted = PredictCurveRunSeconds(o.costs, runs[r], o.checkpoints, eval.size(), o.batch);
    if (o.pinned_runs > 0) {
      if (static_cast<int>(r) >= o.pinned_runs) {
        result.budget_exhausted = true;
        break;
      }
    } else if (predicted > 0) {
      const auto expected = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(predicted * slowdown));
      if (run_start + expected > deadline) {
        result.budget_exhausted = true;
        continue;  // a cheaper run later in the order may still fit
      }
    } else if (run_start + longest > deadline) {
      result.budget_exhausted = true;
      break;
    }
    ASSIGN_OR_RETURN(auto run, RetrainCurve(deployed, runs[r], train, eval, o.checkpoints, o.batch,
                                            o.learning_rate, o.weight_decay, o.seed + r));
    for (const auto& [q, accuracy] : run.second) result.points.push_back({run.first, static_cast<double>(q), accuracy});
    ++result.runs;
    now = clock();
    const auto took = now - run_start;
    longest = std::max(longest, took);
    if (predicted > 0) slowdown = std::max(slowdown, std::chrono::duration<double>(took).count() / predicted);
  }
  result.seconds = std::chrono::duration<double>(clock() - start).count();
  return result;
}

}  // namespace bt
