// The form a block takes in one window, parsed once from its wire and report name and printed once: frozen,
// trained whole ("train"), replaced by a trainable structured proxy that keeps 1 − s of its heads and MLP neurons
// ("train@0.50"), or frozen with trainable LoRA adapters, on the whole block or on such a proxy ("lora",
// "lora@0.50"). Torch-free: the planner, the wire codecs and the retraining engine share it.
#pragma once

#include <string>

#include "common/base/status.h"

namespace bt {

struct BlockChoice {
  enum class Kind { kFrozen, kTrain, kProxy, kLora };
  Kind kind = Kind::kFrozen;
  double sparsity = 0;  // kProxy: in (0, 1); kLora: in [0, 1) (0: the whole layer)

  // "frozen", "train", "train@0.50", "lora", "lora@0.50" (sparsity with two decimals).
  std::string Name() const;
  bool trains() const { return kind != Kind::kFrozen; }
  static BlockChoice Frozen() { return {Kind::kFrozen, 0}; }
  static BlockChoice Train() { return {Kind::kTrain, 0}; }
  static BlockChoice Proxy(double sparsity) { return {Kind::kProxy, sparsity}; }
  static BlockChoice Lora(double sparsity = 0) { return {Kind::kLora, sparsity}; }
  friend bool operator==(const BlockChoice& a, const BlockChoice& b) {
    return a.kind == b.kind && a.sparsity == b.sparsity;
  }
};

// Parses a name as Name() prints it; anything else (including a sparsity outside (0, 1)) is InvalidArgument.
absl::StatusOr<BlockChoice> ChoiceFromName(const std::string& name);

}  // namespace bt
