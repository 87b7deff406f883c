// Training throughput of a decoder window: the step a window runs per iteration (ComposedModel of the plan's forms,
// no-grad prefix before the first trainable block, TrainStep: a random batch, cross-entropy over every position,
// backward, AdamW) against a bare LibTorch loop on the same trainable set (the same model's modules with only those
// blocks requiring gradients: forward, cross-entropy, backward, AdamW step), same batches, same thread count,
// alternating rounds in one process so machine noise hits both alike. Evaluations are in neither. The counting
// allocator (MemoryMeter) a window installs is installed for both. Target: ≥ 0.95× the bare loop.
// --helper-thread puts a second thread beside the measurement, alive throughout, as the edge daemon's intake and
// cloud link are: `parallel` runs tensor work on it with the default thread count first (it then holds an OpenMP
// team of its own), `serial` calls UseOneComputeThread first (common/train/compute_threads.h).
//
//   bt-bench-decoder-train --model var/cloud-text/models/foundation-text [--plan "layer_2:train layer_3:train head:train"]
//                          [--helper-thread none|parallel|serial]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/model/block_model.h"
#include "common/model/composed_model.h"
#include "common/model/memory_meter.h"
#include "common/plan/block_form.h"
#include "common/train/compute_threads.h"
#include "edge/window/curve_probe.h"
#include "edge/window/window_runner.h"
#include "tests/perf/alternating_rounds.h"

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "bt-bench-decoder-train: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Throughput of a decoder window's training step vs a bare LibTorch loop on the same trainable set"};
  std::string model_path = "var/cloud-text/models/foundation-text";
  std::string plan_text = "layer_2:train layer_3:train head:train";
  int rounds = 5, steps = 10;
  int64_t batch = 64, sequence = 64;
  app.add_option("--model", model_path, "a decoder's model directory (bt-cloud pretrain, configs/cloud-text.yaml)")
      ->capture_default_str();
  app.add_option("--plan", plan_text, "trained blocks as block:form, space-separated (others frozen); \"all\" = every block")
      ->capture_default_str();
  app.add_option("--rounds", rounds, "alternating measurement rounds")->capture_default_str();
  app.add_option("--steps", steps, "optimiser steps per round and loop")->capture_default_str();
  app.add_option("--batch", batch, "sequences per step")->capture_default_str();
  app.add_option("--sequence", sequence, "tokens per sequence")->capture_default_str();
  std::string helper = "none";
  app.add_option("--helper-thread", helper, "a second thread beside the measurement: none, parallel (its tensor work "
                 "holds an OpenMP team), serial (UseOneComputeThread first)")
      ->check(CLI::IsMember({"none", "parallel", "serial"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));
  bt::MemoryMeter::Install();
  std::promise<void> measured;
  std::promise<void> helper_ready;
  std::thread helper_thread;
  if (helper != "none") {
    helper_thread = std::thread([&, done = measured.get_future()]() mutable {
      if (helper == "serial") bt::UseOneComputeThread();
      volatile float sink = torch::rand({1 << 22}).exp().sum().item<float>();  // parallel regions, if allowed
      (void)sink;
      helper_ready.set_value();
      done.wait();
    });
    helper_ready.get_future().wait();
  }
  struct Join {  // the helper outlives the measurement and is joined on every return
    std::promise<void>& measured;
    std::thread& thread;
    ~Join() {
      if (thread.joinable()) {
        measured.set_value();
        thread.join();
      }
    }
  } join{measured, helper_thread};

  auto base = bt::LoadModel(model_path);
  if (!base.ok()) return Fail(base.status());
  const bt::ModelArch arch = (*base)->arch();
  const bt::LlamaConfig* decoder = arch.llama();
  if (decoder == nullptr) return Fail(absl::InvalidArgumentError(model_path + " is not a decoder"));
  std::vector<bt::BlockChoice> choices((*base)->num_blocks());
  std::map<std::string, bt::BlockChoice> named;
  if (plan_text == "all") {
    for (const bt::BlockSpec& b : (*base)->layout()) named[b.name] = bt::BlockChoice::Train();
  } else {
    for (absl::string_view item : absl::StrSplit(plan_text, ' ', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
      auto form = bt::ChoiceFromName(parts.size() == 2 ? parts[1] : "train");
      if (!form.ok()) return Fail(form.status());
      named[parts[0]] = *form;
    }
  }
  for (const auto& [name, form] : named) {
    auto index = (*base)->BlockIndex(name);
    if (!index.ok()) return Fail(index.status());
    choices[*index] = form;
  }

  // Ours: what a window builds and steps.
  auto composed = bt::ComposedModel::Create(**base, choices);
  if (!composed.ok()) return Fail(composed.status());
  torch::optim::AdamW ours_optimizer((*composed)->TrainableParameters(),
                                     torch::optim::AdamWOptions(5e-4).weight_decay(0.01));
  // Bare: a copy of the model, gradients only on the same blocks, its plain forward.
  auto bare = bt::CopyModel(**base);
  if (!bare.ok()) return Fail(bare.status());
  (*bare)->SetAllTrainable(false);
  for (const auto& [name, form] : named) {
    if (form.kind != bt::BlockChoice::Kind::kTrain) {
      return Fail(absl::InvalidArgumentError("the bare loop trains whole blocks: use block:train forms"));
    }
    if (absl::Status s = (*bare)->SetTrainable(name, true); !s.ok()) return Fail(s);
  }
  (*bare)->SetTrainingMode(true);
  torch::optim::AdamW bare_optimizer((*bare)->TrainableParameters(), torch::optim::AdamWOptions(5e-4).weight_decay(0.01));

  // Token ids (content does not change the cost): 8 batches' worth, drawn at random per step by both.
  torch::manual_seed(1);
  torch::Tensor ids = torch::randint(0, decoder->vocab_size, {8 * batch, sequence + 1}, torch::kInt64);
  bt::ImageDataset train{ids.slice(1, 0, sequence).contiguous(), ids.slice(1, 1, sequence + 1).contiguous()};

  auto ours = [&] { bt::TrainStep(**composed, ours_optimizer, train, batch); };
  auto plain = [&] {
    torch::Tensor index = torch::randint(0, train.size(), {batch}, torch::kInt64);
    bare_optimizer.zero_grad();
    torch::Tensor logits = (*bare)->Forward((*bare)->PrepareInput(train.images.index_select(0, index)));
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits.flatten(0, 1),
                                                              train.labels.index_select(0, index).flatten());
    loss.backward();
    bare_optimizer.step();
  };
  auto time_loop = [&](auto&& step) {
    auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) step();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(steps * batch * sequence) / seconds;
  };
  time_loop(ours);  // warm-up both (allocator, thread pool)
  time_loop(plain);
  std::printf("decoder %lld parameters (%lld layers, width %lld), plan \"%s\", batch %lld x %lld tokens, %d threads, "
              "%d steps per round, helper thread: %s\n",
              static_cast<long long>((*base)->ParameterCount()), static_cast<long long>(decoder->num_hidden_layers),
              static_cast<long long>(decoder->hidden_size), plan_text.c_str(), static_cast<long long>(batch),
              static_cast<long long>(sequence), torch::get_num_threads(), steps, helper.c_str());
  const bt::perf::RoundsResult r = bt::perf::AlternatingRounds(
      rounds, "bare tok/s", "window tok/s", [&] { return time_loop(plain); }, [&] { return time_loop(ours); });
  const double p = r.median_plain, o = r.median_ours;
  std::printf("median %16.0f %16.0f %8.3f  (window step at %.1f%% of the bare loop; per-round ratios %.3f-%.3f)\n", p,
              o, o / p, 100 * o / p, r.min_ratio, r.max_ratio);
  return 0;
}
