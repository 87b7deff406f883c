// Planner speed (Google Benchmark). Targets from the planner issue: ≤ 5 ms for the default model's plan, ≤ 50 ms
// for 100 blocks × 6 options, ≤ 100 ms for the block profile of a 33B-parameter decoder.
//
//   build/bt-bench-planner [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <random>

#include "common/plan/block_profile.h"
#include "common/plan/planner.h"

namespace bt {
namespace {

// Block weights drawn at random; retraining everything could add up to 50 accuracy points, as on the heavier drift
// domains.
LawParams Prior(size_t blocks) {
  LawParams law;
  law.acc0 = 0.4;
  std::mt19937 rng(3);
  double total = 0;
  for (size_t i = 0; i < blocks; ++i) {
    law.weights.push_back(std::uniform_real_distribution<double>(0.2, 1.0)(rng));
    total += law.weights.back();
  }
  for (double& w : law.weights) w *= 3.0 / total;  // retraining everything reaches 95% of G
  law.max_gain = 0.5;
  law.gamma = 0.5;
  law.tau = 100;
  return law;
}

uint64_t FullTrainBytes(const std::vector<BlockProfile>& blocks) {
  uint64_t total = 0;
  for (const BlockProfile& b : blocks) total += b.options[1].memory_bytes;
  return total;
}

PlanRequest DefaultVit() {
  PlanRequest r;
  r.blocks = AnalyticProfile(VitLayerShapes(VitConfig{}), ProfileOptions{});
  r.law = Prior(r.blocks.size());
  r.memory_budget = FullTrainBytes(r.blocks) * 35 / 100;  // 35% of full fine-tuning
  r.window_seconds = 300;
  r.iteration_grid = {25, 50, 100, 200, 400, 800, 1600};
  return r;
}

// 100 blocks × 6 options from a real layer structure: a 98-layer decoder (hidden 4096, MLP 11008) plus embedding
// and head, options frozen / train / train@{0.25, 0.5, 0.75, 0.875}, every cost perturbed by ±10% as noisy probe
// measurements would be.
PlanRequest Decoder100x6() {
  ProfileOptions options;
  options.batch = 8;
  options.bytes_per_param = 2;
  options.sparsities = {0.25, 0.5, 0.75, 0.875};
  options.flops_per_second = 100e12;
  PlanRequest r;
  r.blocks = AnalyticProfile(DecoderLayerShapes(98, 4096, 11008, 32000, 1024), options);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> noise(0.9, 1.1);
  for (BlockProfile& b : r.blocks) {
    for (BlockOption& o : b.options) {
      o.memory_bytes = static_cast<uint64_t>(static_cast<double>(o.memory_bytes) * noise(rng));
      o.seconds *= noise(rng);
    }
  }
  r.law = Prior(r.blocks.size());
  uint64_t frozen = 0;
  for (const BlockProfile& b : r.blocks) frozen += b.prefix_bytes;
  r.memory_budget = frozen + (FullTrainBytes(r.blocks) - frozen) / 10;  // the model plus 10% of full training's extra
  r.window_seconds = 1800;
  r.iteration_grid = {25, 50, 100, 200, 400, 800, 1600};
  return r;
}

// Adversarial stress case: 100 blocks whose 6 options have independent random memory, time and gain, so the
// Pareto frontiers are as large as they get.
PlanRequest Random100x6() {
  std::mt19937 rng(5);
  auto u = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  PlanRequest r;
  for (int b = 0; b < 100; ++b) {
    BlockProfile p;
    p.name = "block" + std::to_string(b);
    p.prefix_bytes = static_cast<uint64_t>(u(1e6, 4e6));
    p.prefix_seconds = u(1e-3, 3e-3);
    p.options.push_back({bt::BlockChoice::Frozen(), false, 0, p.prefix_bytes + static_cast<uint64_t>(u(1e6, 5e6)), u(2e-3, 6e-3)});
    const double shares[] = {1.0, 0.75, 0.5, 0.25, 0.125};
    for (double s : shares) {
      p.options.push_back({s == 1.0 ? bt::BlockChoice::Train() : bt::BlockChoice::Proxy(1.0 - s), true, s,
                           p.options[0].memory_bytes + static_cast<uint64_t>(s * u(4e6, 16e6)),
                           p.options[0].seconds + s * u(2e-3, 6e-3)});
    }
    r.blocks.push_back(p);
  }
  r.law = Prior(r.blocks.size());
  r.memory_budget = FullTrainBytes(r.blocks) * 35 / 100;
  r.window_seconds = 600;
  r.iteration_grid = {25, 50, 100, 200, 400, 800, 1600};
  return r;
}

PlanRequest Decoder33B() {
  PlanRequest r;
  ProfileOptions options;
  options.batch = 4;
  options.bytes_per_param = 2;          // bf16 weights
  options.flops_per_second = 300e12;    // an accelerator-class edge
  r.blocks = AnalyticProfile(DecoderLayerShapes(60, 6656, 17920, 32000, 2048), options);
  r.law = Prior(r.blocks.size());
  r.memory_budget = 96ull << 30;        // 96 GiB: the frozen model (65 GB in bf16) plus room for a few blocks
  r.window_seconds = 1800;
  r.iteration_grid = {25, 50, 100, 200, 400, 800, 1600};
  return r;
}

void Run(benchmark::State& state, const PlanRequest& request) {
  double predicted = 0;
  for (auto _ : state) {
    auto plan = SolvePlan(request);
    if (!plan.ok()) {
      state.SkipWithError(std::string(plan.status().message()).c_str());
      return;
    }
    predicted = plan->predicted_accuracy;
    benchmark::DoNotOptimize(plan);
  }
  int64_t options = 0;
  for (const BlockProfile& b : request.blocks) options += static_cast<int64_t>(b.options.size());
  state.counters["blocks"] = static_cast<double>(request.blocks.size());
  state.counters["options"] = static_cast<double>(options);
  state.counters["predicted_acc"] = predicted;
}

void BM_PlanDefaultVit(benchmark::State& state) { Run(state, DefaultVit()); }
void BM_Plan100Blocks6Options(benchmark::State& state) { Run(state, Decoder100x6()); }
void BM_PlanAdversarial100x6(benchmark::State& state) { Run(state, Random100x6()); }
void BM_PlanDecoder33B(benchmark::State& state) { Run(state, Decoder33B()); }

BENCHMARK(BM_PlanDefaultVit)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Plan100Blocks6Options)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanDecoder33B)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanAdversarial100x6)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace bt

BENCHMARK_MAIN();
