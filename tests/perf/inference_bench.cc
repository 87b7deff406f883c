// Inference with int8 weight-only frozen blocks vs all-F32, in the same run: accuracy on the clean test split,
// largest logit difference, weight memory, and throughput (alternating rounds).
//
//   bt-bench-infer --model var/cloud/models/foundation.safetensors [--batch 256] [--rounds 5]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/model/memory_meter.h"

int main(int argc, char** argv) {
  CLI::App app{"int8 frozen blocks vs F32: accuracy, logits, memory and throughput"};
  std::string model_path = "var/cloud/models/foundation.safetensors";
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  int64_t batch = 256;
  int rounds = 5;
  app.add_option("--model", model_path, "checkpoint")->capture_default_str();
  app.add_option("--dataset-dir", dataset_dir, "Fashion-MNIST directory")->capture_default_str();
  app.add_option("--batch", batch, "images per forward pass")->capture_default_str();
  app.add_option("--rounds", rounds, "alternating timing rounds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));
  bt::MemoryMeter& meter = bt::MemoryMeter::Install();

  auto base = bt::LoadModel(model_path);
  auto test = bt::LoadFashionMnist(dataset_dir, "test");
  if (!base.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot load the model or the dataset\n");
    return 1;
  }
  auto config = *bt::VitConfig::FromMetadata((*base)->ArchitectureMetadata());
  std::vector<bt::BlockChoice> frozen((*base)->num_blocks());
  int64_t start = meter.current_bytes();
  auto f32 = *bt::ComposedModel::Create(**base, frozen);
  const int64_t f32_bytes = meter.current_bytes() - start;
  bt::ComposeOptions options;
  options.int8_prefix = true;
  start = meter.current_bytes();
  auto int8 = *bt::ComposedModel::Create(**base, frozen, options);
  const int64_t int8_bytes = meter.current_bytes() - start;

  torch::NoGradGuard no_grad;
  int64_t correct_f32 = 0, correct_int8 = 0;
  double max_diff = 0;
  for (int64_t b = 0; b < test->size(); b += batch) {
    bt::ImageDataset part = test->Slice(b, std::min(b + batch, test->size()));
    torch::Tensor x = bt::NormalizeImages(part.images);
    torch::Tensor la = f32->Forward(x), lb = int8->Forward(x);
    correct_f32 += la.argmax(1).eq(part.labels).sum().item<int64_t>();
    correct_int8 += lb.argmax(1).eq(part.labels).sum().item<int64_t>();
    max_diff = std::max(max_diff, (la - lb).abs().max().item<double>());
  }
  std::printf("weights: F32 %.1f KiB, int8 %.1f KiB\n", f32_bytes / 1024.0, int8_bytes / 1024.0);
  std::printf("accuracy on %lld clean test images: F32 %.2f%%, int8 %.2f%%; max |Δ logit| %.4f\n",
              static_cast<long long>(test->size()), 100.0 * correct_f32 / test->size(),
              100.0 * correct_int8 / test->size(), max_diff);

  torch::Tensor x = bt::NormalizeImages(test->Slice(0, batch).images);
  auto rate = [&](bt::ComposedModel& m) {
    const int passes = 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < passes; ++i) (void)m.Forward(x);
    return passes * batch / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  rate(*f32);
  rate(*int8);
  std::vector<double> a, b;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      a.push_back(rate(*f32));
      b.push_back(rate(*int8));
    } else {
      b.push_back(rate(*int8));
      a.push_back(rate(*f32));
    }
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::printf("throughput (median of %d rounds, batch %lld): F32 %.0f img/s, int8 %.0f img/s (%.2fx)\n", rounds,
              static_cast<long long>(batch), a[rounds / 2], b[rounds / 2], b[rounds / 2] / a[rounds / 2]);

  return 0;
}
