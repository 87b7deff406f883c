#include "edge/predictor.h"

#include <stdexcept>

namespace bt {

absl::StatusOr<std::unique_ptr<BatchingPredictor>> BatchingPredictor::Create(const BlockModel& model,
                                                                            const VitConfig& config,
                                                                            const PredictorOptions& options) {
  if (options.max_batch < 1) return absl::InvalidArgumentError("predictor max_batch must be positive");
  std::unique_ptr<BatchingPredictor> p(new BatchingPredictor(options));
  RETURN_IF_ERROR(p->Deploy(model, config));
  p->worker_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

BatchingPredictor::~BatchingPredictor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

absl::Status BatchingPredictor::Deploy(const BlockModel& model, const VitConfig& config) {
  ComposeOptions compose;
  compose.int8_prefix = options_.int8;
  ASSIGN_OR_RETURN(auto composed,
                   ComposedModel::Create(model, config, std::vector<BlockChoice>(model.num_blocks()), compose));
  const std::vector<int64_t> shape = {config.channels, config.image_size, config.image_size};
  std::lock_guard<std::mutex> lock(model_mu_);
  if (!input_shape_.empty() && input_shape_ != shape) {
    return absl::InvalidArgumentError("the new model takes another input shape than the one being served");
  }
  if (input_shape_.empty()) input_shape_ = shape;  // set once, before any Submit
  model_ = std::move(composed);
  return absl::OkStatus();
}

std::future<Prediction> BatchingPredictor::Submit(torch::Tensor image) {
  Request r{std::move(image), {}};
  std::future<Prediction> future = r.promise.get_future();
  if (!r.image.defined() || r.image.sizes().vec() != input_shape_ || r.image.scalar_type() != torch::kFloat32) {
    r.promise.set_exception(std::make_exception_ptr(std::invalid_argument(
        r.image.defined() ? absl::StrCat("image of shape ", c10::str(r.image.sizes()), " and type ",
                                         c10::toString(r.image.scalar_type()), "; the model takes F32 ",
                                         c10::str(c10::IntArrayRef(input_shape_)))
                          : "empty image")));
    return future;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(r));
  }
  cv_.notify_one();
  return future;
}

PredictorStats BatchingPredictor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void BatchingPredictor::Run() {
  while (true) {
    std::vector<Request> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      // Wait a little for a fuller batch, unless it is already full or we are stopping.
      const auto deadline = std::chrono::steady_clock::now() + options_.max_delay;
      cv_.wait_until(lock, deadline, [this] {
        return stopping_ || static_cast<int64_t>(queue_.size()) >= options_.max_batch;
      });
      while (!queue_.empty() && static_cast<int64_t>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.served += static_cast<int64_t>(batch.size());
      ++stats_.batches;
    }
    try {
      std::vector<torch::Tensor> images;
      for (Request& r : batch) images.push_back(r.image);
      torch::NoGradGuard no_grad;
      torch::Tensor logits;
      {
        std::lock_guard<std::mutex> lock(model_mu_);
        logits = model_->Forward(NormalizeImages(torch::stack(images)));
      }
      auto [confidence, label] = torch::softmax(logits, 1).max(1);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].promise.set_value(
            {label[static_cast<int64_t>(i)].item<int64_t>(), confidence[static_cast<int64_t>(i)].item<float>()});
      }
    } catch (const std::exception& e) {
      // Inputs were checked at Submit; should the model still fail, answer each request rather than leave it hanging.
      for (Request& r : batch) {
        try {
          r.promise.set_exception(std::make_exception_ptr(std::runtime_error(e.what())));
        } catch (const std::future_error&) {
        }
      }
    }
  }
}

}  // namespace bt
