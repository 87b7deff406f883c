// Calibration of the retraining law on real retraining: per domain of a drift scenario, fit the law to what the
// edge would probe (single-block retraining curves, full blocks and train@0.5 proxies, accuracy after 25..200
// iterations), then predict held-out points — random multi-block plans retrained the same way — and report the
// mean absolute error in accuracy points. Target: ≤ 3 points on the default model and scenario.
//
//   bt-bench-law --model var/cloud/models/foundation.safetensors --scenario configs/scenarios/roadside.yaml
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/model/block_model.h"
#include "common/model/block_probe.h"
#include "common/model/composed_model.h"
#include "common/data/dataset.h"
#include "common/base/file_util.h"
#include "common/plan/retraining_law.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "edge/window/curve_probe.h"
#include "nlohmann/json.hpp"

namespace {

struct Run {
  std::vector<double> shares;
  std::vector<std::pair<int64_t, double>> curve;  // (iterations, accuracy)
};

// Retrains `choices` on the labeled stream with AdamW at a constant rate, measuring at each checkpoint.
Run Retrain(const bt::BlockModel& base, const bt::VitConfig& config, const std::vector<bt::BlockChoice>& choices,
            const bt::ImageDataset& train, const bt::ImageDataset& eval, const std::vector<int64_t>& checkpoints,
            int64_t batch, uint64_t seed) {
  auto run = bt::RetrainCurve(base, choices, train, eval, checkpoints, batch, 5e-4, 0.01, seed);
  if (!run.ok()) {
    std::fprintf(stderr, "%s\n", std::string(run.status().message()).c_str());
    std::exit(1);
  }
  return {run->first, run->second};
}

double Accuracy(bt::ComposedModel& model, const bt::ImageDataset& eval) { return bt::HeldOutAccuracy(model, eval); }

std::vector<bt::ProbePoint> PointsFrom(const nlohmann::json& array) {
  std::vector<bt::ProbePoint> out;
  for (const auto& p : array) {
    out.push_back({p.at("shares").get<std::vector<double>>(), p.at("q").get<double>(), p.at("acc").get<double>()});
  }
  return out;
}

// Fits the law to the dumped probe points of every domain and reports the held-out error.
// `move_plans` held-out plans (each `per_plan` points) join the fit set, as if the edge had probed them too.
int EvaluateDump(const std::string& path, int move_plans, size_t per_plan) {
  auto text = bt::ReadFileToString(path);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  nlohmann::json dump = nlohmann::json::parse(*text, nullptr, false);
  if (dump.is_discarded() || !dump.is_array()) {
    std::fprintf(stderr, "%s: not a dump of the law bench\n", path.c_str());
    return 1;
  }
  std::printf("%-12s %6s %9s %12s %12s\n", "domain", "acc0", "fit RMSE", "MAE (pts)", "bias (pts)");
  double total = 0;
  for (const auto& domain : dump) {
    const double acc0 = domain.at("acc0").get<double>();
    std::vector<bt::ProbePoint> fit_points = PointsFrom(domain.at("fit"));
    std::vector<bt::ProbePoint> held_out = PointsFrom(domain.at("held_out"));
    const size_t moved = std::min(held_out.size(), static_cast<size_t>(move_plans) * per_plan);
    fit_points.insert(fit_points.end(), held_out.begin(), held_out.begin() + static_cast<std::ptrdiff_t>(moved));
    held_out.erase(held_out.begin(), held_out.begin() + static_cast<std::ptrdiff_t>(moved));
    if (held_out.empty()) continue;
    bt::LawParams prior;
    prior.acc0 = acc0;
    prior.max_gain = 0.5 * (1.0 - acc0);
    prior.weights.assign(fit_points.front().shares.size(), 0.5);
    auto fit = bt::FitLaw(fit_points, prior);
    if (!fit.ok()) continue;
    double bias = 0;
    for (const bt::ProbePoint& p : held_out) bias += fit->params.Predict(p.shares, p.iterations) - p.accuracy;
    const double mae = bt::MeanAbsoluteError(fit->params, held_out);
    total += mae;
    std::printf("%-12s %5.1f%% %8.2fpt %12.2f %+12.2f   rho %.2f, G %.2f\n", domain.at("domain").get<std::string>().c_str(),
                100 * acc0, 100 * fit->rmse, 100 * mae, 100 * bias / static_cast<double>(held_out.size()),
                fit->params.rho, fit->params.max_gain);
  }
  std::printf("\nmean held-out MAE over %zu domains: %.2f accuracy points\n", dump.size(), 100 * total / dump.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit the retraining law to single-block probes and measure its error on held-out multi-block plans"};
  std::string model_path = "var/cloud/models/foundation.safetensors";
  std::string scenario_path = "configs/scenarios/roadside.yaml";
  std::string dataset_dir = "/usr/share/datasets/fashion-mnist";
  std::string domains_arg;
  int holdout = 8;
  bool holdout_proxies = true;
  bool verbose = false;
  std::string dump_path;
  std::string load_path;
  int move_plans = 0;
  int64_t batch = 64;
  std::vector<int64_t> checkpoints = {25, 50, 100, 200};
  app.add_option("--model", model_path, "foundation checkpoint")->capture_default_str();
  app.add_option("--scenario", scenario_path, "drift scenario")->capture_default_str();
  app.add_option("--dataset-dir", dataset_dir, "Fashion-MNIST directory")->capture_default_str();
  app.add_option("--domains", domains_arg, "comma-separated domains (default: all)");
  app.add_option("--holdout-plans", holdout, "random multi-block plans to predict")->capture_default_str();
  app.add_option("--batch", batch, "samples per iteration")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "print every held-out point, predicted vs measured");
  app.add_option("--dump", dump_path, "write every measured point (fit and held-out, per domain) as JSON, for "
                                      "trying other law forms without retraining");
  app.add_option("--holdout-proxies", holdout_proxies, "whether held-out plans may use train@0.5 proxies")
      ->capture_default_str();
  app.add_option("--checkpoints", checkpoints, "iteration counts measured")->delimiter(',')->capture_default_str();
  app.add_option("--load", load_path, "fit and evaluate the law on points from an earlier --dump (no training)");
  app.add_option("--fit-on-holdout", move_plans,
                 "with --load: move this many held-out plans into the fit set (multi-block probes)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!load_path.empty()) return EvaluateDump(load_path, move_plans, checkpoints.size());
  torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));

