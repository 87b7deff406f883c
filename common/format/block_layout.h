// The partition of a model's parameters into named blocks, and the ViT instance of it. Torch-free: the cloud
// describes, hashes and ships blocks straight from memory-mapped checkpoints without building a torch model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/format/llama_config.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"
#include "common/base/status.h"

namespace bt {

struct ParamSpec {
  std::string name;            // upstream (torchvision) parameter name
  std::vector<int64_t> shape;  // expected shape
};

struct BlockSpec {
  std::string name;              // "embed", "encoder_layer_3", "head"
  std::vector<ParamSpec> params; // every parameter of the model is in exactly one block
};

// Blocks of a torchvision-style VisionTransformer in forward order: "embed" (conv_proj, class_token,
// encoder.pos_embedding), "encoder_layer_<i>" (everything under encoder.layers.encoder_layer_<i>), and "head"
// (encoder.ln, heads.head).
std::vector<BlockSpec> VitBlockLayout(const VitConfig& config);

// Blocks of a Hugging Face LlamaForCausalLM in forward order: "embed" (model.embed_tokens.weight), "layer_<i>"
// (everything under model.layers.<i>), "head" (model.norm.weight and lm_head.weight; with tied embeddings the head
// reuses the embedding matrix, which stays in "embed": every tensor is in one block).
std::vector<BlockSpec> LlamaBlockLayout(const LlamaConfig& config);

// Groups a checkpoint's tensors by block. Fails, naming the tensor, when a tensor belongs to no block, a block
// parameter is missing, or a shape or dtype (F32 expected; with `half_precision` also F16 and BF16, which loading
// widens to F32) differs from the layout.
absl::StatusOr<std::vector<std::vector<TensorView>>> GroupByBlock(const std::vector<BlockSpec>& layout,
                                                                  const std::vector<TensorView>& tensors,
                                                                  bool half_precision = false);

}  // namespace bt
