#include "common/train/evaluation.h"

#include <cstdio>
#include <thread>

#include "common/model/block_model.h"
#include "common/data/dataset.h"
#include "common/train/trainer.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

constexpr const char* kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct ClassAccuracy {
  std::vector<int64_t> correct, total;
};

absl::StatusOr<ClassAccuracy> PerClass(BlockModel* model, const ImageDataset& data, int64_t classes) {
  ClassAccuracy out{std::vector<int64_t>(classes, 0), std::vector<int64_t>(classes, 0)};
  try {
    torch::NoGradGuard no_grad;
    model->SetTrainingMode(false);
    for (int64_t begin = 0; begin < data.size(); begin += 500) {
      ImageDataset batch = data.Slice(begin, std::min(begin + 500, data.size()));
      torch::Tensor predicted = model->Forward(model->PrepareInput(batch.images)).argmax(1);
      auto labels = batch.labels.accessor<int64_t, 1>();
      auto preds = predicted.accessor<int64_t, 1>();
      for (int64_t i = 0; i < labels.size(0); ++i) {
        if (labels[i] < 0 || labels[i] >= classes) continue;
        ++out.total[labels[i]];
        if (preds[i] == labels[i]) ++out.correct[labels[i]];
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what_without_backtrace()));
  }
  return out;
}

}  // namespace

absl::Status RunEvaluateCommand(const std::string& model_path, const std::string& dataset_dir, bool json,
                                const ArchitectureHints& hints) {
  ASSIGN_OR_RETURN(auto model, LoadModel(model_path, hints));
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  if (model->arch().vit() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": a ", model->arch().family(),
                                                   " model; `evaluate` scores image classifiers on Fashion-MNIST "
                                                   "(a text model: `bt-edge drift-report` on a text scenario)"));
  }
  ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(dataset_dir, "test"));
  ASSIGN_OR_RETURN(EvalResult eval, Evaluate(model.get(), test));
  const VitConfig arch = *model->arch().vit();
  ASSIGN_OR_RETURN(ClassAccuracy per_class, PerClass(model.get(), test, arch.num_classes));

  if (json) {
    nlohmann::ordered_json out;
    out["model"] = model_path;
    out["parameters"] = model->ParameterCount();
    out["dataset"] = "fashion-mnist/test";
    out["accuracy"] = eval.accuracy();
    out["correct"] = eval.correct;
    out["total"] = eval.total;
    out["seconds"] = eval.seconds;
    out["per_class"] = nlohmann::ordered_json::array();
    for (int64_t c = 0; c < arch.num_classes; ++c) {
      out["per_class"].push_back({{"class", c < 10 ? kFashionClasses[c] : std::to_string(c)},
                                  {"accuracy", per_class.total[c] ? 1.0 * per_class.correct[c] / per_class.total[c] : 0.0},
                                  {"total", per_class.total[c]}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  std::printf("model      %s (%lld parameters, %zu blocks)\n", model_path.c_str(),
              static_cast<long long>(model->ParameterCount()), model->num_blocks());
  std::printf("dataset    Fashion-MNIST test split, clean (%lld images, %.1fs)\n\n",
              static_cast<long long>(eval.total), eval.seconds);
  std::printf("%-12s %9s %7s\n", "class", "accuracy", "images");
  for (int64_t c = 0; c < arch.num_classes; ++c) {
    std::string name = c < 10 ? kFashionClasses[c] : std::to_string(c);
    double acc = per_class.total[c] ? 100.0 * per_class.correct[c] / per_class.total[c] : 0.0;
    std::printf("%-12s %8.2f%% %7lld\n", name.c_str(), acc, static_cast<long long>(per_class.total[c]));
  }
  std::printf("%-12s %8.2f%% %7lld\n", "all", 100.0 * eval.accuracy(), static_cast<long long>(eval.total));
  return absl::OkStatus();
}

}  // namespace bt
