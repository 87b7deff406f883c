// The torch-using subcommand of bt-cloud: pretraining the default foundation model.
// Kept apart from main.cc so the CLI and the server build without LibTorch headers.
#pragma once

#include <string>

#include "common/base/cancel.h"
#include "common/config/config.h"
#include "common/base/status.h"

namespace bt {

struct PretrainCommandOptions {
  std::string out_path;   // where the checkpoint goes (atomically); empty = config.ModelPath()
  bool force = false;     // retrain even if out_path exists
  std::string config_source = "the embedded defaults";  // the config file, named in errors about its keys
};

// Pretrains config.model.architecture on the clean Fashion-MNIST training split with config.pretrain, evaluates on
// the test split and writes the checkpoint plus a JSON report next to it (<out>.report.json). A cancelled run
// writes nothing. If the checkpoint exists and !force, reports that and returns OK without training.
absl::Status RunPretrainCommand(const CloudConfig& config, const PretrainCommandOptions& options,
                                const CancelToken* cancel);

}  // namespace bt
