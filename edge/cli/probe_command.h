// `bt-edge probe-costs`: measures on this machine what every block of a model costs in each form (memory with the
// counting allocator, time per iteration) and writes the profile the planner reads (`bt-cloud plan --profile`).
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

struct ProbeCommandOptions {
  std::string model_path;
  std::string out_path;                                 // JSON profile; empty = print only
  int64_t batch = 64;
  std::vector<double> sparsities = {0.25, 0.5, 0.75};
  int64_t sequence = 64;                                // decoders: tokens per sample
  bool lora = false;                                    // also the LoRA forms (lora, lora@s at `sparsities`)
  bool every_block = false;                             // measure each layer of a stack, not the first for all
};

absl::Status RunProbeCostsCommand(const ProbeCommandOptions& options);

}  // namespace bt
