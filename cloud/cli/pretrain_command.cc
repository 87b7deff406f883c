#include "cloud/cli/pretrain_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/data/text_data.h"
#include "common/model/block_model.h"
#include "common/text/corpus.h"
#include "common/text/tokenizer.h"
#include "common/data/dataset.h"
#include "common/train/feature_stats.h"
#include "common/base/file_util.h"
#include "common/train/trainer.h"
#include "common/base/units.h"
#include "nlohmann/json.hpp"

namespace bt {
namespace {

void SetThreads(int64_t threads) {
  int n = threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, n));
}

// A decoder on prose: the tokenizer trained on the corpus's training files, the model on their token sequences;
// written as an HF-style directory (config.json, model.safetensors, tokenizer.model, report.json), atomically.
absl::Status PretrainText(const CloudConfig& config, const std::string& out, const std::string& source,
                          const CancelToken* cancel) {
  const PretrainOptions& p = config.pretrain;
  const auto started = std::chrono::steady_clock::now();
  // Every part of the corpus is there, or the model is not the one configured (scripts/setup.sh installs the
  // default's packages and extracts the King James Bible into var/corpora/kjv).
  if (absl::Status each = EachGlobMatches(p.corpus, "pretrain.corpus"); !each.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", each.message(),
                                                   " (scripts/setup.sh installs and extracts the default corpus)"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandGlobs(p.corpus));
  if (files.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("pretrain.corpus matches ", files.size(),
                                                   " file(s); a train/held-out split needs at least 2"));
  }
  const CorpusSplit split = SplitByFile(files, p.heldout_share, static_cast<uint64_t>(p.seed));
  spdlog::info("pretrain: corpus {} files ({} training, {} held out); training the tokenizer ({} pieces)", files.size(),
               split.train.size(), split.heldout.size(), p.vocab_size);
  std::vector<std::string> lines;
  size_t bytes = 0;
  for (const std::string& f : split.train) {
    ASSIGN_OR_RETURN(std::string text, ReadCorpusFile(f));
    bytes += text.size();
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) lines.emplace_back(line);
    if (p.max_tokens > 0 && bytes > static_cast<size_t>(8 * p.max_tokens)) break;  // plenty for the vocabulary
  }
  TokenizerTraining training;
  training.vocab_size = p.vocab_size;
  ASSIGN_OR_RETURN(std::string tokenizer_bytes, TrainTokenizer(lines, training));
  ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromBytes(tokenizer_bytes, "the trained tokenizer"));
  lines.clear();
  ASSIGN_OR_RETURN(ImageDataset train, TokenSequences(split.train, *tokenizer, p.sequence, kAllSequences, "pretrain.corpus (training files)"));
  if (p.max_tokens > 0 && train.size() * (p.sequence + 1) > p.max_tokens) {
    train = train.Slice(0, std::max<int64_t>(1, p.max_tokens / (p.sequence + 1)));
  }
  ASSIGN_OR_RETURN(ImageDataset heldout, TokenSequences(split.heldout, *tokenizer, p.sequence, kAllSequences, "pretrain.corpus (held-out files)"));
  if (heldout.size() > 2000) heldout = heldout.Slice(0, 2000);

  LlamaConfig arch = config.model.decoder;
  arch.vocab_size = tokenizer->vocab_size();
  arch.max_position_embeddings = std::max(arch.max_position_embeddings, p.sequence);
  ASSIGN_OR_RETURN(auto model, CreateLlamaModel(arch, static_cast<uint64_t>(p.seed)));
  spdlog::info("pretrain: decoder {} parameters ({} layers, width {}, {} heads / {} key-value), vocabulary {}; {} "
               "sequences of {} tokens ({} tokens), {} epochs of batch {} on {} threads",
               model->ParameterCount(), arch.num_hidden_layers, arch.hidden_size, arch.num_attention_heads,
               arch.num_key_value_heads, arch.vocab_size, train.size(), p.sequence, train.size() * p.sequence, p.epochs,
               p.batch_size, torch::get_num_threads());
  ASSIGN_OR_RETURN(PretrainResult result, Pretrain(model.get(), train, p, cancel));
  if (result.cancelled) {
    return absl::CancelledError(absl::StrCat("pretraining cancelled after ", result.steps,
                                             " steps; nothing was written to '", out, "'"));
  }
  ASSIGN_OR_RETURN(EvalResult eval, Evaluate(model.get(), heldout, 64));
  const double tokens_per_second = result.images * static_cast<double>(p.sequence) / result.seconds;

  // Written beside the target, then renamed into place: a crash leaves the old model or none, never half of one.
  const std::string staging = absl::StrCat(out, ".partial");
  std::filesystem::remove_all(staging);
  std::filesystem::create_directories(staging);
  RETURN_IF_ERROR(WriteFileAtomically(staging + "/config.json", arch.ToConfigJson()));
  RETURN_IF_ERROR(model->Save(staging + "/model.safetensors"));
  RETURN_IF_ERROR(WriteFileAtomically(staging + "/tokenizer.model", tokenizer_bytes));
  nlohmann::ordered_json report;
  report["model"] = out;
  report["parameters"] = model->ParameterCount();
  report["corpus_files"] = files.size();
  report["train_sequences"] = train.size();
  report["sequence"] = p.sequence;
  report["epochs"] = p.epochs;
  report["batch_size"] = p.batch_size;
  report["seed"] = p.seed;
  report["threads"] = torch::get_num_threads();
  report["train_seconds"] = result.seconds;
  report["train_tokens_per_second"] = tokens_per_second;
  report["final_train_loss"] = result.final_loss;
  report["heldout_prose_next_token_accuracy"] = eval.accuracy();
  report["heldout_prose_tokens"] = eval.total;
  report["heldout_prose_loss"] = eval.mean_loss();
  report["heldout_prose_perplexity"] = eval.perplexity();
  RETURN_IF_ERROR(WriteFileAtomically(staging + "/report.json", report.dump(2) + "\n"));
  if (std::filesystem::exists(out)) std::filesystem::remove_all(out);
  std::filesystem::rename(staging, out);

  std::printf("pretrained %s\n", out.c_str());
  std::printf("  parameters       %lld (vocabulary %lld)\n", static_cast<long long>(model->ParameterCount()),
              static_cast<long long>(arch.vocab_size));
  std::printf("  training         %lld steps, %s, %.0f tokens/s, final loss %.3f\n", static_cast<long long>(result.steps),
              FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(result.seconds * 1000))).c_str(),
              tokens_per_second, result.final_loss);
  std::printf("  held-out prose   %.2f%% next-token accuracy, perplexity %.1f (%lld tokens)\n", 100.0 * eval.accuracy(),
              eval.perplexity(), static_cast<long long>(eval.total));
  std::printf("  in all           %s\n", FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::steady_clock::now() - started)).c_str());
  return absl::OkStatus();
}

}  // namespace

