// Serving predictions on the edge: callers submit single images from any thread; one worker forms batches (up to
// `max_batch`, or whatever arrived within `max_delay` of the first waiting image) and runs the current model on
// them. After a window the edge swaps in its retrained model between two batches; callers never see a half-swapped
// model. The serving model is all frozen, optionally stored int8 weight-only (ComposeOptions::int8_prefix).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/base/status.h"

namespace bt {

struct Prediction {
  int64_t label = -1;
  float confidence = 0;  // top softmax probability
};

struct PredictorOptions {
  int64_t max_batch = 64;
  std::chrono::microseconds max_delay{2000};
  bool int8 = true;  // serve with int8 weight-only blocks
};

struct PredictorStats {
  int64_t served = 0;
  int64_t batches = 0;
};

class BatchingPredictor {
 public:
  static absl::StatusOr<std::unique_ptr<BatchingPredictor>> Create(const BlockModel& model, const VitConfig& config,
                                                                     const PredictorOptions& options);
  ~BatchingPredictor();  // finishes what was submitted, then stops

  // `image`: (C, H, W) in [0, 1], F32. An image of another shape or type fails its own future (std::invalid_argument)
  // at once and never reaches a batch.
  std::future<Prediction> Submit(torch::Tensor image);
  // Replaces the serving model by one composed from `model` (waits for the batch in flight).
  absl::Status Deploy(const BlockModel& model, const VitConfig& config);
  PredictorStats stats() const;

 private:
  explicit BatchingPredictor(const PredictorOptions& options) : options_(options) {}
  void Run();
  struct Request {
    torch::Tensor image;
    std::promise<Prediction> promise;
  };
  PredictorOptions options_;
  std::unique_ptr<ComposedModel> model_;  // guarded by model_mu_
  std::vector<int64_t> input_shape_;       // (C, H, W), fixed by the first model
  std::mutex model_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  PredictorStats stats_;       // guarded by mu_
  std::thread worker_;
};

}  // namespace bt
