#include "edge/intake/scenario_feeder.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/base/logging.h"
#include "common/data/text_data.h"

namespace bt {

Sample ToSample(const torch::Tensor& image, int32_t label, int64_t timestamp_ms, const std::string& source) {
  torch::Tensor bytes = (image.clamp(0, 1) * 255.0).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  Sample s;
  s.timestamp_ms = timestamp_ms;
  s.label = label;
  s.channels = static_cast<uint8_t>(image.size(0));
  s.height = static_cast<uint16_t>(image.size(1));
  s.width = static_cast<uint16_t>(image.size(2));
  s.source = source.substr(0, 255);
  s.pixels.resize(static_cast<size_t>(bytes.numel()));
  std::memcpy(s.pixels.data(), bytes.data_ptr(), s.pixels.size());
  return s;
}

Sample ToTextSample(const torch::Tensor& inputs, const torch::Tensor& targets, bool labeled, int64_t timestamp_ms,
                    const std::string& source) {
  const torch::Tensor in = inputs.to(torch::kInt64).contiguous();
  const int64_t t = in.numel();
  Sample s;
  s.timestamp_ms = timestamp_ms;
  s.label = labeled ? 0 : -1;
  s.channels = 0;
  s.height = 0;
  s.width = 0;
  s.source = source.substr(0, 255);
  s.tokens.resize(static_cast<size_t>(t + 1));
  const int64_t* ids = in.data_ptr<int64_t>();
  for (int64_t i = 0; i < t; ++i) s.tokens[static_cast<size_t>(i)] = static_cast<int32_t>(ids[i]);
  s.tokens.back() = static_cast<int32_t>(targets[t - 1].item<int64_t>());
  return s;
}

torch::Tensor LabeledMask(const std::vector<Sample>& samples) {
  torch::Tensor mask = torch::empty({static_cast<int64_t>(samples.size())}, torch::kBool);
  auto m = mask.accessor<bool, 1>();
  for (size_t i = 0; i < samples.size(); ++i) m[static_cast<int64_t>(i)] = samples[i].labeled();
  return mask;
}

std::vector<Sample> WindowableSamples(std::vector<Sample> samples, int64_t vocab_size, size_t* dropped) {
  std::vector<Sample> kept;
  if (!samples.empty()) {
    const Sample& newest = samples.back();
    for (Sample& s : samples) {
      bool ok = s.channels == newest.channels && s.height == newest.height && s.width == newest.width &&
                s.tokens.size() == newest.tokens.size();
      if (ok && s.text()) {
        for (int32_t id : s.tokens) ok = ok && id < vocab_size;
      }
      if (ok) kept.push_back(std::move(s));
    }
  }
  if (dropped != nullptr) *dropped = samples.size() - kept.size();
  return kept;
}

ImageDataset FromSamples(const std::vector<Sample>& samples) {
  if (samples.empty()) return {torch::empty({0, 1, 28, 28}), torch::empty({0}, torch::kInt64)};
  const Sample& first = samples.front();
  const int64_t n = static_cast<int64_t>(samples.size());
  if (first.text()) {
    const int64_t t = static_cast<int64_t>(first.tokens.size()) - 1;
    torch::Tensor ids = torch::empty({n, t + 1}, torch::kInt64);
    auto a = ids.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<int32_t>& tokens = samples[static_cast<size_t>(i)].tokens;
      for (int64_t j = 0; j <= t; ++j) a[i][j] = j < static_cast<int64_t>(tokens.size()) ? tokens[j] : 0;
    }
    return {ids.slice(1, 0, t).contiguous(), ids.slice(1, 1, t + 1).contiguous()};
  }
  torch::Tensor images = torch::empty({n, first.height, first.width, first.channels}, torch::kUInt8);
  torch::Tensor labels = torch::empty({n}, torch::kInt64);
  auto label_ptr = labels.data_ptr<int64_t>();
  uint8_t* dst = images.data_ptr<uint8_t>();
  const size_t stride = first.pixels.size();
  for (int64_t i = 0; i < n; ++i) {
    // The buffer may mix sizes only if the model changed; such samples are skipped by callers beforehand.
    std::memcpy(dst + i * stride, samples[i].pixels.data(), std::min(stride, samples[i].pixels.size()));
    label_ptr[i] = samples[i].label;
  }
  return {images.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0).contiguous(), labels};
}

