#include "edge/window/retrain_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/model/memory_meter.h"
#include "edge/window/curve_probe.h"
#include "common/base/units.h"

namespace bt {

namespace {

// Information maximisation: mean per-sample prediction entropy (pushes toward confident predictions) minus the
// entropy of the mean prediction (keeps predictions spread over the classes, so not everything collapses onto one).
torch::Tensor InformationMaximisationLoss(const torch::Tensor& logits) {
  torch::Tensor log_p = torch::log_softmax(logits, 1);
  torch::Tensor p = log_p.exp();
  torch::Tensor entropy = -(p * log_p).sum(1).mean();
  torch::Tensor mean_p = p.mean(0);
  torch::Tensor diversity = (mean_p * torch::log(mean_p + 1e-8)).sum();
  return entropy + diversity;
}

double HeldOutObjective(ComposedModel& model, const torch::Tensor& images, int64_t batch) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> logits;
  for (int64_t b = 0; b < images.size(0); b += batch) {
    logits.push_back(model.ForwardRaw(images.slice(0, b, std::min(b + batch, images.size(0)))));
  }
  return InformationMaximisationLoss(torch::cat(logits)).item<double>();
}

// Pseudo-labels by feature clustering (SHOT): class centroids weighted by the model's predictions, each sample
// labelled by its nearest centroid (cosine), then centroids recomputed from those labels and samples relabelled.
torch::Tensor ClusterPseudoLabels(ComposedModel& model, const torch::Tensor& images, int64_t batch) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> features, probs;
  for (int64_t b = 0; b < images.size(0); b += batch) {
    torch::Tensor f;
    torch::Tensor logits = model.ForwardRaw(images.slice(0, b, std::min(b + batch, images.size(0))), &f);
    features.push_back(torch::nn::functional::normalize(f, torch::nn::functional::NormalizeFuncOptions().dim(1)));
    probs.push_back(torch::softmax(logits, 1));
  }
  torch::Tensor f = torch::cat(features), p = torch::cat(probs);
  torch::Tensor weights = p;
  torch::Tensor labels;
  for (int round = 0; round < 2; ++round) {
    torch::Tensor centroids = weights.t().matmul(f) / (weights.sum(0).unsqueeze(1) + 1e-8);
    centroids = torch::nn::functional::normalize(centroids, torch::nn::functional::NormalizeFuncOptions().dim(1));
    labels = f.matmul(centroids.t()).argmax(1);
    weights = torch::one_hot(labels, p.size(1)).to(torch::kFloat32);
  }
  return labels;
}

// With micro-batches the diversity term is computed per chunk (an approximation of the whole batch's).
void LabelFreeStep(ComposedModel& model, torch::optim::Optimizer& optimizer, const torch::Tensor& images,
                   const torch::Tensor& pseudo_labels, int64_t batch, int64_t micro_batch,
                   double pseudo_label_weight) {
  torch::Tensor index = torch::randint(0, images.size(0), {std::min(batch, images.size(0))}, torch::kInt64);
  const int64_t n = index.size(0);
  const int64_t chunk = micro_batch > 0 ? std::min(micro_batch, n) : n;
  optimizer.zero_grad();
  for (int64_t b = 0; b < n; b += chunk) {
    torch::Tensor part = index.slice(0, b, std::min(b + chunk, n));
    torch::Tensor logits = model.ForwardRaw(images.index_select(0, part));
    torch::Tensor loss = InformationMaximisationLoss(logits) +
                         pseudo_label_weight *
                             torch::nn::functional::cross_entropy(logits, pseudo_labels.index_select(0, part));
    (loss * (static_cast<double>(part.size(0)) / static_cast<double>(n))).backward();
  }
  optimizer.step();
}

}  // namespace

