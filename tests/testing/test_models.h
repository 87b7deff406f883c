// Small models and weights shared by the tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "common/format/block_layout.h"
#include "common/format/llama_config.h"
#include "common/format/model_config.h"
#include "common/format/safetensors.h"

namespace bt::fixtures {

// A ViT small enough for unit tests (28×28×1 input, patch 7).
inline VitConfig TinyVit(int64_t hidden = 16, int64_t heads = 2, int64_t layers = 2, int64_t mlp = 32,
                         int64_t classes = 10) {
  VitConfig c;
  c.hidden_dim = hidden;
  c.num_heads = heads;
  c.num_layers = layers;
  c.mlp_dim = mlp;
  c.num_classes = classes;
  return c;
}

// A LLaMA-style decoder small enough for unit tests: width 32, 2 layers, head dimension 8, SwiGLU 48; `heads`
// query heads share `kv_heads` key/value heads.
inline LlamaConfig TinyDecoder(int64_t vocab = 24, int64_t heads = 4, int64_t kv_heads = 2) {
  LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 8;
  c.max_position_embeddings = 32;
  return c;
}

// The two-class tiny ViT the window and training tests share (the toy task has two classes).
inline VitConfig Tiny() { return TinyVit(16, 2, 2, 32, /*classes=*/2); }

// Random F32 weights for every parameter of a ViT layout, without LibTorch; `views` point into `storage`.
struct FakeWeights {
  explicit FakeWeights(const VitConfig& config, uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (const BlockSpec& block : VitBlockLayout(config)) {
      for (const ParamSpec& p : block.params) {
        int64_t n = 1;
        for (int64_t d : p.shape) n *= d;
        storage.emplace_back(static_cast<size_t>(n));
        for (float& x : storage.back()) x = normal(rng);
        TensorView v;
        v.name = p.name;
        v.shape = p.shape;
        v.data = reinterpret_cast<const uint8_t*>(storage.back().data());
        v.size_bytes = static_cast<size_t>(n) * 4;
        views.push_back(v);
      }
    }
  }
  std::vector<std::vector<float>> storage;
  std::vector<TensorView> views;
};

}  // namespace bt::fixtures
