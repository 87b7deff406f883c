// The architecture of a Vision Transformer in torchvision's terms. Torch-free so that config loading, manifests
// and the planner can describe a model without linking LibTorch. The architecture travels with the weights in the
// safetensors `__metadata__` (see ToMetadata/FromMetadata), so a checkpoint file is self-describing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

struct VitConfig {
  int64_t image_size = 28;   // square input images, pixels per side
  int64_t channels = 1;      // input channels (1 for Fashion-MNIST, 3 for RGB)
  int64_t patch_size = 7;    // side of the square patches; must divide image_size
  int64_t hidden_dim = 64;   // token width
  int64_t num_layers = 6;    // encoder layers, one block each
  int64_t num_heads = 4;     // attention heads; must divide hidden_dim
  int64_t mlp_dim = 128;     // hidden units of each encoder layer's MLP
  int64_t num_classes = 10;  // outputs of the classification head
  // Preprocessing, part of the model: pixels in [0, 1] become (x − mean[c]) / std[c] per channel (one value: every
  // channel), as HF's preprocessor_config.json carries image_mean / image_std. Checkpoints written before these were
  // recorded used 0.5 / 0.5.
  std::vector<double> image_mean = {0.5};
  std::vector<double> image_std = {0.5};

  // Checks the relations between fields; errors name the key under `key_prefix` (e.g. "model.architecture").
  absl::Status Validate(const std::string& key_prefix = "architecture") const;
  // Tokens per image, class token included.
  int64_t SequenceLength() const { return (image_size / patch_size) * (image_size / patch_size) + 1; }
  // Number of parameters of the model this describes.
  int64_t ParameterCount() const;

  // "bt.arch" = "vit", "bt.vit.image_size" = "28", ...
  Metadata ToMetadata() const;
  static absl::StatusOr<VitConfig> FromMetadata(const Metadata& metadata);

  bool operator==(const VitConfig& other) const;
};

// "0.5" / "0.485,0.456,0.406": how per-channel values are written in metadata, and read back.
std::string FormatValues(const std::vector<double>& values);
absl::StatusOr<std::vector<double>> ParseValues(const std::string& text);

}  // namespace bt
