// A tiny ViT (2 classes) trained on the toy task, so that its predictions and features mean something.
#pragma once

#include <gtest/gtest.h>

#include "edge/window/retrain_engine.h"
#include "edge/window/window_runner.h"
#include "tests/testing/test_models.h"
#include "tests/testing/toy_data.h"

namespace bt::fixtures {

inline std::unique_ptr<BlockModel> TrainedTiny() {
  auto model = *CreateVitModel(Tiny(), 1);
  RetrainOptions options;
  options.max_iterations = 60;
  options.batch = 32;
  options.learning_rate = 3e-3;
  options.eval_every = 20;
  auto result = RetrainWindow(*model, std::vector<BlockChoice>(4, {BlockChoice::Kind::kTrain, 0}),
                              ToyData(300, 1), options);
  EXPECT_TRUE(result.ok() && result->deployed);
  auto trained = *result->model->TrainedBlocks(*model);
  EXPECT_TRUE(ApplyTrainedBlocks(*model, trained).ok());
  model->SetTrainingMode(false);
  return model;
}

}  // namespace bt::fixtures
