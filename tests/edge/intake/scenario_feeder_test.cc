#include "edge/intake/scenario_feeder.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/testing/test_dir.h"

namespace bt {
namespace {

// A source whose image i holds the value i/1000 in its first pixel, so samples can be traced back to their index.
ImageDataset TraceableSource(int64_t n) {
  ImageDataset data;
  data.images = torch::zeros({n, 1, 28, 28});
  for (int64_t i = 0; i < n; ++i) data.images[i][0][0][0] = static_cast<float>(i) / 1000.0f;
  data.labels = torch::arange(n, torch::kInt64) % 10;
  return data;
}

Scenario Small() {
  Scenario s;
  s.name = "small";
  s.seed = 5;
  s.eval_samples = 40;
  s.domains = {{"a", 100, 1.0, {}}, {"b", 80, 0.25, {}}, {"a", 60, 0.5, {}}};
  return s;
}

std::set<int64_t> Indices(const ImageDataset& d) {
  std::set<int64_t> out;
  for (int64_t i = 0; i < d.size(); ++i) out.insert(std::lround(d.images[i][0][0][0].item<float>() * 1000));
  return out;
}

TEST(ScenarioData, HeldOutSetsAreDisjointFromTheStreamAndDeterministic) {
  ImageDataset source = TraceableSource(1000);
  auto data = MaterializeScenario(Small(), source);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->windows.size(), 3u);
  ASSERT_EQ(data->eval.size(), 2u);  // "a" recurs and shares its held-out set
  EXPECT_EQ(data->windows[2].domain_index, 0u);
  std::set<int64_t> eval, stream;
  for (const auto& e : data->eval) {
    auto idx = Indices(e);
    eval.insert(idx.begin(), idx.end());
  }
  for (const auto& w : data->windows) {
    auto idx = Indices(w.stream);
    stream.insert(idx.begin(), idx.end());
  }
  EXPECT_EQ(eval.size(), 80u);
  EXPECT_EQ(stream.size(), 240u);
  for (int64_t i : eval) EXPECT_EQ(stream.count(i), 0u) << i;

  auto again = MaterializeScenario(Small(), source);
  EXPECT_TRUE(again->windows[1].stream.images.equal(data->windows[1].stream.images));
  EXPECT_TRUE(again->windows[1].labeled.equal(data->windows[1].labeled));

  Scenario too_big = Small();
  too_big.domains[0].samples = 990;
  EXPECT_FALSE(MaterializeScenario(too_big, source).ok());
}

TEST(ScenarioFeeder, StreamsEverySampleWithTheConfiguredLabelShare) {
  TestDir dir;
  SampleBufferOptions options;
  options.path = dir.Path("samples.buf");
  auto buffer = SampleBuffer::Open(options);
  ASSERT_TRUE(buffer.ok());
  auto feeder = ScenarioFeeder::Create(Small(), TraceableSource(1000), buffer->get(), 0);
  ASSERT_TRUE(feeder.ok()) << feeder.status();
  auto result = (*feeder)->Run(nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->samples, 240);
  EXPECT_EQ((*buffer)->size(), 240u);
  auto samples = (*buffer)->Recent(240);
  EXPECT_EQ(samples.front().source, "scenario:a");
  int64_t labeled_b = 0;
  for (int i = 100; i < 180; ++i) {
    EXPECT_EQ(samples[i].source, "scenario:b");
    labeled_b += samples[i].labeled();
  }
  EXPECT_GT(labeled_b, 8);   // 25% of 80 = 20, loosely
  EXPECT_LT(labeled_b, 35);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(samples[i].labeled());

  // What bt-bench trains on for a window is exactly what the edge reads back from its buffer.
  auto data = MaterializeScenario(Small(), TraceableSource(1000));
  ASSERT_TRUE(data.ok());
  const std::vector<Sample> b_samples(samples.begin() + 100, samples.begin() + 180);
  const ImageDataset from_buffer = FromSamples(b_samples);
  const ImageDataset simulated = ThroughBuffer(data->windows[1].stream, data->windows[1].labeled);
  EXPECT_TRUE(simulated.images.equal(from_buffer.images));
  EXPECT_TRUE(simulated.labels.equal(from_buffer.labels));

  CancelToken cancel;
  cancel.Cancel();
  auto cancelled = (*feeder)->Run(&cancel);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_TRUE(cancelled->cancelled);
  EXPECT_EQ(cancelled->samples, 0);
}

TEST(ScenarioFeeder, SamplesRoundTripToTensorsWithin8BitPrecision) {
  torch::manual_seed(1);
  torch::Tensor image = torch::rand({1, 28, 28});
  Sample s = ToSample(image, 4, 7, "x");
  ImageDataset back = FromSamples({s, s});
  ASSERT_EQ(back.images.sizes().vec(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_LE((back.images[0] - image).abs().max().item<float>(), 0.5f / 255 + 1e-6);
  EXPECT_EQ(back.labels[1].item<int64_t>(), 4);
}

TEST(ScenarioFeeder, TextSamplesRoundTripToTheSequencesAndTheirNextTokens) {
  const torch::Tensor ids = torch::arange(10, torch::kInt64) * 7;  // a sequence of 9 and its next tokens
  Sample a = ToTextSample(ids.slice(0, 0, 9), ids.slice(0, 1, 10), true, 3, "scenario:python");
  Sample b = ToTextSample(ids.slice(0, 0, 9) + 1, ids.slice(0, 1, 10) + 1, false, 4, "scenario:python");
  EXPECT_TRUE(a.text());
  EXPECT_EQ(a.tokens.size(), 10u);
  EXPECT_EQ(a.tokens.back(), 63);
  EXPECT_EQ(b.label, -1);
  const ImageDataset back = FromSamples({a, b});
  ASSERT_EQ(back.images.sizes().vec(), (std::vector<int64_t>{2, 9}));
  EXPECT_TRUE(back.images[0].equal(ids.slice(0, 0, 9)));
  EXPECT_TRUE(back.labels[0].equal(ids.slice(0, 1, 10)));
  EXPECT_TRUE(back.labels[1].equal(ids.slice(0, 1, 10) + 1));
  const torch::Tensor mask = LabeledMask({a, b});
  EXPECT_TRUE(mask[0].item<bool>());
  EXPECT_FALSE(mask[1].item<bool>());

  // A window reads only samples like the newest one: another kind or length, or an id outside the vocabulary, is left out.
  Sample image = ToSample(torch::rand({1, 28, 28}), 2, 1, "spool:x.png");
  Sample shorter = ToTextSample(ids.slice(0, 0, 4), ids.slice(0, 1, 5), true, 5, "spool:y");
  Sample big_id = a;
  big_id.tokens[2] = 500;
  size_t dropped = 0;
  const std::vector<Sample> kept = WindowableSamples({image, a, shorter, big_id, b}, 100, &dropped);
  EXPECT_EQ(dropped, 3u);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0], a);
  EXPECT_EQ(kept[1], b);
  EXPECT_EQ(WindowableSamples({a, image}, 100, &dropped).size(), 1u);
}

}  // namespace
}  // namespace bt