ImageDataset ThroughBuffer(const ImageDataset& stream, const torch::Tensor& labeled_mask) {
  std::vector<Sample> samples;
  samples.reserve(static_cast<size_t>(stream.size()));
  const torch::Tensor labels = stream.labels.to(torch::kInt64).contiguous();
  const torch::Tensor labeled = labeled_mask.to(torch::kBool).contiguous();
  for (int64_t i = 0; i < stream.size(); ++i) {
    const int32_t label = labeled[i].item<bool>() ? static_cast<int32_t>(labels[i].item<int64_t>()) : -1;
    samples.push_back(ToSample(stream.images[i], label, 0, ""));
  }
  return FromSamples(samples);
}

absl::StatusOr<std::unique_ptr<ScenarioFeeder>> ScenarioFeeder::Create(const Scenario& scenario,
                                                                       const ImageDataset& source,
                                                                       SampleBuffer* buffer, double rate) {
  if (rate < 0) return absl::InvalidArgumentError("feed rate must not be negative");
  if (scenario.text()) return absl::InvalidArgumentError(absl::StrCat(scenario.name, " is a text scenario"));
  ASSIGN_OR_RETURN(ScenarioData data, MaterializeScenario(scenario, source));
  return std::unique_ptr<ScenarioFeeder>(new ScenarioFeeder(std::move(data), false, buffer, rate));
}

absl::StatusOr<std::unique_ptr<ScenarioFeeder>> ScenarioFeeder::CreateText(const Scenario& scenario,
                                                                           const Tokenizer& tokenizer,
                                                                           SampleBuffer* buffer, double rate) {
  if (rate < 0) return absl::InvalidArgumentError("feed rate must not be negative");
  if (!scenario.text()) return absl::InvalidArgumentError(absl::StrCat(scenario.name, " is not a text scenario"));
  ASSIGN_OR_RETURN(ScenarioData data, MaterializeTextScenario(scenario, tokenizer));
  return std::unique_ptr<ScenarioFeeder>(new ScenarioFeeder(std::move(data), true, buffer, rate));
}

Sample ScenarioFeeder::At(const DomainWindow& window, int64_t i, int64_t timestamp_ms) const {
  const bool labeled = window.labeled[i].item<bool>();
  if (text_) {
    return ToTextSample(window.stream.images[i], window.stream.labels[i], labeled, timestamp_ms,
                        "scenario:" + window.domain);
  }
  const int32_t label = labeled ? static_cast<int32_t>(window.stream.labels[i].item<int64_t>()) : -1;
  return ToSample(window.stream.images[i], label, timestamp_ms, "scenario:" + window.domain);
}

absl::StatusOr<FeedResult> ScenarioFeeder::FeedDomain(size_t index, const CancelToken* cancel) {
  if (index >= data_.windows.size()) return absl::OutOfRangeError("the scenario has no more domains");
  FeedResult result;
  const auto start = std::chrono::steady_clock::now();
  const DomainWindow& window = data_.windows[index];
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (int64_t i = 0; i < window.stream.size(); ++i) {
    if (cancel != nullptr && cancel->cancelled()) {
      result.cancelled = true;
      break;
    }
    const Sample sample = At(window, i, now_ms);
    RETURN_IF_ERROR(buffer_->Append(sample));
    ++result.samples;
    result.labeled += sample.labeled();
  }
  RETURN_IF_ERROR(buffer_->Sync());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

absl::StatusOr<FeedResult> ScenarioFeeder::Run(const CancelToken* cancel) {
  FeedResult result;
  int64_t total = 0;
  for (const DomainWindow& w : data_.windows) total += w.stream.size();
  ProgressReporter progress("feed", total, "samples", std::chrono::seconds(10));
  const auto start = std::chrono::steady_clock::now();
  for (const DomainWindow& window : data_.windows) {
    spdlog::info("feed: domain '{}' begins ({} samples)", window.domain, window.stream.size());
    for (int64_t i = 0; i < window.stream.size(); ++i) {
      if (cancel != nullptr && cancel->cancelled()) {
        result.cancelled = true;
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return result;
      }
      if (rate_ > 0) {
        auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(result.samples / rate_));
        std::this_thread::sleep_until(due);
      }
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      const Sample sample = At(window, i, now_ms);
      RETURN_IF_ERROR(buffer_->Append(sample));
      ++result.samples;
      result.labeled += sample.labeled();
      progress.Update(result.samples, "domain " + window.domain);
    }
  }
  RETURN_IF_ERROR(buffer_->Sync());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace bt