absl::StatusOr<RetrainResult> RetrainWindow(const BlockModel& deployed,
                                            const std::vector<BlockChoice>& requested_plan,
                                            const ImageDataset& labeled, const RetrainOptions& o,
                                            const CancelToken* cancel, SteadyClock clock,
                                            std::unique_ptr<RetrainState> resume) {
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  const uint64_t held = resume ? static_cast<uint64_t>(std::max<int64_t>(0, resume->held_bytes)) : 0;
  if (o.predicted_peak_bytes > o.memory_budget ||
      (resume && std::max(o.predicted_peak_bytes, held) > o.memory_budget)) {
    return absl::FailedPreconditionError(absl::StrCat("plan refused: predicted peak ",
                                                      FormatBytes(std::max(o.predicted_peak_bytes, held)),
                                                      " exceeds the memory budget ", FormatBytes(o.memory_budget)));
  }
  if (o.batch < 1 || o.max_iterations < 1 || o.eval_every < 1) {
    return absl::InvalidArgumentError("batch, max_iterations and eval_every must be positive");
  }
  if ((o.keep_state || resume) && o.label_free) {
    return absl::InvalidArgumentError("a label-free run cannot be kept or continued");
  }
  const int64_t holdout = HeldOutCount(labeled.size(), o.holdout_fraction);
  if (holdout < 1 || labeled.size() - holdout < 1) {
    return absl::FailedPreconditionError(absl::StrCat("too few samples (", labeled.size(),
                                                      ") for a training set and a held-out slice"));
  }
  std::vector<BlockChoice> plan = requested_plan;
  if (o.label_free && !plan.empty()) plan.back() = BlockChoice{};  // the head (source hypothesis) stays frozen
  if (resume && (resume->deployed != &deployed || resume->plan != plan || !resume->model || !resume->optimizer)) {
    return absl::InvalidArgumentError("retrain: the state to continue belongs to another model or plan");
  }
  const auto start = clock();
  const auto deadline = start + o.time_budget;
  MemoryMeter& meter = MemoryMeter::Install();
  // A continued run's state was allocated before this call: its bytes count as if allocated here.
  const int64_t baseline = meter.current_bytes() - static_cast<int64_t>(held);
  meter.ResetPeak();

  RetrainResult result;
  try {
    // A fixed split: the most recent samples are held out, the rest train.
    ImageDataset train = labeled.Slice(0, labeled.size() - holdout);
    ImageDataset held_out = labeled.Slice(labeled.size() - holdout, labeled.size());
    std::unique_ptr<RetrainState> state = std::move(resume);
    const bool fresh = state == nullptr;
    if (fresh) {
      state = std::make_unique<RetrainState>();
      state->deployed = &deployed;
      state->plan = plan;
      ASSIGN_OR_RETURN(state->model, ComposedModel::Create(deployed, plan));
    }
    ComposedModel* model = state->model.get();
    if (model->first_trainable() < 0) {
      return absl::InvalidArgumentError(o.label_free ? "the plan trains no block but the head, which label-free "
                                                       "mode keeps frozen"
                                                     : "the plan trains no block");
    }
    // Higher is better: held-out accuracy (ties: the lower loss), or (label-free) the negated
    // information-maximisation loss.
    const int64_t eval_batch = o.micro_batch > 0 ? o.micro_batch : o.batch;  // its working memory counts too
    auto score_of = [&](ComposedModel& m) {
      return o.label_free ? HeldOutScore{-HeldOutObjective(m, held_out.images, eval_batch), 0}
                          : HeldOutScores(m, held_out, eval_batch);
    };
    auto score = [&] {
      const auto eval_start = clock();
      HeldOutScore scored = score_of(*model);
      result.eval_seconds += std::chrono::duration<double>(clock() - eval_start).count();
      ++result.evaluations;
      return scored;
    };
    // Proxies (train@s, lora@s) and adapters make the composed model differ from what is deployed before training
    // and from what would be deployed after (full blocks with the proxies written back): the decision to deploy
    // must compare those two, not the composed model's own scores.
    const bool reshaped = std::any_of(plan.begin(), plan.end(), [](const BlockChoice& c) {
      return c.kind == BlockChoice::Kind::kProxy || c.kind == BlockChoice::Kind::kLora;
    });
    auto score_full = [&](const BlockModel& full) -> absl::StatusOr<HeldOutScore> {
      ASSIGN_OR_RETURN(auto frozen, ComposedModel::Create(full, std::vector<BlockChoice>(plan.size())));
      return score_of(*frozen);
    };
    torch::Tensor pseudo_labels;
    if (fresh) {
      // The composed model before training (keep-best's baseline); its time is what an evaluation costs, reserved
      // before the deadline from the first iteration on.
      const auto baseline_start = clock();
      state->score_before = score();
      state->eval_cost = clock() - baseline_start;
      if (o.on_evaluation) o.on_evaluation(0, state->score_before, *model);
      state->deployed_score = state->score_before;
      if (reshaped) {
        const auto full_start = clock();  // within train_seconds: an evaluation too
        ASSIGN_OR_RETURN(state->deployed_score, score_full(deployed));
        result.eval_seconds += std::chrono::duration<double>(clock() - full_start).count();
        ++result.evaluations;
      }
      state->choice.Offer(state->score_before);
      if (o.label_free) pseudo_labels = ClusterPseudoLabels(*model, train.images, eval_batch);
      state->best = model->SnapshotTrainable();
      state->optimizer = std::make_unique<torch::optim::AdamW>(
          model->TrainableParameters(), torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
      torch::manual_seed(o.seed);
    } else {
      // Another stream of batches than the run so far drew (deterministic in the seed and where it stopped).
      torch::manual_seed(o.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(state->iterations));
    }
    const HeldOutScore score_before = state->score_before;
    const HeldOutScore deployed_score = state->deployed_score;
    CheckpointChoice& choice = state->choice;
    std::vector<torch::Tensor>& best = state->best;
    torch::optim::AdamW& optimizer = *state->optimizer;
    std::chrono::steady_clock::duration& eval_cost = state->eval_cost;
    int64_t& evaluated = state->evaluated;  // the last iteration scored
    result.resumed_from = state->iterations;
    result.iterations = state->iterations;
    result.best_iteration = state->best_iteration;
    result.stop_reason = "iterations";
    for (int64_t it = state->iterations + 1; it <= o.max_iterations; ++it) {
      if (cancel != nullptr && cancel->cancelled()) {
        result.stop_reason = "cancelled";
        break;
      }
      // Reserve one evaluation's time so the final decision still fits in the window.
      if (clock() + eval_cost >= deadline) {
        result.stop_reason = "deadline";
        break;
      }
      if (o.label_free) {
        LabelFreeStep(*model, optimizer, train.images, pseudo_labels, o.batch, o.micro_batch,
                      o.pseudo_label_weight);
      } else {
        TrainStep(*model, optimizer, train, o.batch, o.micro_batch);
      }
      result.iterations = it;
      if (o.on_iteration) o.on_iteration(it);
      if (meter.peak_bytes() - baseline > static_cast<int64_t>(o.memory_budget)) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "retraining stopped at iteration ", it, ": measured peak ", FormatBytes(meter.peak_bytes() - baseline),
            " crossed the memory budget ", FormatBytes(o.memory_budget), "; the deployed model stays"));
      }
      if (it % o.eval_every == 0 || it == o.max_iterations) {
        const auto eval_start = clock();
        const HeldOutScore current = score();
        evaluated = it;
        if (o.on_evaluation) o.on_evaluation(it, current, *model);
        if (o.label_free && it < o.max_iterations) pseudo_labels = ClusterPseudoLabels(*model, train.images, eval_batch);
        eval_cost = clock() - eval_start;
        if (choice.Offer(current)) {
          result.best_iteration = it;
          best = model->SnapshotTrainable();
        }
      }
    }
    // Stopped between evaluations (the deadline or a cancel): the iterations since the last one count too — the
    // reserve above kept time for this evaluation.
    if (result.iterations > evaluated && result.stop_reason != "cancelled") {
      const HeldOutScore current = score();
      evaluated = result.iterations;
      if (o.on_evaluation) o.on_evaluation(result.iterations, current, *model);
      if (choice.Offer(current)) {
        result.best_iteration = result.iterations;
        best = model->SnapshotTrainable();
      }
    }
    state->iterations = result.iterations;
    state->best_iteration = result.best_iteration;
    result.train_seconds = std::chrono::duration<double>(clock() - start).count();
    state->train_seconds += result.train_seconds;
    result.peak_bytes = meter.peak_bytes() - baseline;
    // Keep-best, and never worse than what is deployed: what would be deployed (for reshaped plans, the full blocks
    // with the best checkpoint written back) must beat the deployed model on the held-out slice. A kept run goes on
    // from its last iteration, not from its best: its current weights come back afterwards.
    HeldOutScore after = choice.kept();
    bool better = result.best_iteration > 0 && ScoresAbove(after, score_before);
    std::vector<torch::Tensor> current;
    if (better && o.keep_state) current = model->SnapshotTrainable();
    if (better) model->RestoreTrainable(best);
    if (better && reshaped) {
      ASSIGN_OR_RETURN(auto trained, model->TrainedBlocks(deployed));
      ASSIGN_OR_RETURN(auto candidate, CreateModel(deployed.arch(), 0));
      for (const BlockSpec& block : deployed.layout()) {
        auto it = trained.find(block.name);
        if (it != trained.end()) {
          RETURN_IF_ERROR(candidate->SetBlock(block.name, it->second));
        } else {
          ASSIGN_OR_RETURN(TensorMap weights, deployed.GetBlock(block.name));
          RETURN_IF_ERROR(candidate->SetBlock(block.name, weights));
        }
      }
      ASSIGN_OR_RETURN(after, score_full(*candidate));
      better = ScoresAbove(after, deployed_score);
      if (!better) {
        spdlog::info("retrain: the proxies written back into full blocks score {:.4f} (loss {:.4f}) on the held-out "
                     "slice (the composed model {:.4f}), not above the deployed model's {:.4f} (loss {:.4f})",
                     after.accuracy, after.loss, choice.kept().accuracy, deployed_score.accuracy, deployed_score.loss);
      }
    }
    if (o.label_free) {
      result.objective_before = -deployed_score.accuracy;
      result.objective_after = -after.accuracy;
    } else {
      result.accuracy_before = deployed_score.accuracy;
      result.accuracy_after = after.accuracy;
      result.loss_before = deployed_score.loss;
      result.loss_after = after.loss;
      result.hits_before = deployed_score.hits;
      result.hits_after = after.hits;
      result.outputs_per_sample = after.outputs_per_sample;
    }
    result.deployed = better;
    if (o.keep_state) {
      if (!current.empty()) model->RestoreTrainable(current);
      result.state = std::move(state);
    } else if (better) {
      result.model = std::move(state->model);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("retraining failed: ", e.what_without_backtrace()));
  }
  if (result.state) result.state->held_bytes = meter.current_bytes() - baseline;
  spdlog::info("retrain: {} iterations ({}), held-out {} -> {}, peak {}, {}", result.iterations,
               result.stop_reason,
               o.label_free ? absl::StrFormat("IM loss %.3f", result.objective_before)
                            : absl::StrFormat("accuracy %.1f%%", 100 * result.accuracy_before),
               o.label_free ? absl::StrFormat("%.3f", result.objective_after)
                            : absl::StrFormat("%.1f%%", 100 * result.accuracy_after),
               FormatBytes(static_cast<uint64_t>(std::max<int64_t>(0, result.peak_bytes))),
               result.deployed ? "deployed" : "deployed model kept");
  return result;
}

}  // namespace bt
