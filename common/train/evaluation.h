// Evaluation reports shared by both binaries' `evaluate` subcommands.
#pragma once

#include <string>

#include "common/base/status.h"
#include "common/format/model_arch.h"

namespace bt {

// Loads a checkpoint (a foreign one takes num_heads and preprocessing from `hints`), evaluates it on Fashion-MNIST's
// clean test split (from `dataset_dir`) and prints overall and per-class accuracy as a table, or as JSON when `json`.
absl::Status RunEvaluateCommand(const std::string& model_path, const std::string& dataset_dir, bool json,
                                const ArchitectureHints& hints = {});

}  // namespace bt