  auto base = bt::LoadModel(model_path);
  auto scenario = bt::LoadScenario(scenario_path);
  auto test = bt::LoadFashionMnist(dataset_dir, "test");
  if (!base.ok() || !scenario.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot load model, scenario or dataset\n");
    return 1;
  }
  auto config = *bt::VitConfig::FromMetadata((*base)->ArchitectureMetadata());
  auto data = bt::MaterializeScenario(*scenario, *test);
  if (!data.ok()) return 1;
  std::vector<std::string> wanted;
  if (!domains_arg.empty()) wanted = absl::StrSplit(domains_arg, ',');
  const size_t n = (*base)->num_blocks();

  std::printf("%-12s %6s %6s %9s %9s %12s %12s\n", "domain", "acc0", "points", "fit RMSE", "held-out", "MAE (pts)",
              "naive MAE");
  double total_mae = 0;
  int domains = 0;
  nlohmann::ordered_json dump = nlohmann::ordered_json::array();
  auto points_json = [](const std::vector<bt::ProbePoint>& points) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const bt::ProbePoint& p : points) out.push_back({{"shares", p.shares}, {"q", p.iterations}, {"acc", p.accuracy}});
    return out;
  };
  std::vector<size_t> seen;
  for (const bt::DomainWindow& window : data->windows) {
    if (std::find(seen.begin(), seen.end(), window.domain_index) != seen.end()) continue;
    seen.push_back(window.domain_index);
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), window.domain) == wanted.end()) continue;
    auto start = std::chrono::steady_clock::now();
    const bt::ImageDataset& eval = data->eval[window.domain_index];
    const bt::ImageDataset& train = window.stream;

    auto baseline = *bt::ComposedModel::Create(**base, std::vector<bt::BlockChoice>(n));
    const double acc0 = Accuracy(*baseline, eval);

    // Fit set: what the edge probes — one block trainable at a time, full and as a half-size proxy.
    std::vector<bt::ProbePoint> fit_points;
    uint64_t seed = 1;
    for (size_t k = 0; k < n; ++k) {
      std::vector<bt::BlockChoice::Kind> kinds = {bt::BlockChoice::Kind::kTrain};
      if (k >= 1 && k <= static_cast<size_t>(config.num_layers)) kinds.push_back(bt::BlockChoice::Kind::kProxy);
      for (auto kind : kinds) {
        std::vector<bt::BlockChoice> choices(n);
        choices[k] = {kind, 0.5};
        Run run = Retrain(**base, config, choices, train, eval, checkpoints, batch, seed++);
        for (const auto& [q, acc] : run.curve) fit_points.push_back({run.shares, static_cast<double>(q), acc});
      }
    }
    // One more probe the edge can afford: everything trainable, which shows how block gains combine.
    {
      std::vector<bt::BlockChoice> all(n, bt::BlockChoice{bt::BlockChoice::Kind::kTrain, 0});
      Run run = Retrain(**base, config, all, train, eval, checkpoints, batch, seed++);
      for (const auto& [q, acc] : run.curve) fit_points.push_back({run.shares, static_cast<double>(q), acc});
    }
    bt::LawParams prior;
    prior.acc0 = acc0;
    prior.max_gain = 0.5 * (1.0 - acc0);
    prior.weights.assign(n, 0.5);
    auto fit = bt::FitLaw(fit_points, prior);
    if (!fit.ok()) {
      std::fprintf(stderr, "%s: fit failed: %s\n", window.domain.c_str(), std::string(fit.status().message()).c_str());
      continue;
    }

    // Held-out: random plans with several trainable blocks, as the planner would produce.
    std::mt19937 rng(static_cast<uint32_t>(window.domain_index) + 100);
    std::vector<bt::ProbePoint> held_out;
    double mean_gain = 0;
    for (const bt::ProbePoint& p : fit_points) mean_gain += p.accuracy - acc0;
    mean_gain /= static_cast<double>(fit_points.size());
    for (int h = 0; h < holdout; ++h) {
      std::vector<bt::BlockChoice> choices(n);
      const size_t first = std::uniform_int_distribution<size_t>(0, n - 2)(rng);
      for (size_t k = first; k < n; ++k) {
        int pick = std::uniform_int_distribution<int>(0, 2)(rng);
        if (k == first && pick == 0) pick = 1;
        if (pick == 1) choices[k] = {bt::BlockChoice::Kind::kTrain, 0};
        if (pick == 2) {
          const bool proxy_ok = holdout_proxies && k >= 1 && k <= static_cast<size_t>(config.num_layers);
          choices[k] = proxy_ok ? bt::BlockChoice{bt::BlockChoice::Kind::kProxy, 0.5}
                                : bt::BlockChoice{bt::BlockChoice::Kind::kTrain, 0};
        }
      }
      Run run = Retrain(**base, config, choices, train, eval, checkpoints, batch, seed++);
      for (const auto& [q, acc] : run.curve) held_out.push_back({run.shares, static_cast<double>(q), acc});
      if (verbose) {
        std::string plan;
        for (size_t k = 0; k < n; ++k) absl::StrAppend(&plan, k ? " " : "", choices[k].Name());
        std::printf("  held-out plan %d: %s\n", h + 1, plan.c_str());
      }
    }
    double naive = 0;
    for (const bt::ProbePoint& p : held_out) naive += std::abs(acc0 + mean_gain - p.accuracy);
    naive /= static_cast<double>(held_out.size());
    const double mae = bt::MeanAbsoluteError(fit->params, held_out);
    if (verbose) {
      for (size_t i = 0; i < held_out.size(); ++i) {
        const bt::ProbePoint& p = held_out[i];
        std::printf("  plan %zu q=%4.0f measured %5.1f%% predicted %5.1f%%\n", i / checkpoints.size() + 1,
                    p.iterations, 100 * p.accuracy, 100 * fit->params.Predict(p.shares, p.iterations));
      }
    }
    double bias = 0;
    for (const bt::ProbePoint& p : held_out) bias += fit->params.Predict(p.shares, p.iterations) - p.accuracy;
    bias /= static_cast<double>(held_out.size());
    total_mae += mae;
    ++domains;
    std::printf("%-12s %5.1f%% %6zu %8.2fpt %9zu %12.2f %12.2f   (%.0fs)\n", window.domain.c_str(), 100 * acc0,
                fit_points.size(), 100 * fit->rmse, held_out.size(), 100 * mae, 100 * naive,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::printf("             mean signed error %+.2f points; law: %s\n", 100 * bias, fit->params.ToJson().c_str());
    std::fflush(stdout);
    dump.push_back({{"domain", window.domain}, {"acc0", acc0}, {"fit", points_json(fit_points)},
                    {"held_out", points_json(held_out)}});
    if (!dump_path.empty()) {
      auto status = bt::WriteFileAtomically(dump_path, dump.dump(1) + "\n");
      if (!status.ok()) std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    }
  }
  if (domains > 0) std::printf("\nmean held-out MAE over %d domains: %.2f accuracy points\n", domains, 100 * total_mae / domains);
  return 0;
}
