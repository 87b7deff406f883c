// bt-bench: BlockTrainer against its baselines on a drift scenario (see bench/scoreboard.h).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/oracle.h"
#include "bench/scoreboard.h"
#include "common/base/cancel.h"
#include "common/base/logging.h"

int main(int argc, char** argv) {
  using namespace bt;
  CLI::App app{"bt-bench: runs a drift scenario's windows with each retraining method in-process (the daemons' "
               "engine and planner) at one memory budget and window, and writes results.json, results.md and "
               "accuracy.png"};
  ScoreboardOptions o;
  o.scenario_path = "configs/scenarios/roadside.yaml";
  o.model_path = "var/cloud/models/foundation.safetensors";
  std::string log_level = "info";
  app.add_option("-s,--scenario", o.scenario_path, "scenario YAML")->capture_default_str()->check(CLI::ExistingFile);
  app.add_option("-m,--model", o.model_path,
                 "deployed model every method starts from (a checkpoint, or a model directory: a text model)")
      ->capture_default_str()
      ->check(CLI::ExistingPath);
  app.add_option("--memory-budget", o.memory_budget,
                 "memory budget: a size (48MiB) or a percentage of full fine-tuning's predicted peak (35%); several, "
                 "comma-separated (10%,15%,25%), run a budget sweep into OUT/<budget>/ and OUT/sweep.{md,json,png}")
      ->capture_default_str();
  app.add_option("--window", o.window, "retraining window per domain (e.g. 2m, 90s)")->capture_default_str();
  app.add_option("--methods", o.methods, absl::StrCat("comma-separated: ", absl::StrJoin(KnownMethods(), ",")))
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("-o,--out", o.out_dir, "directory for results.json, results.md, accuracy.png");
  app.add_option("--seed", o.seed, "seed for probes, training batches and random plans")->capture_default_str();
  app.add_option("--dataset-dir", o.dataset_dir, "directory of the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("--max-windows", o.max_windows, "stop after this many windows (0 = all)")->capture_default_str();
  app.add_option("--max-iterations", o.max_iterations, "largest iteration count any method may run per window")
      ->capture_default_str();
  app.add_option("--labeled-fraction", o.labeled_fraction,
                 "override every domain's labeled fraction (0 = no labels: the label-free mode)");
  app.add_option("--probe-runs", o.probe_runs,
                 "retraining-curve runs per window: 0 = as many as fit in 10% of the window (as an edge does); N = "
                 "exactly N, so plans do not depend on how busy the machine is")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  app.add_option("--race-iterations", o.race_iterations,
                 "first-round iterations of blocktrainer's race (its plan against the alternatives): 0 = as many as fit "
                 "in half the training time left (as an edge does); N = exactly N, reproducible")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  app.add_flag("--via-daemons", o.via_daemons,
               "also run blocktrainer through bt-cloud and bt-edge (child processes on loopback; state and logs under "
               "OUT/daemons) and compare with the in-process run");
  app.add_flag("--curves", o.curves,
               "record every held-out evaluation of each window's training run (iteration, the slice's score and "
               "per-image hits, the same model on the domain's held-out set) in results.json, to judge keep-best; "
               "the extra evaluations run inside the window's time");
  bool oracle = false;
  OracleOptions oracle_options;
  app.add_flag("--oracle", oracle,
               "judge the planner instead: per window, retrain a fixed candidate set (the planner's top plans, every "
               "last-k, every block alone in each form, fixed-compressed(-lora), random plans) from blocktrainer's "
               "starting model and report the chosen plan's rank, regret and the law's rank correlation (bench/oracle.h; "
               "about 10-20 minutes per window on 2 cores)");
  app.add_option("--oracle-top", oracle_options.top, "--oracle: how many of the planner's best plans to retrain")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--oracle-random", oracle_options.random, "--oracle: how many random feasible plans to retrain")
      ->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (auto s = InitLogging(log_level); !s.ok()) {
    std::fprintf(stderr, "bt-bench: error: --log-level: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  CancelToken cancel;
  CancelOnSignals(&cancel);
  if (oracle && o.via_daemons) {
    std::fprintf(stderr, "bt-bench: error: --oracle and --via-daemons do not combine\n");
    return 2;
  }
  const std::vector<std::string> budgets = absl::StrSplit(o.memory_budget, ',');
  if (oracle && budgets.size() > 1) {
    std::fprintf(stderr, "bt-bench: error: --oracle takes one --memory-budget\n");
    return 2;
  }
  absl::Status status = oracle              ? RunOracle(o, oracle_options, &cancel)
                        : budgets.size() > 1 ? RunSweep(o, budgets, &cancel)
                                             : RunScoreboard(o, &cancel);
  if (!status.ok()) {
    std::fprintf(stderr, "bt-bench: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