absl::Status RunPretrainCommand(const CloudConfig& config, const PretrainCommandOptions& options,
                                const CancelToken* cancel) {
  const std::string out = options.out_path.empty() ? config.ModelPath() : options.out_path;
  if (config.model.family == "llama") {
    if (std::filesystem::exists(out) && !options.force) {
      spdlog::info("pretrain: '{}' exists; not retraining (use --force to retrain)", out);
      return LoadModel(out).status();
    }
    SetThreads(config.pretrain.threads);
    return PretrainText(config, out, options.config_source, cancel);
  }
  if (std::filesystem::exists(out) && !options.force) {
    spdlog::info("pretrain: '{}' exists; not retraining (use --force to retrain)", out);
    // The source statistics edges compare their features against (written once, next to the model).
    ASSIGN_OR_RETURN(auto existing, LoadModel(out));
    existing->SetTrainingMode(false);
    return LoadOrComputeSourceStats(out, *existing, config.pretrain.dataset_dir).status();
  }
  SetThreads(config.pretrain.threads);
  const PretrainOptions& p = config.pretrain;
  ASSIGN_OR_RETURN(ImageDataset train, LoadFashionMnist(p.dataset_dir, "train"));
  ASSIGN_OR_RETURN(ImageDataset test, LoadFashionMnist(p.dataset_dir, "test"));
  ASSIGN_OR_RETURN(auto model, CreateVitModel(config.model.architecture, static_cast<uint64_t>(p.seed)));
  spdlog::info("pretrain: ViT {} parameters, {} blocks; {} training images, {} epochs of batch {} on {} threads",
               model->ParameterCount(), model->num_blocks(), train.size(), p.epochs, p.batch_size,
               torch::get_num_threads());

  ASSIGN_OR_RETURN(PretrainResult result, Pretrain(model.get(), train, p, cancel));
  if (result.cancelled) {
    return absl::CancelledError(absl::StrCat("pretraining cancelled after ", result.steps,
                                             " steps; nothing was written to '", out, "'"));
  }
  ASSIGN_OR_RETURN(EvalResult eval, Evaluate(model.get(), test));
  RETURN_IF_ERROR(model->Save(out));
  model->SetTrainingMode(false);
  RETURN_IF_ERROR(LoadOrComputeSourceStats(out, *model, p.dataset_dir).status());

  nlohmann::ordered_json report;
  report["model"] = out;
  report["parameters"] = model->ParameterCount();
  report["epochs"] = p.epochs;
  report["batch_size"] = p.batch_size;
  report["seed"] = p.seed;
  report["threads"] = torch::get_num_threads();
  report["train_seconds"] = result.seconds;
  report["train_images_per_second"] = result.images / result.seconds;
  report["final_train_loss"] = result.final_loss;
  report["test_accuracy"] = eval.accuracy();
  report["test_samples"] = eval.total;
  RETURN_IF_ERROR(WriteFileAtomically(out + ".report.json", report.dump(2) + "\n"));

  std::printf("pretrained %s\n", out.c_str());
  std::printf("  parameters       %lld\n", static_cast<long long>(model->ParameterCount()));
  std::printf("  training         %lld steps, %s, %.0f images/s\n", static_cast<long long>(result.steps),
              FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(result.seconds * 1000))).c_str(),
              result.images / result.seconds);
  std::printf("  clean test acc.  %.2f%% (%lld/%lld)\n", 100.0 * eval.accuracy(),
              static_cast<long long>(eval.correct), static_cast<long long>(eval.total));
  return absl::OkStatus();
}

}  // namespace bt
