// Per-block cost profiles for the planner when no edge has reported probes yet (a dry run, a new edge, or a model
// too large to probe here): memory from the architecture (weights, gradients, AdamW state, saved activations) and
// time from FLOPs at an assumed throughput. Edges replace these with measured numbers (probes); a plan printed
// from an analytic profile says so. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/format/model_config.h"
#include "common/plan/planner.h"

namespace bt {

struct ProfileOptions {
  int64_t batch = 64;                             // samples per iteration
  std::vector<double> sparsities = {0.25, 0.5, 0.75};  // train@s proxies offered for encoder layers
  double bytes_per_param = 4;                     // F32 weights
  double training_copies = 4;  // per trainable parameter: gradient, AdamW's two moments, keep-best's copy
  double flops_per_second = 25e9;                 // effective training throughput of the edge
};

// What a layer of a transformer costs, per sample, in the quantities the profile needs.
struct LayerShape {
  std::string name;
  int64_t parameters = 0;
  int64_t prunable_parameters = 0;     // parameters a train@s proxy removes in proportion to s
  double activation_bytes = 0;         // saved for backward per sample when trainable
  double frozen_activation_bytes = 0;  // saved per sample when frozen but in the backward path
  double forward_flops = 0;            // per sample
  bool proxies = false;                // whether train@s is offered
};

// Builds a profile from layer shapes: options frozen, train, and train@s for layers that offer proxies.
std::vector<BlockProfile> AnalyticProfile(const std::vector<LayerShape>& layers, const ProfileOptions& options);

// Layer shapes of the ViT (embed, encoder layers, head).
std::vector<LayerShape> VitLayerShapes(const VitConfig& config);

// Layer shapes of a LLaMA-style decoder (embedding, `layers` blocks of attention + SwiGLU MLP, norm + LM head).
std::vector<LayerShape> DecoderLayerShapes(int64_t layers, int64_t hidden, int64_t mlp, int64_t vocab,
                                           int64_t sequence);

// Trainable share of an encoder layer's proxy at sparsity s: kept heads and MLP units, with their rows/columns.
double ProxyShare(const LayerShape& layer, double sparsity);

// Profiles as JSON (what an edge reports after probing, and what `bt-cloud plan --profile` reads).
std::string ProfilesToJson(const std::vector<BlockProfile>& blocks);
absl::StatusOr<std::vector<BlockProfile>> ProfilesFromJson(const std::string& json, const std::string& source);

}  // namespace bt
