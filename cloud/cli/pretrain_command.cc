#include "cloud/cli/pretrain_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "common/model/block_model.h"
#include "common/data/dataset.h"
#include "common/train/feature_stats.h"
#include "common/base/file_util.h"
#include "common/train/trainer.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

void SetThreads(int64_t threads) {
  int n = threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, n));
}

}  // namespace

absl::Status RunPretrainCommand(const CloudConfig& config, const PretrainCommandOptions& options,
                                const CancelToken* cancel) {
  const std::string out = options.out_path.empty() ? config.ModelPath() : options.out_path;
  if (std::filesystem::exists(out) && !options.force) {
    spdlog::info("pretrain: '{}' exists; not retraining (use --force to retrain)", out);
    // The source statistics edges compare their features against (written once, next to the model).
    ASSIGN_OR_RETURN(auto existing, LoadModel(out));
    existing->SetTrainingMode(false);
    return LoadOrComputeSourceStats(out, *existing, config.pretrain.dataset_dir).status();
  }
  SetThreads(config.pretrain.threads);
  const PretrainOptions& p = config.pretrain;
  ASSIGN_OR_RETURN(ImageDataset train, LoadFashionMnist(p.dataset_dir, "train"));
  ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(p.dataset_dir, "test"));
  ASSIGN_OR_RETURN(auto model, CreateVitModel(config.model.architecture, static_cast<uint64_t>(p.seed)));
  spdlog::info("pretrain: ViT {} parameters, {} blocks; {} training images, {} epochs of batch {} on {} threads",
               model->ParameterCount(), model->num_blocks(), train.size(), p.epochs, p.batch_size,
               torch::get_num_threads());

  ASSIGN_OR_RETURN(PretrainResult result, Pretrain(model.get(), train, p, cancel));
  if (result.cancelled) {
    return absl::CancelledError(absl::StrCat("pretraining cancelled after ", result.steps,
                                             " steps; nothing was written to '", out, "'"));
  }
  ASSIGN_OR_RETURN(EvalResult eval, Evaluate(model.get(), test));
  RETURN_IF_ERROR(model->Save(out));
  model->SetTrainingMode(false);
  RETURN_IF_ERROR(LoadOrComputeSourceStats(out, *model, p.dataset_dir).status());

  nlohmann::ordered_json report;
  report["model"] = out;
  report["parameters"] = model->ParameterCount();
  report["epochs"] = p.epochs;
  report["batch_size"] = p.batch_size;
  report["seed"] = p.seed;
  report["threads"] = torch::get_num_threads();
  report["train_seconds"] = result.seconds;
  report["train_images_per_second"] = result.images / result.seconds;
  report["final_train_loss"] = result.final_loss;
  report["test_accuracy"] = eval.accuracy();
  report["test_samples"] = eval.total;
  RETURN_IF_ERROR(WriteFileAtomically(out + ".report.json", report.dump(2) + "\n"));

  std::printf("pretrained %s\n", out.c_str());
  std::printf("  parameters       %lld\n", static_cast<long long>(model->ParameterCount()));
  std::printf("  training         %lld steps, %s, %.0f images/s\n", static_cast<long long>(result.steps),
              FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(result.seconds * 1000))).c_str(),
              result.images / result.seconds);
  std::printf("  clean test acc.  %.2f%% (%lld/%lld)\n", 100.0 * eval.accuracy(),
              static_cast<long long>(eval.correct), static_cast<long long>(eval.total));
  return absl::OkStatus();
}

}  // namespace bt
