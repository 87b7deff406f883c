// The training loop shared by pretraining (cloud) and retraining (edge): AdamW over the model's trainable
// parameters, linear warm-up then cosine decay, cross-entropy with optional label smoothing; plus evaluation.
//
// A Trainer borrows its BlockModel (which must outlive it) and is not thread-safe. LibTorch exceptions are
// caught and returned as Status.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "common/model/block_model.h"
#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/data/dataset.h"
#include "common/base/status.h"

namespace bt {

struct TrainOptions {
  double learning_rate = 1e-3;    // peak learning rate
  double weight_decay = 0.05;     // AdamW decoupled weight decay
  double warmup_fraction = 0.05;  // share of total_steps spent warming up linearly
  double label_smoothing = 0.0;   // cross-entropy label smoothing
  int64_t total_steps = 1000;     // length of the schedule; steps past it use the final learning rate
};

class Trainer {
 public:
  // Fails if the model has no trainable parameters or the options are out of range.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(BlockModel* model, const TrainOptions& options);

  // One optimiser step on a batch: `inputs` normalised (N, C, H, W), `labels` int64 (N). Returns the batch loss.
  absl::StatusOr<float> Step(const torch::Tensor& inputs, const torch::Tensor& labels);
  // Learning rate the next Step will use.
  double LearningRate() const;
  int64_t steps_done() const { return steps_; }

 private:
  Trainer(BlockModel* model, const TrainOptions& options, std::vector<torch::Tensor> params);
  BlockModel* model_;
  TrainOptions options_;
  torch::optim::AdamW optimizer_;
  int64_t steps_ = 0;
};

struct EvalResult {
  int64_t correct = 0;
  int64_t total = 0;
  double loss_sum = 0;  // cross-entropy summed over the scored outputs
  double seconds = 0;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
  double mean_loss() const { return total > 0 ? loss_sum / static_cast<double>(total) : 0.0; }
  double perplexity() const { return std::exp(mean_loss()); }
};

// Top-1 accuracy of `model` on `data` (no gradients, eval mode).
absl::StatusOr<EvalResult> Evaluate(BlockModel* model, const ImageDataset& data, int64_t batch_size = 500);

struct PretrainResult {
  int64_t steps = 0;
  int64_t images = 0;
  double seconds = 0;
  double final_loss = 0;   // mean loss of the last epoch
  bool cancelled = false;  // stopped early by the cancel token; the model holds the weights reached so far
};

// Trains every parameter of `model` on `train` for options.epochs with a deterministic shuffle (options.seed),
// logging a progress line every options.progress_interval. Checks `cancel` between steps.
absl::StatusOr<PretrainResult> Pretrain(BlockModel* model, const ImageDataset& train, const PretrainOptions& options,
                                        const CancelToken* cancel);

}  // namespace bt
