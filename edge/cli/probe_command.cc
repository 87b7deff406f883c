#include "edge/cli/probe_command.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/model/block_model.h"
#include "common/model/block_probe.h"
#include "common/plan/block_profile.h"
#include "common/data/dataset.h"
#include "common/base/file_util.h"
#include "common/base/units.h"

namespace bt {

absl::Status RunProbeCostsCommand(const ProbeCommandOptions& o) {
  if (o.batch < 1) return absl::InvalidArgumentError("--batch must be at least 1");
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  ASSIGN_OR_RETURN(auto model, LoadModel(o.model_path));
  // Costs do not depend on the values; a fixed random batch of the model's input shape is enough.
  torch::manual_seed(0);
  torch::Tensor inputs = model->PrepareInput(model->RandomInput(o.batch));
  const ModelArch arch = model->arch();
  if (const LlamaConfig* decoder = arch.llama()) {
    if (o.sequence < 1 || o.sequence > decoder->max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("--sequence must be in [1, ", decoder->max_position_embeddings,
                                                     "] (the model's positions)"));
    }
    inputs = torch::randint(0, decoder->vocab_size, {o.batch, o.sequence}, torch::kInt64);
  }
  CostProbeOptions options;
  options.sparsities = o.sparsities;
  if (o.lora) {
    options.lora_sparsities = {0};
    options.lora_sparsities.insert(options.lora_sparsities.end(), o.sparsities.begin(), o.sparsities.end());
  }
  options.share_equal_blocks = !o.every_block;
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<BlockProfile> profiles, ProbeBlockCosts(*model, inputs, options));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.out_path.empty()) RETURN_IF_ERROR(WriteFileAtomically(o.out_path, ProfilesToJson(profiles) + "\n"));

  std::printf("costs of %s at batch %lld%s on this machine\n\n", o.model_path.c_str(), static_cast<long long>(o.batch),
              arch.llama() != nullptr ? absl::StrCat(" of ", o.sequence, " tokens").c_str() : "");
  std::printf("%-18s %-11s %7s %12s %12s %10s\n", "block", "option", "share", "memory", "activations", "ms/iter");
  for (const BlockProfile& b : profiles) {
    std::printf("%-18s %-11s %7s %12s %12s %10.2f\n", b.name.c_str(), "(no-grad)", "-",
                FormatBytes(b.prefix_bytes).c_str(), "-", 1000 * b.prefix_seconds);
    for (const BlockOption& opt : b.options) {
      std::printf("%-18s %-11s %7.3f %12s %12s %10.2f\n", "", opt.name().c_str(), opt.share,
                  FormatBytes(opt.memory_bytes).c_str(), FormatBytes(opt.activation_bytes).c_str(), 1000 * opt.seconds);
    }
  }
  std::printf("\nprobed in %.1f s (%s)\n", seconds,
              o.every_block ? "every block measured" : "the layers of a stack measured once");
  if (!o.out_path.empty()) std::printf("\nwrote %s (use with `bt-cloud plan --profile`)\n", o.out_path.c_str());
  return absl::OkStatus();
}

}  // namespace bt
