// The scenario simulator: streams a drift scenario's samples, domain after domain, into the sample buffer at a
// given rate (or as fast as possible for benchmarks), as a camera would. Labels arrive for the share of samples
// the domain's labeled_fraction says. Deterministic for the scenario's seed. A text scenario (`dataset: text`)
// streams token sequences (its files tokenized by the model's tokenizer), one sample per sequence.
//
// Run() blocks the calling thread until the scenario is exhausted or `cancel` fires; a daemon runs it on a
// thread it owns. Not thread-safe itself; the buffer is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/base/cancel.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "common/text/tokenizer.h"
#include "common/base/status.h"
#include "edge/intake/sample_buffer.h"

namespace bt {

struct FeedResult {
  int64_t samples = 0;
  int64_t labeled = 0;
  double seconds = 0;
  bool cancelled = false;
};

class ScenarioFeeder {
 public:
  // Materialises the scenario's stream from `source` (the dataset's stream split). `buffer` must outlive the
  // feeder. `rate` is samples per second; 0 = as fast as possible.
  static absl::StatusOr<std::unique_ptr<ScenarioFeeder>> Create(const Scenario& scenario, const ImageDataset& source,
                                                                SampleBuffer* buffer, double rate);
  // A text scenario, tokenized by `tokenizer` (the served model's).
  static absl::StatusOr<std::unique_ptr<ScenarioFeeder>> CreateText(const Scenario& scenario,
                                                                    const Tokenizer& tokenizer, SampleBuffer* buffer,
                                                                    double rate);
  absl::StatusOr<FeedResult> Run(const CancelToken* cancel);
  // Feeds only the domain entry `index` (in scenario order), as fast as possible: the per-window simulator mode.
  absl::StatusOr<FeedResult> FeedDomain(size_t index, const CancelToken* cancel);
  size_t num_domains() const { return data_.windows.size(); }
  const std::string& domain_name(size_t index) const { return data_.windows[index].domain; }

 private:
  ScenarioFeeder(ScenarioData data, bool text, SampleBuffer* buffer, double rate)
      : data_(std::move(data)), text_(text), buffer_(buffer), rate_(rate) {}
  // Sample `i` of `window`, as the buffer stores it.
  Sample At(const DomainWindow& window, int64_t i, int64_t timestamp_ms) const;

  ScenarioData data_;
  bool text_;
  SampleBuffer* buffer_;
  double rate_;
};

// Converts one [0, 1] image (C, H, W) to a buffer sample.
Sample ToSample(const torch::Tensor& image, int32_t label, int64_t timestamp_ms, const std::string& source);
// Converts one text sequence — `inputs` (T) int64 token ids and `targets` (T) the token after each — to a buffer
// sample (label 0, or -1 when unlabeled).
Sample ToTextSample(const torch::Tensor& inputs, const torch::Tensor& targets, bool labeled, int64_t timestamp_ms,
                    const std::string& source);
// Converts buffer samples back to a batch: images (N, C, H, W) in [0, 1] plus labels (-1 for unlabeled); text
// (N, T) input ids plus (N, T) next tokens. All samples must be of one kind and shape (see WindowableSamples).
ImageDataset FromSamples(const std::vector<Sample>& samples);
// Which of `samples` carry their label: bool (N).
torch::Tensor LabeledMask(const std::vector<Sample>& samples);
// What a window can train on: the samples of the newest one's kind and shape (older ones may come from a model of
// another input size or family), and for text only those whose token ids are below `vocab_size`. `dropped`
// (optional) gets how many were left out.
std::vector<Sample> WindowableSamples(std::vector<Sample> samples, int64_t vocab_size, size_t* dropped = nullptr);
// What an edge reads back from its buffer after the simulator fed it `stream` (`labeled_mask`: bool (N)): the
// images through 8 bits, the labels of unlabeled samples -1. bt-bench trains every method on exactly this.
ImageDataset ThroughBuffer(const ImageDataset& stream, const torch::Tensor& labeled_mask);

}  // namespace bt
