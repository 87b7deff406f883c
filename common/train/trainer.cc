#include "common/train/trainer.h"

#include <chrono>
#include <cmath>

#include <spdlog/spdlog.h>

#include "absl/strings/str_format.h"
#include "common/base/logging.h"

namespace bt {

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(BlockModel* model, const TrainOptions& options) {
  if (!(options.learning_rate > 0)) return absl::InvalidArgumentError("learning_rate must be positive");
  if (options.total_steps < 1) return absl::InvalidArgumentError("total_steps must be at least 1");
  std::vector<torch::Tensor> params = model->TrainableParameters();
  if (params.empty()) return absl::FailedPreconditionError("the model has no trainable parameters");
  try {
    return std::unique_ptr<Trainer>(new Trainer(model, options, std::move(params)));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot create optimiser: ", e.what_without_backtrace()));
  }
}

Trainer::Trainer(BlockModel* model, const TrainOptions& options, std::vector<torch::Tensor> params)
    : model_(model),
      options_(options),
      optimizer_(std::move(params),
                 torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay)) {}

double Trainer::LearningRate() const {
  const double total = static_cast<double>(options_.total_steps);
  const double warmup = std::floor(options_.warmup_fraction * total);
  const double step = static_cast<double>(std::min(steps_, options_.total_steps - 1));
  if (step < warmup) return options_.learning_rate * (step + 1) / warmup;
  const double progress = (step - warmup) / std::max(1.0, total - warmup);
  return options_.learning_rate * 0.5 * (1.0 + std::cos(M_PI * progress));
}

absl::StatusOr<float> Trainer::Step(const torch::Tensor& inputs, const torch::Tensor& labels) {
  try {
    const double lr = LearningRate();
    for (auto& group : optimizer_.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    model_->SetTrainingMode(true);
    optimizer_.zero_grad();
    torch::Tensor logits = model_->Forward(inputs);
    torch::Tensor loss = OutputLoss(logits, labels, options_.label_smoothing);
    loss.backward();
    optimizer_.step();
    ++steps_;
    return loss.item<float>();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training step failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<EvalResult> Evaluate(BlockModel* model, const ImageDataset& data, int64_t batch_size) {
  EvalResult result;
  auto start = std::chrono::steady_clock::now();
  try {
    torch::NoGradGuard no_grad;
    model->SetTrainingMode(false);
    for (int64_t begin = 0; begin < data.size(); begin += batch_size) {
      int64_t end = std::min(begin + batch_size, data.size());
      ImageDataset batch = data.Slice(begin, end);
      const torch::Tensor logits = model->Forward(model->PrepareInput(batch.images));
      result.correct += CountCorrect(logits, batch.labels);
      result.loss_sum += OutputLoss(logits, batch.labels).item<double>() * static_cast<double>(batch.labels.numel());
      result.total += batch.labels.numel();
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what_without_backtrace()));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

absl::StatusOr<PretrainResult> Pretrain(BlockModel* model, const ImageDataset& train, const PretrainOptions& options,
                                        const CancelToken* cancel) {
  const int64_t n = train.size();
  if (n == 0) return absl::InvalidArgumentError("the training set is empty");
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  TrainOptions train_options;
  train_options.learning_rate = options.learning_rate;
  train_options.weight_decay = options.weight_decay;
  train_options.warmup_fraction = options.warmup_fraction;
  train_options.label_smoothing = options.label_smoothing;
  train_options.total_steps = steps_per_epoch * options.epochs;

  model->SetAllTrainable(true);
  ASSIGN_OR_RETURN(auto trainer, Trainer::Create(model, train_options));
  ProgressReporter progress("pretrain", train_options.total_steps, "steps", options.progress_interval);
  PretrainResult result;
  auto start = std::chrono::steady_clock::now();
  torch::manual_seed(static_cast<uint64_t>(options.seed) + 1);
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    torch::Tensor order = torch::randperm(n, torch::kInt64);
    double loss_sum = 0;
    int64_t batches = 0;
    for (int64_t begin = 0; begin < n; begin += options.batch_size) {
      if (cancel != nullptr && cancel->cancelled()) {
        result.cancelled = true;
        break;
      }
      torch::Tensor index = order.slice(0, begin, std::min(begin + options.batch_size, n));
      torch::Tensor inputs = model->PrepareInput(train.images.index_select(0, index));
      torch::Tensor labels = train.labels.index_select(0, index);
      ASSIGN_OR_RETURN(float loss, trainer->Step(inputs, labels));
      if (!std::isfinite(loss)) {
        return absl::InternalError(absl::StrCat("loss became ", loss, " at step ", trainer->steps_done(),
                                                "; lower pretrain.learning_rate"));
      }
      loss_sum += loss;
      ++batches;
      result.images += index.size(0);
      progress.Update(trainer->steps_done(), absl::StrFormat("epoch %d/%d, loss %.4f, lr %.2e", epoch + 1,
                                                             options.epochs, loss_sum / batches,
                                                             trainer->LearningRate()));
    }
    result.final_loss = batches > 0 ? loss_sum / batches : 0.0;
    if (result.cancelled) break;
    spdlog::info("pretrain: epoch {}/{} done, mean loss {:.4f}", epoch + 1, options.epochs, result.final_loss);
  }
  result.steps = trainer->steps_done();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace bt
