// Memory model check: the planner's predicted peak memory for a plan (the sum of per-block costs measured by the
// cost probes) against the peak tensor memory measured by the counting allocator while that plan really trains,
// over random plans of a model (the default ViT, or any checkpoint or model directory). Target: every plan within
// ±15%. It also prints the planner's additive bound (what the knapsack charges a plan) against the measured peak.
//
// With --micro-batch the plans train in accumulated chunks, as the window runs a plan the planner chunked, and the
// prediction is the planner's own for that chunk (RequestForMicroBatch: activations and working memory scaled).
//
//   bt-bench-memory [--model PATH] [--plans 20] [--batch 64] [--micro-batch 0] [--sequence 64] [--seed 1]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "common/model/block_model.h"
#include "common/model/block_probe.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/model/memory_meter.h"
#include "common/plan/window_plan.h"

int main(int argc, char** argv) {
  CLI::App app{"Predicted vs measured peak memory and time per iteration for random plans of a model"};
  int plans = 20, steps = 3;
  int64_t batch = 64, sequence = 64;
  uint32_t seed = 1;
  std::string model_path;
  app.add_option("--model", model_path, "checkpoint or model directory (default: a fresh default ViT)");
  app.add_option("--sequence", sequence, "decoders: tokens per sample")->capture_default_str();
  int64_t micro_batch = 0;
  app.add_option("--micro-batch", micro_batch, "train in accumulated chunks of this many samples (0: whole batches; "
                 "must divide --batch)")->capture_default_str();
  app.add_option("--plans", plans, "random plans to check")->capture_default_str();
  app.add_option("--batch", batch, "samples per iteration")->capture_default_str();
  app.add_option("--steps", steps, "training steps per plan (peak measured over all, after the first)")
      ->capture_default_str();
  app.add_option("--seed", seed, "plan sampling seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));

  bt::MemoryMeter& meter = bt::MemoryMeter::Install();
  auto model = model_path.empty() ? bt::CreateVitModel(bt::VitConfig{}, 1) : bt::LoadModel(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  torch::manual_seed(seed);
  // A batch in the model's input shape and labels for its outputs (classes; the next token at every position).
  torch::Tensor raw = (*model)->RandomInput(batch);
  torch::Tensor labels;
  if (const bt::LlamaConfig* decoder = (*model)->arch().llama()) {
    if (sequence < 2 || sequence > decoder->max_position_embeddings) {
      std::fprintf(stderr, "--sequence must be in [2, %lld]\n", static_cast<long long>(decoder->max_position_embeddings));
      return 1;
    }
    raw = torch::randint(0, decoder->vocab_size, {batch, sequence}, torch::kInt64);
    labels = torch::randint(0, decoder->vocab_size, {batch, sequence}, torch::kInt64);
  } else {
    labels = torch::randint(0, (*model)->OutputsPerSample(raw), {batch}, torch::kInt64);
  }
  torch::Tensor inputs = (*model)->PrepareInput(raw);

  if (micro_batch < 0 || (micro_batch > 0 && batch % micro_batch != 0)) {
    std::fprintf(stderr, "--micro-batch must divide --batch (%lld)\n", static_cast<long long>(batch));
    return 1;
  }
  auto probed = bt::ProbeBlockCosts(**model, inputs, bt::CostProbeOptions{});
  if (!probed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(probed.status().message()).c_str());
    return 1;
  }
  std::printf("probed %zu blocks at batch %lld%s\n", probed->size(), static_cast<long long>(batch),
              micro_batch > 0 ? absl::StrCat(", plans in chunks of ", micro_batch).c_str() : "");
  // Every plan also pays the logits and their gradient (the window's fixed part; the input batch is allocated
  // before the measurement starts, so it is not counted on either side).
  bt::ProbeReport report;
  report.costs = *probed;
  report.batch = batch;
  report.output_bytes = static_cast<uint64_t>(2 * 4 * batch * (*model)->OutputsPerSample(raw));
  report.fixed_bytes = report.output_bytes + bt::MaxTransientBytes(*probed);
  const bt::PlanRequest request = bt::RequestForMicroBatch(report, micro_batch > 0 ? batch / micro_batch : 1);
  const std::vector<bt::BlockProfile>* profiles = &request.blocks;
  std::printf("%-4s %-58s %10s %10s %7s %9s %9s\n", "plan", "options (first trainable onward)", "pred MiB",
              "meas MiB", "error", "pred ms", "meas ms");

  std::mt19937 rng(seed);
  const size_t n = profiles->size();
  // The planner's knapsack needs additive costs, so it adds the largest working memory of any block to every plan
  // (conservative); the cost model's own prediction (PredictPeakBytes) tracks which block peaks.
  std::printf("every plan's fixed part (the largest block working memory and the logits with their gradient, as the "
              "planner charges them): %.2f MiB\n\n", static_cast<double>(request.fixed_bytes) / 1048576.0);
  double worst = 0, total_abs = 0, worst_additive = 0;
  bool additive_never_under = true;
  int within = 0;
  for (int p = 0; p < plans; ++p) {
    const size_t first = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
    std::vector<bt::BlockChoice> choices(n);
    double additive = static_cast<double>(request.fixed_bytes), predicted_seconds = 0;
    std::vector<size_t> option_index(n, 0);
    std::string summary;
    for (size_t k = 0; k < n; ++k) {
      const bt::BlockProfile& profile = (*profiles)[k];
      if (k < first) {
        additive += static_cast<double>(profile.prefix_bytes);
        predicted_seconds += profile.prefix_seconds;
        continue;
      }
      size_t option;
      do {
        option = std::uniform_int_distribution<size_t>(0, profile.options.size() - 1)(rng);
      } while (k == first && !profile.options[option].trainable);
      choices[k] = profile.options[option].form;
      option_index[k] = option;
      additive += static_cast<double>(profile.options[option].memory_bytes);
      predicted_seconds += profile.options[option].seconds;
      absl::StrAppend(&summary, summary.empty() ? "" : " ", k, ":", profile.options[option].name());
    }

    const int64_t before = meter.current_bytes();
    meter.ResetPeak();
    double seconds = 0;
    {
      auto composed = bt::ComposedModel::Create(**model, choices);
      if (!composed.ok()) {
        std::fprintf(stderr, "%s\n", std::string(composed.status().message()).c_str());
        return 1;
      }
      torch::optim::AdamW optimizer((*composed)->TrainableParameters(), torch::optim::AdamWOptions(1e-3));
      // The window's engine holds keep-best's copy of the trainable weights for the whole run.
      const std::vector<torch::Tensor> best = (*composed)->SnapshotTrainable();
      for (int step = 0; step < steps; ++step) {
        auto start = std::chrono::steady_clock::now();
        optimizer.zero_grad();
        const int64_t chunk = micro_batch > 0 ? micro_batch : batch;
        for (int64_t b = 0; b < batch; b += chunk) {  // as the window's TrainStep accumulates them
          torch::Tensor loss = bt::OutputLoss((*composed)->Forward(inputs.slice(0, b, b + chunk)),
                                              labels.slice(0, b, b + chunk));
          (loss * (static_cast<double>(chunk) / static_cast<double>(batch))).backward();
        }
        optimizer.step();
        if (step > 0) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
    const double measured = static_cast<double>(meter.peak_bytes() - before);
    const double predicted = static_cast<double>(bt::PredictPeakBytes(*profiles, option_index, first));
    const double error = (predicted - measured) / measured;
    worst_additive = std::max(worst_additive, (additive - measured) / measured);
    additive_never_under = additive_never_under && additive >= measured;
    worst = std::max(worst, std::abs(error));
    total_abs += std::abs(error);
    within += std::abs(error) <= 0.15;
    if (summary.size() > 58) summary = summary.substr(0, 55) + "...";
    std::printf("%-4d %-58s %10.2f %10.2f %+6.1f%% %9.2f %9.2f\n", p + 1, summary.c_str(), predicted / 1048576.0,
                measured / 1048576.0, 100 * error, 1000 * predicted_seconds, 1000 * seconds / (steps - 1));
  }
  std::printf("\ncost model: %d/%d plans within ±15%%; mean |error| %.1f%%, worst %.1f%%\n", within, plans,
              100 * total_abs / plans, 100 * worst);
  std::printf("planner's conservative bound: %s measured, at most %.1f%% over\n",
              additive_never_under ? "never below" : "SOMETIMES BELOW", 100 * worst_additive);
  return 0;
}
