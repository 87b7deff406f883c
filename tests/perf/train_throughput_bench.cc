// Training-loop overhead benchmark: BlockTrainer's Trainer::Step (block model, schedule, checks) against a bare
// LibTorch loop (module forward, cross-entropy, backward, AdamW step) on the same architecture, same batches,
// same thread count, alternating rounds in one process so machine noise hits both alike.
//
//   bt-bench-train [--rounds 5] [--steps 40] [--batch 128]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/model/block_model.h"
#include "common/train/trainer.h"
#include "common/model/vit.h"
#include "tests/perf/alternating_rounds.h"

int main(int argc, char** argv) {
  CLI::App app{"Throughput of BlockTrainer's training loop vs a bare LibTorch loop on the default ViT"};
  int rounds = 5, steps = 40;
  int64_t batch = 128;
  app.add_option("--rounds", rounds, "alternating measurement rounds")->capture_default_str();
  app.add_option("--steps", steps, "optimiser steps per round and loop")->capture_default_str();
  app.add_option("--batch", batch, "images per step")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));

  bt::VitConfig config;  // the default foundation architecture
  auto model = bt::CreateVitModel(config, 1);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  bt::TrainOptions options;
  options.total_steps = rounds * steps + 10;
  auto trainer = bt::Trainer::Create(model->get(), options);
  if (!trainer.ok()) return 1;

  torch::manual_seed(1);
  bt::Vit bare(config);
  torch::optim::AdamW optimizer(bare->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.05));

  // Fixed synthetic batches (content does not change the cost), normalised like real inputs.
  std::vector<torch::Tensor> inputs, labels;
  for (int i = 0; i < 8; ++i) {
    inputs.push_back(bt::NormalizeImages(torch::rand({batch, 1, 28, 28})));
    labels.push_back(torch::randint(0, 10, {batch}, torch::kInt64));
  }

  auto time_loop = [&](auto&& step) {
    auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) step(inputs[s % 8], labels[s % 8]);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return steps * batch / seconds;
  };
  auto ours = [&](const torch::Tensor& x, const torch::Tensor& y) { (void)(*trainer)->Step(x, y); };
  auto plain = [&](const torch::Tensor& x, const torch::Tensor& y) {
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(bare->forward(x), y);
    loss.backward();
    optimizer.step();
    (void)loss.item<float>();
  };

  time_loop(ours);  // warm-up both (allocator, thread pool)
  time_loop(plain);
  std::printf("ViT %lld parameters, batch %lld, %d threads, %d steps per round\n",
              static_cast<long long>(config.ParameterCount()), static_cast<long long>(batch),
              torch::get_num_threads(), steps);
  const bt::perf::RoundsResult r = bt::perf::AlternatingRounds(
      rounds, "bare img/s", "Trainer img/s", [&] { return time_loop(plain); }, [&] { return time_loop(ours); });
  const double p = r.median_plain, o = r.median_ours;
  std::printf("median %16.0f %16.0f %8.3f  (Trainer at %.1f%% of bare LibTorch)\n", p, o, o / p, 100 * o / p);
  return 0;
}
