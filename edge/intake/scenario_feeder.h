// The scenario simulator: streams a drift scenario's samples, domain after domain, into the sample buffer at a
// given rate (or as fast as possible for benchmarks), as a camera would. Labels arrive for the share of samples
// the domain's labeled_fraction says. Deterministic for the scenario's seed.
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
  absl::StatusOr<FeedResult> Run(const CancelToken* cancel);
  // Feeds only the domain entry `index` (in scenario order), as fast as possible: the per-window simulator mode.
  absl::StatusOr<FeedResult> FeedDomain(size_t index, const CancelToken* cancel);
  size_t num_domains() const { return data_.windows.size(); }
  const std::string& domain_name(size_t index) const { return data_.windows[index].domain; }

 private:
  ScenarioFeeder(ScenarioData data, SampleBuffer* buffer, double rate)
      : data_(std::move(data)), buffer_(buffer), rate_(rate) {}
  ScenarioData data_;
  SampleBuffer* buffer_;
  double rate_;
};

// Converts one [0, 1] image (C, H, W) to a buffer sample.
Sample ToSample(const torch::Tensor& image, int32_t label, int64_t timestamp_ms, const std::string& source);
// Converts buffer samples back to a batch (N, C, H, W) in [0, 1] plus labels (-1 for unlabeled).
ImageDataset FromSamples(const std::vector<Sample>& samples);
// What an edge reads back from its buffer after the simulator fed it `stream` (`labeled_mask`: bool (N)): the
// images through 8 bits, the labels of unlabeled samples -1. bt-bench trains every method on exactly this.
ImageDataset ThroughBuffer(const ImageDataset& stream, const torch::Tensor& labeled_mask);

}  // namespace bt
